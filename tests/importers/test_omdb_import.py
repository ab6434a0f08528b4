from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.importers import catalog
from app.importers.omdb import import_omdb
from app.models import Movie, MovieGenre
from tests.importers.datasets import OMDB_BAD_LINES, omdb_record, write_omdb


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_omdb(tmp_path / "omdb" / "titles.jsonl")


@pytest.fixture
def reviewed(session_factory: sessionmaker[Session]) -> None:
    """The movies of the catalog, as aclImdb and MovieLens left them."""
    with session_factory() as session:
        session.add_all(
            [
                Movie(
                    imdb_id="tt0133093",
                    title="Matrix",
                    year=1998,
                    genres=[MovieGenre(name="Action"), MovieGenre(name="Thriller")],
                ),
                Movie(imdb_id="tt0106179"),
                Movie(imdb_id="tt0114709", title="Toy Story", genres=[MovieGenre(name="Family")]),
                Movie(imdb_id="tt0000007"),
            ]
        )
        session.commit()


def _movies(session_factory: sessionmaker[Session]) -> dict[str, Movie]:
    with session_factory() as session:
        movies = session.scalars(select(Movie).options(selectinload(Movie.genres)))
        return {movie.imdb_id: movie for movie in movies}


@pytest.mark.usefixtures("reviewed")
def test_overwrites_titles_and_years_and_fills_credits(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_omdb(session_factory=session_factory, source=source, progress=False)

    assert (report.added, report.updated, report.skipped) == (0, 3, 0)
    assert report.ignored == 2  # the #DUPE# record, and a movie nobody reviewed
    movies = _movies(session_factory)
    matrix = movies["tt0133093"]
    assert (matrix.title, matrix.year, matrix.genre_names) == (
        "The Matrix",
        1999,
        ["Action", "Sci-Fi"],
    )
    assert matrix.director == "Lana Wachowski, Lilly Wachowski"
    assert matrix.actors == "Keanu Reeves, Laurence Fishburne"
    assert (matrix.runtime, matrix.rated) == ("136 min", "R")
    series = movies["tt0106179"]
    assert (series.title, series.year, series.rated) == ("The X-Files", 1993, "TV-14")
    assert series.director is None and series.runtime is None  # "N/A" is not a value
    toy_story = movies["tt0114709"]
    assert toy_story.genre_names == ["Family"]  # OMDb's "N/A" genres leave them be
    assert (toy_story.year, toy_story.runtime) == (1995, "81 min")
    assert movies["tt0000007"].title is None  # "#DUPE#" is not a title
    assert "tt9999999" not in movies


@pytest.mark.usefixtures("reviewed")
def test_bad_lines_are_reported_and_the_rest_imported(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_omdb(session_factory=session_factory, source=source, progress=False)

    assert {problem.location for problem in report.problems} == {
        f"{source}:{line}" for line in OMDB_BAD_LINES
    }
    assert report.bad == len(OMDB_BAD_LINES)
    reasons = {int(p.location.rsplit(":", 1)[1]): p.reason for p in report.problems}
    assert "not a JSON line" in reasons[2]
    assert reasons[3] == "no imdbID"
    assert "not an IMDb title id" in reasons[9]
    assert "not an object" in reasons[10]
    assert _movies(session_factory)["tt0114709"].year == 1995  # after bad lines 2 and 3


@pytest.mark.usefixtures("reviewed")
def test_a_second_run_changes_nothing(session_factory: sessionmaker[Session], source: Path) -> None:
    import_omdb(session_factory=session_factory, source=source, progress=False)

    again = import_omdb(session_factory=session_factory, source=source, progress=False)

    assert (again.added, again.updated, again.skipped) == (0, 0, 3)


def test_creates_movies_when_asked_to(session_factory: sessionmaker[Session], source: Path) -> None:
    report = import_omdb(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    assert (report.added, report.updated, report.skipped) == (4, 0, 0)
    assert _movies(session_factory)["tt9999999"].genre_names == ["Drama"]


def test_credits_too_long_for_their_column_are_cut_between_names(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    directors = ", ".join(f"Director Number {n:03d}" for n in range(40))  # 40 * 21 characters
    line = f'{{"imdbID": "tt0000001", "Title": "Anthology", "Director": "{directors}"}}'
    source = write_omdb(tmp_path / "titles.jsonl", [line])

    report = import_omdb(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )
    again = import_omdb(session_factory=session_factory, source=source, progress=False)

    director = _movies(session_factory)["tt0000001"].director
    assert director is not None and len(director) <= 300
    assert director.endswith("Director Number 013")
    assert [problem.location for problem in report.problems] == [f"{source}:1"]
    assert (again.updated, again.skipped) == (0, 1)


def test_an_unreadable_file_is_reported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    report = import_omdb(
        session_factory=session_factory, source=tmp_path / "absent.jsonl", progress=False
    )

    [problem] = report.problems
    assert problem.location == str(tmp_path / "absent.jsonl")
    assert "cannot read" in problem.reason


def test_a_deeply_nested_line_is_reported_and_the_rest_imported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    source = write_omdb(
        tmp_path / "titles.jsonl",
        [omdb_record("tt0000001", "First"), nested, omdb_record("tt0000002", "Second")],
    )

    report = import_omdb(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    assert [(p.location, p.reason) for p in report.problems] == [
        (f"{source}:2", "JSON nested too deeply to read")
    ]
    assert {m.title for m in _movies(session_factory).values()} == {"First", "Second"}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("Title", "Nul\u0000Title", "title contains a NUL character"),
        ("Title", "Half \ud800 a pair", "title contains a lone surrogate"),
        ("Director", "Nul\u0000", "director contains a NUL character"),
        ("Genre", "Drama, Nul\u0000", "genre contains a NUL character"),
    ],
)
def test_text_the_database_cannot_store_costs_only_its_record(
    session_factory: sessionmaker[Session], tmp_path: Path, field: str, value: str, reason: str
) -> None:
    bad = json.loads(omdb_record("tt0000002", "Bad"))
    bad[field] = value
    source = write_omdb(
        tmp_path / "titles.jsonl",
        [omdb_record("tt0000001", "First"), json.dumps(bad), omdb_record("tt0000003", "Third")],
    )

    report = import_omdb(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    [problem] = report.problems
    assert problem.location == f"{source}:2" and reason in problem.reason
    assert {m.title for m in _movies(session_factory).values()} == {"First", "Third"}


def test_a_batch_the_database_refuses_is_retried_record_by_record(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the importer's own check, as any record the database refuses would be.
    monkeypatch.setattr(catalog, "unstorable", lambda text: None)
    lines = [omdb_record(f"tt000000{i}", f"Movie {i}") for i in range(1, 6)]
    lines[2] = omdb_record("tt0000003", "Half \ud800 a pair")
    source = write_omdb(tmp_path / "titles.jsonl", lines)

    report = import_omdb(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    [problem] = report.problems
    assert problem.location == f"{source}:3" and "the database refused it" in problem.reason
    assert (report.added, report.bad) == (4, 1)
    titles = {m.title for m in _movies(session_factory).values()}
    assert titles == {"Movie 1", "Movie 2", "Movie 4", "Movie 5"}
