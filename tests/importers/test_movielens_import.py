from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.importers.movielens import import_movielens, split_title
from app.models import Movie, MovieGenre
from tests.importers.datasets import MOVIELENS_BAD_LINES, write_movielens, zip_movielens

MATRIX, TOY_STORY, BABYLON_5, LOST_CHILDREN = "tt0133093", "tt0114709", "tt0105946", "tt0112682"


@pytest.fixture(params=["directory", "zip"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    directory = write_movielens(tmp_path / "data")
    if request.param == "directory":
        return directory
    return zip_movielens(directory, tmp_path / "ml-latest-small.zip")


def _movies(session_factory: sessionmaker[Session]) -> dict[str, Movie]:
    with session_factory() as session:
        movies = session.scalars(select(Movie).options(selectinload(Movie.genres)))
        return {movie.imdb_id: movie for movie in movies}


def _add(session_factory: sessionmaker[Session], *movies: Movie) -> None:
    with session_factory() as session:
        session.add_all(movies)
        session.commit()


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("Matrix, The (1999)", ("The Matrix", 1999)),
        ("Avventura, L' (Adventure, The) (1960)", ("L'Avventura (The Adventure)", 1960)),
        ("Hate (Haine, La) (1995)", ("Hate (La Haine)", 1995)),
        ("Monsters, Inc. (2001)", ("Monsters, Inc.", 2001)),
        ("(500) Days of Summer (2009)", ("(500) Days of Summer", 2009)),
        ("Death Note: Desu nôto (2006–2007)", ("Death Note: Desu nôto", 2006)),
        ("Babylon 5", ("Babylon 5", None)),
    ],
)
def test_split_title(published: str, expected: tuple[str, int | None]) -> None:
    assert split_title(published) == expected


def test_fills_movies_that_have_reviews_and_ignores_the_rest(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    _add(
        session_factory,
        Movie(imdb_id=MATRIX),
        Movie(imdb_id=TOY_STORY, title="Toy Story (OMDb)", year=None),
    )

    report = import_movielens(session_factory=session_factory, source=source, progress=False)

    assert (report.added, report.updated, report.skipped) == (0, 2, 0)
    assert report.ignored == 2  # Babylon 5 and The City of Lost Children have no reviews here
    movies = _movies(session_factory)
    assert movies.keys() == {MATRIX, TOY_STORY}
    matrix = movies[MATRIX]
    assert (matrix.title, matrix.year, matrix.genre_names) == (
        "The Matrix",
        1999,
        ["Action", "Sci-Fi"],
    )
    toy_story = movies[TOY_STORY]
    assert toy_story.title == "Toy Story (OMDb)"  # filled only where empty: OMDb's title stays
    assert toy_story.year == 1995
    # In IMDb's genre names; IMAX is a format, not a genre.
    assert toy_story.genre_names == ["Adventure", "Animation", "Comedy", "Family"]


def test_bad_lines_are_reported_with_file_and_line(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_movielens(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    prefix = f"{source}/" if source.is_dir() else f"{source}:ml-latest-small/"
    assert {problem.location for problem in report.problems} == {
        prefix + line for line in MOVIELENS_BAD_LINES
    }
    assert report.bad == len(MOVIELENS_BAD_LINES)
    reasons = {problem.location.removeprefix(prefix): problem.reason for problem in report.problems}
    assert "4 fields where the header has 3" in reasons["movies.csv:4"]
    assert "not a number" in reasons["movies.csv:5"]
    assert "no IMDb id in links.csv" in reasons["movies.csv:6"]
    assert "not a number" in reasons["links.csv:6"]


def test_creates_movies_when_asked_to(session_factory: sessionmaker[Session], source: Path) -> None:
    report = import_movielens(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    assert (report.added, report.updated, report.skipped) == (4, 0, 0)
    movies = _movies(session_factory)
    assert movies.keys() == {MATRIX, TOY_STORY, BABYLON_5, LOST_CHILDREN}  # padded to 7 digits
    assert (movies[BABYLON_5].title, movies[BABYLON_5].year) == ("Babylon 5", None)
    assert movies[BABYLON_5].genres == []  # "(no genres listed)"
    assert movies[LOST_CHILDREN].title == "The City of Lost Children (La Cité des enfants perdus)"


@pytest.mark.parametrize("only_existing", [True, False])
def test_a_second_run_changes_nothing(
    session_factory: sessionmaker[Session], source: Path, only_existing: bool
) -> None:
    _add(session_factory, Movie(imdb_id=MATRIX), Movie(imdb_id=TOY_STORY))
    import_movielens(
        session_factory=session_factory, source=source, only_existing=only_existing, progress=False
    )

    again = import_movielens(
        session_factory=session_factory, source=source, only_existing=only_existing, progress=False
    )

    expected_skipped = 2 if only_existing else 4
    assert (again.added, again.updated, again.skipped) == (0, 0, expected_skipped)
    with session_factory() as session:
        assert len(session.scalars(select(MovieGenre)).all()) == (6 if only_existing else 8)


def test_a_folder_without_links_is_reported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = write_movielens(tmp_path)
    (directory / "links.csv").unlink()

    report = import_movielens(session_factory=session_factory, source=directory, progress=False)

    assert report.added == report.updated == 0
    [problem] = report.problems
    assert problem.location == str(directory)
    assert "links.csv" in problem.reason


@pytest.mark.parametrize("packed", [False, True])
def test_a_byte_that_is_not_utf8_costs_only_its_line(
    session_factory: sessionmaker[Session], tmp_path: Path, packed: bool
) -> None:
    directory = write_movielens(tmp_path / "data")
    movies_csv = directory / "movies.csv"
    lines = movies_csv.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"Matrix", b"Ma\xfftrix")  # line 2: one byte of Latin-1
    movies_csv.write_bytes(b"\n".join(lines))
    source = zip_movielens(directory, tmp_path / "ml.zip") if packed else directory

    report = import_movielens(
        session_factory=session_factory, source=source, only_existing=False, progress=False
    )

    prefix = f"{source}:ml-latest-small/" if packed else f"{source}/"
    reasons = {p.location.removeprefix(prefix): p.reason for p in report.problems}
    assert "not UTF-8" in reasons["movies.csv:2"] and "0xff" in reasons["movies.csv:2"]
    assert not report.failed
    # Every line after it is still read: the same movies as before, less The Matrix.
    assert _movies(session_factory).keys() == {TOY_STORY, BABYLON_5, LOST_CHILDREN}


def test_a_missing_file_fails_the_import(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = write_movielens(tmp_path)
    (directory / "movies.csv").unlink()

    report = import_movielens(session_factory=session_factory, source=directory, progress=False)

    assert report.failed
    assert "movies.csv" in report.failures[0].reason


def test_a_nul_in_a_title_costs_only_its_line(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = write_movielens(tmp_path / "data")
    movies_csv = directory / "movies.csv"
    movies_csv.write_text(movies_csv.read_text().replace("Toy Story", "Toy\x00Story"))

    report = import_movielens(
        session_factory=session_factory, source=directory, only_existing=False, progress=False
    )

    reasons = {p.location: p.reason for p in report.problems}
    assert "title contains a NUL character" in reasons[f"{movies_csv}:3"]
    assert _movies(session_factory).keys() == {MATRIX, BABYLON_5, LOST_CHILDREN}
