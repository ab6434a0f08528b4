"""Per-movie figures maintained on write (the movie_stats table), so pages never aggregate.

Every code path that writes reviews or scores calls `refresh_movies` with the movies it
touched, in its own transaction and before it commits: the figures change in the same
transaction as the rows they count, or not at all. The refresh recounts only those movies
(an indexed read of their own reviews), after locking their rows on PostgreSQL so that
concurrent writers of one movie refresh one after another and the last one counts what all
of them wrote. `rebuild` recounts every movie; promotion runs it as a check that costs a few
seconds on 50,000 reviews.

Rows: model_version "" per movie with reviews (its review count), and one per movie and
model version with at least one score of that version (review count, scored, positive, and a
histogram of P(positive) in tenths).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    SQLColumnExpression,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session

from app.models import HISTOGRAM_BINS, Movie, MovieStats, Review, ReviewScore

NO_VERSION = ""  # model_version of the rows that count reviews under no model
_EDGES = [k / HISTOGRAM_BINS for k in range(1, HISTOGRAM_BINS)]
_HISTOGRAM_COLUMNS = [f"hist_{i}" for i in range(HISTOGRAM_BINS)]
_COLUMNS = ["movie_id", "model_version", "n_reviews", "n_scored", "n_positive", *_HISTOGRAM_COLUMNS]
_CHUNK = 500  # movie ids per statement, well under any database's parameter limit


def bin_of(p_positive: float) -> int:
    """The histogram bin of a score: 0 for [0, 0.1), ..., 9 for [0.9, 1]."""
    return bisect_right(_EDGES, p_positive)


def _bin_expression(p_positive: SQLColumnExpression[float]) -> ColumnElement[int]:
    """`bin_of` in SQL."""
    whens = [(p_positive < edge, index) for index, edge in enumerate(_EDGES)]
    return case(*whens, else_=HISTOGRAM_BINS - 1)


def refresh_movies(session: Session, movie_ids: Iterable[int]) -> None:
    """Recount the figures of `movie_ids` under every model version, in the caller's
    transaction; call it after writing reviews or scores of these movies, before commit."""
    ids = sorted(set(movie_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        _lock_movies(session, chunk)
        session.execute(delete(MovieStats).where(MovieStats.movie_id.in_(chunk)))
        _insert_counts(session, Review.movie_id.in_(chunk))


def refresh_reviews(session: Session, review_ids: Iterable[int]) -> None:
    """`refresh_movies` for the movies of `review_ids`: what the scoring code calls after
    writing (or replacing) a batch of scores, before it commits."""
    ids = sorted(set(review_ids))
    movie_ids: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        movie_ids.update(session.scalars(select(Review.movie_id).where(Review.id.in_(chunk))))
    refresh_movies(session, movie_ids)


def rebuild(session: Session) -> None:
    """Recount every movie's figures from scratch, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        # Waits for refreshes in flight and holds new ones back until this commits, so
        # that none of them is overwritten by counts read before it committed.
        session.execute(text("LOCK TABLE movie_stats IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(delete(MovieStats))
    _insert_counts(session, None)


def full_recount(session: Session) -> list[tuple[Any, ...]]:
    """What the table should hold, counted from the reviews and scores, sorted (for checks)."""
    rows = [
        *session.execute(_review_counts(None)).all(),
        *session.execute(_score_counts(None)).all(),
    ]
    return sorted(tuple(row) for row in rows)


def stored(session: Session) -> list[tuple[Any, ...]]:
    """What the table holds, in `full_recount`'s shape."""
    columns = [getattr(MovieStats, name) for name in _COLUMNS]
    return sorted(tuple(row) for row in session.execute(select(*columns)).all())


def _lock_movies(session: Session, movie_ids: Sequence[int]) -> None:
    # FOR NO KEY UPDATE: does not wait for writers of reviews of these movies (they hold
    # KEY SHARE through the foreign key), only for other refreshes of the same movies.
    # In id order, so that two refreshes of overlapping movies cannot deadlock. SQLite
    # writers are serial anyway, and SQLAlchemy leaves the clause out there.
    lock = (
        select(Movie.id)
        .where(Movie.id.in_(movie_ids))
        .order_by(Movie.id)
        .with_for_update(key_share=True)
    )
    session.execute(lock).all()


def _insert_counts(session: Session, movies: ColumnElement[bool] | None) -> None:
    targets = [getattr(MovieStats.__table__.c, name) for name in _COLUMNS]
    for counts in (_review_counts(movies), _score_counts(movies)):
        session.execute(insert(MovieStats).from_select(targets, counts))


def _review_counts(movies: ColumnElement[bool] | None) -> Select[*tuple[Any, ...]]:
    """Rows of model_version "": each movie's review count."""
    zero = literal(0, Integer)
    stmt = select(
        Review.movie_id,
        literal(NO_VERSION),
        func.count(Review.id),
        zero,
        zero,
        *[zero.label(name) for name in _HISTOGRAM_COLUMNS],
    ).group_by(Review.movie_id)
    return stmt if movies is None else stmt.where(movies)


def _score_counts(movies: ColumnElement[bool] | None) -> Select[*tuple[Any, ...]]:
    """Rows per movie and model version with scores: their counts and histogram."""
    per_movie = select(Review.movie_id, func.count(Review.id).label("n"))
    if movies is not None:
        per_movie = per_movie.where(movies)
    reviews_of = per_movie.group_by(Review.movie_id).subquery()
    bins = _bin_expression(ReviewScore.p_positive)
    return (
        select(
            Review.movie_id,
            ReviewScore.model_version,
            func.max(reviews_of.c.n),
            func.count(ReviewScore.id),
            func.sum(ReviewScore.predicted_label),
            *[
                func.sum(case((bins == index, 1), else_=0)).label(name)
                for index, name in enumerate(_HISTOGRAM_COLUMNS)
            ],
        )
        .join(ReviewScore, ReviewScore.review_id == Review.id)
        .join(reviews_of, reviews_of.c.movie_id == Review.movie_id)
        .group_by(Review.movie_id, ReviewScore.model_version)
    )
