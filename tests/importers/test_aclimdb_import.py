from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import stats
from app.importers import aclimdb
from app.importers.aclimdb import AUTHOR_NAME, SOURCE, import_reviews
from app.models import Movie, Review
from tests.importers.datasets import (
    ACLIMDB_BAD,
    ACLIMDB_GOOD,
    ACLIMDB_MOVIES,
    tar_aclimdb,
    write_aclimdb,
)

GOOD_REFS = {name.removesuffix(".txt") for name in ACLIMDB_GOOD}


@pytest.fixture(params=["directory", "archive"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    directory = write_aclimdb(tmp_path / "data")
    if request.param == "directory":
        return directory
    return tar_aclimdb(directory, tmp_path / "aclImdb_v1.tar.gz")


def _refs(session_factory: sessionmaker[Session]) -> set[str | None]:
    with session_factory() as session:
        return set(session.scalars(select(Review.source_ref)))


def test_imports_the_good_reviews_around_the_bad_ones(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_reviews(session_factory=session_factory, source=source, progress=False)

    assert (report.added, report.skipped, report.updated) == (len(ACLIMDB_GOOD), 0, 0)
    assert _refs(session_factory) == GOOD_REFS
    assert report.bad == len(ACLIMDB_BAD)
    for member, (_content, reason) in ACLIMDB_BAD.items():
        [problem] = [p for p in report.problems if p.location.endswith(member)]
        assert reason in problem.reason
    assert any("3 new movies" in note for note in report.notes)


def test_problems_name_the_file_or_archive_member(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_reviews(session_factory=session_factory, source=source, progress=False)

    if source.is_dir():
        expected = {(source / member).as_posix() for member in ACLIMDB_BAD}
    else:
        expected = {f"{source}:aclImdb/{member}" for member in ACLIMDB_BAD}
    assert {problem.location for problem in report.problems} == expected


def test_reviews_are_attributed_to_the_dataset_not_to_people(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    import_reviews(session_factory=session_factory, source=source, progress=False)

    with session_factory() as session:
        review = session.scalars(select(Review).where(Review.source_ref == "train/pos/0_9")).one()
        assert review.source == SOURCE
        assert review.author_name == AUTHOR_NAME
        assert review.user_id is None
        assert review.body == ACLIMDB_GOOD["train/pos/0_9.txt"]  # <br /> kept as published
        assert (review.gold_label, review.stars) == (1, 9)
        assert review.movie.imdb_id == "tt0000001"
        assert review.created_at is not None
        negative = session.scalars(select(Review).where(Review.source_ref == "test/neg/0_1")).one()
        assert (negative.gold_label, negative.stars) == (0, 1)
        movies = session.scalars(select(Movie)).all()
        assert {movie.imdb_id for movie in movies} == ACLIMDB_MOVIES
        assert all(movie.title is None for movie in movies)


def test_a_second_run_adds_nothing(session_factory: sessionmaker[Session], source: Path) -> None:
    import_reviews(session_factory=session_factory, source=source, progress=False)

    again = import_reviews(session_factory=session_factory, source=source, progress=False)

    assert (again.added, again.skipped, again.updated) == (0, len(ACLIMDB_GOOD), 0)
    assert not again.notes  # no new movies either
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Review)) == len(ACLIMDB_GOOD)
        assert session.scalar(select(func.count()).select_from(Movie)) == len(ACLIMDB_MOVIES)


def test_batches_share_the_movies_they_create(
    session_factory: sessionmaker[Session], source: Path
) -> None:
    report = import_reviews(
        session_factory=session_factory, source=source, progress=False, batch_size=2
    )

    assert report.added == len(ACLIMDB_GOOD)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Movie)) == len(ACLIMDB_MOVIES)


def test_reviews_of_a_known_movie_join_it(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session:
        session.add(Movie(imdb_id="tt0000003", title="Known Already", year=2004))
        session.commit()

    report = import_reviews(
        session_factory=session_factory, source=write_aclimdb(tmp_path), progress=False
    )

    with session_factory() as session:
        known = session.scalars(select(Movie).where(Movie.imdb_id == "tt0000003")).one()
        assert (known.title, known.year) == ("Known Already", 2004)
        assert {review.source_ref for review in known.reviews} == {"test/pos/0_8", "test/neg/0_1"}
    assert any("2 new movies" in note for note in report.notes)


def test_only_the_splits_asked_for(session_factory: sessionmaker[Session], source: Path) -> None:
    report = import_reviews(
        session_factory=session_factory, source=source, splits=("test",), progress=False
    )

    assert report.added == 2
    assert _refs(session_factory) == {"test/pos/0_8", "test/neg/0_1"}


def _truncated(tmp_path: Path) -> tuple[Path, Path]:
    """A whole archive, and a copy of it cut 200 bytes short of the end."""
    archive = tar_aclimdb(write_aclimdb(tmp_path / "data"), tmp_path / "full.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress(archive.read_bytes()))[:-200])
    return archive, truncated


def test_a_truncated_archive_fails_and_keeps_the_reviews_before_the_damage(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    archive, truncated = _truncated(tmp_path)

    report = import_reviews(session_factory=session_factory, source=truncated, progress=False)

    assert report.failed
    [failure] = report.failures
    assert failure.location == str(truncated) and "truncated or damaged archive" in failure.reason
    kept = _refs(session_factory)
    assert 0 < len(kept) < len(GOOD_REFS) and kept <= GOOD_REFS
    again = import_reviews(session_factory=session_factory, source=archive, progress=False)
    assert not again.failed
    assert (again.added, again.skipped) == (len(GOOD_REFS) - len(kept), len(kept))
    assert _refs(session_factory) == GOOD_REFS


def test_an_archive_cut_between_two_members_is_still_truncated(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # Compressed so that the bytes kept decompress to whole members and nothing more: tarfile
    # alone reads that as an archive that ended there.
    archive = tar_aclimdb(write_aclimdb(tmp_path / "data"), tmp_path / "full.tar.gz")
    tar_bytes = gzip.decompress(archive.read_bytes())
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
    boundary = members[len(members) // 2].offset
    compressor = zlib.compressobj(wbits=31)  # gzip framing
    kept = compressor.compress(tar_bytes[:boundary]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(kept)

    report = import_reviews(session_factory=session_factory, source=cut, progress=False)

    assert report.failed
    [failure] = report.failures
    assert "truncated or damaged archive" in failure.reason


def test_a_folder_among_the_review_files_is_skipped_and_reported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    root = write_aclimdb(tmp_path / "data")
    (root / "train" / "pos" / "extra").mkdir()
    (root / "train" / "pos" / "extra" / "3_9.txt").write_text("Hidden away.")
    (root / "test" / "neg" / "7_2.txt").mkdir()  # a folder with a review file's name

    report = import_reviews(session_factory=session_factory, source=root, progress=False)

    assert not report.failed
    assert _refs(session_factory) == GOOD_REFS
    skipped = {p.location: p.reason for p in report.problems if "not a review file" in p.reason}
    assert set(skipped) == {
        (root / "train" / "pos" / "extra").as_posix(),
        (root / "test" / "neg" / "7_2.txt").as_posix(),
    }


def test_texts_longer_than_the_site_allows_are_cut_and_reported(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    root = write_aclimdb(tmp_path / "data")
    long_text = "word " * 5000  # 25,000 characters, as one real review of 2 MB would be
    (root / "train" / "pos" / "1_7.txt").write_text(long_text)

    report = import_reviews(
        session_factory=session_factory, source=root, progress=False, max_chars=1000
    )

    with session_factory() as session:
        body = session.scalars(select(Review.body).where(Review.source_ref == "train/pos/1_7"))
        stored = body.one()
    assert len(stored) <= 1000 and long_text.startswith(stored) and stored.endswith("word")
    [warning] = [p for p in report.problems if p.location.endswith("train/pos/1_7.txt")]
    assert "cut to" in warning.reason and "24,999" in warning.reason  # stripped
    assert report.added == len(GOOD_REFS)


def test_a_review_the_database_refuses_costs_only_itself(
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite stores NUL characters; PostgreSQL refuses them")
    # Past the importer's own check, as any record the database refuses would be.
    monkeypatch.setattr(aclimdb, "unstorable", lambda text: None)
    root = write_aclimdb(tmp_path / "data")
    (root / "test" / "pos" / "2_7.txt").unlink()  # the NUL review of the bad set
    (root / "train" / "pos" / "3_8.txt").write_bytes(b"Half a review\x00 and the rest")
    (root / "train" / "urls_pos.txt").write_text(
        "".join(f"http://www.imdb.com/title/tt000000{i}/\n" for i in (1, 2, 1, 2))
    )

    report = import_reviews(
        session_factory=session_factory, source=root, progress=False, batch_size=100
    )

    assert _refs(session_factory) == GOOD_REFS
    assert report.added == len(GOOD_REFS)
    [refused] = [p for p in report.problems if p.location.endswith("train/pos/3_8.txt")]
    assert "the database refused it" in refused.reason
    with session_factory() as session:
        assert stats.stored(session) == stats.full_recount(session)
