"""The importers over the real shared data, where this machine has it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.importers.aclimdb import import_reviews
from app.importers.movielens import import_movielens
from app.importers.omdb import import_omdb
from app.models import Movie, Review

DATA_DIR = Settings(_env_file=None).data_dir
FILES = ["aclImdb_v1.tar.gz", "ml-latest-small/movies.csv", "omdb/titles.jsonl"]
MISSING = [name for name in FILES if not (DATA_DIR / name).exists()]

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"no {MISSING} in {DATA_DIR}")


def test_the_test_split_then_titles_from_movielens_and_omdb(
    session_factory: sessionmaker[Session],
) -> None:
    reviews = import_reviews(
        session_factory=session_factory,
        source=DATA_DIR / "aclImdb_v1.tar.gz",
        splits=("test",),
        progress=False,
    )
    again = import_reviews(
        session_factory=session_factory,
        source=DATA_DIR / "aclImdb_v1.tar.gz",
        splits=("test",),
        progress=False,
    )
    details = import_movielens(
        session_factory=session_factory, source=DATA_DIR / "ml-latest-small", progress=False
    )
    credits = import_omdb(
        session_factory=session_factory, source=DATA_DIR / "omdb" / "titles.jsonl", progress=False
    )

    assert (reviews.added, reviews.bad) == (25_000, 0)
    assert (again.added, again.skipped) == (0, 25_000)
    assert details.bad == credits.bad == 0
    assert details.added == credits.added == 0  # only movies with reviews are kept
    with session_factory() as session:
        labels = session.execute(
            select(Review.gold_label, func.count()).group_by(Review.gold_label)
        ).all()
        assert sorted(labels) == [(0, 12_500), (1, 12_500)]
        movies = session.scalar(select(func.count()).select_from(Movie))
        titled = session.scalar(select(func.count(Movie.title)))
        titled_reviews = session.scalar(
            select(func.count()).select_from(Review).join(Movie).where(Movie.title.is_not(None))
        )
    # The figures of the copy described in the data's README; a change means the joins moved.
    assert movies == 3_581
    assert titled == 1_385  # OMDb and MovieLens know the train split's movies better
    assert titled_reviews == 14_634
