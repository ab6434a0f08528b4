from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.importers import aclimdb, bundle, movielens, sources
from app.importers.bundle import import_all
from app.models import Movie
from tests.importers.datasets import (
    OMDB_LINES,
    tar_aclimdb,
    write_aclimdb,
    write_movielens,
    write_omdb,
    zip_movielens,
)

# A title for one of the movies reviewed in the tiny aclImdb.
TITLE_RECORD = '{"imdbID": "tt0000001", "Title": "The First", "Year": "2001", "Genre": "Drama"}'


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    tar_aclimdb(write_aclimdb(tmp_path / "unpacked"), data_dir / "aclImdb_v1.tar.gz")
    write_movielens(data_dir)
    write_omdb(data_dir / "omdb" / "titles.jsonl", [TITLE_RECORD, *OMDB_LINES])
    return data_dir


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test's downloads instead of reaching the network; lists the URLs asked for."""
    asked: list[str] = []

    def refuse(location: str | Path, *, cache_dir: Path, progress: bool = True) -> Path:
        asked.append(str(location))
        raise sources.SourceError(f"could not download {location}: offline")

    monkeypatch.setattr(sources, "resolve", refuse)
    return asked


def test_imports_reviews_then_movie_details(
    session_factory: sessionmaker[Session], data_dir: Path, tmp_path: Path, no_downloads: list[str]
) -> None:
    reports = import_all(
        session_factory=session_factory, data_dir=data_dir, cache_dir=tmp_path, progress=False
    )

    assert [name for name, _report in reports] == ["aclImdb", "MovieLens", "OMDb"]
    assert no_downloads == []
    reviews, details, credits = (report for _name, report in reports)
    assert reviews.added == 5
    assert details.ignored > 0  # none of MovieLens' movies are reviewed in the tiny aclImdb
    assert credits.updated == 1
    with session_factory() as session:
        first = session.scalars(select(Movie).where(Movie.imdb_id == "tt0000001")).one()
        assert (first.title, first.year, first.genre_names) == ("The First", 2001, ["Drama"])


def test_without_omdb_data_says_so(
    session_factory: sessionmaker[Session], data_dir: Path, tmp_path: Path, no_downloads: list[str]
) -> None:
    (data_dir / bundle.OMDB_FILE).unlink()

    reports = dict(
        import_all(
            session_factory=session_factory, data_dir=data_dir, cache_dir=tmp_path, progress=False
        )
    )

    assert reports["aclImdb"].added == 5
    assert reports["OMDb"].added == reports["OMDb"].updated == 0
    assert "no public bulk download" in reports["OMDb"].summary()


def test_downloads_what_the_data_dir_lacks(
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched = {
        aclimdb.OFFICIAL_URL: tar_aclimdb(write_aclimdb(tmp_path / "a"), tmp_path / "a.tar.gz"),
        movielens.OFFICIAL_URL: zip_movielens(write_movielens(tmp_path / "m"), tmp_path / "m.zip"),
    }
    calls: list[tuple[str, Path]] = []

    def from_cache(location: str | Path, *, cache_dir: Path, progress: bool = True) -> Path:
        calls.append((str(location), cache_dir))
        return fetched[str(location)]

    monkeypatch.setattr(sources, "resolve", from_cache)
    cache_dir = tmp_path / "cache"

    reports = dict(
        import_all(
            session_factory=session_factory,
            data_dir=tmp_path / "empty",
            cache_dir=cache_dir,
            progress=False,
        )
    )

    assert calls == [(aclimdb.OFFICIAL_URL, cache_dir), (movielens.OFFICIAL_URL, cache_dir)]
    assert reports["aclImdb"].added == 5
    assert reports["MovieLens"].bad == 4  # it did read the zip


def test_a_failed_download_is_reported_and_the_rest_goes_on(
    session_factory: sessionmaker[Session], data_dir: Path, tmp_path: Path, no_downloads: list[str]
) -> None:
    (data_dir / "aclImdb_v1.tar.gz").unlink()

    reports = dict(
        import_all(
            session_factory=session_factory, data_dir=data_dir, cache_dir=tmp_path, progress=False
        )
    )

    assert no_downloads == [aclimdb.OFFICIAL_URL]
    [problem] = reports["aclImdb"].problems
    assert problem.location == aclimdb.OFFICIAL_URL
    assert "offline" in problem.reason
    assert "not imported" in reports["aclImdb"].summary()
    assert reports["MovieLens"].bad == 4
