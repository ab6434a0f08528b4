"""The catalog: movies with their aggregate sentiment, search, filters and highlights."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, Subquery, cast, func, select
from sqlalchemy.orm import Session, selectinload

from app.accuracy import Accuracy, accuracy
from app.models import Movie, MovieGenre, Review, ReviewScore, SentenceScore
from app.schemas import CatalogSort

HISTOGRAM_BINS = 10
HIGHLIGHTS_PER_SIDE = 3
MIN_SCORED_FOR_SHARE = 10
"""A movie that is not fully scored shows its positive share only once this many of its
reviews are scored: a share of 1 or 2 reviews says nothing about the movie."""


@dataclass(frozen=True)
class Sentiment:
    """A movie's figures under one model version."""

    n_reviews: int
    n_scored: int
    n_positive: int

    @property
    def n_negative(self) -> int:
        return self.n_scored - self.n_positive

    @property
    def complete(self) -> bool:
        """Every review of the movie is scored."""
        return self.n_scored >= self.n_reviews

    @property
    def percent_positive(self) -> float | None:
        """The share of positive reviews; None until enough are scored to say."""
        if not self.n_scored or (not self.complete and self.n_scored < MIN_SCORED_FOR_SHARE):
            return None
        return 100.0 * self.n_positive / self.n_scored


@dataclass(frozen=True)
class MovieRow:
    movie: Movie
    sentiment: Sentiment


@dataclass(frozen=True)
class CatalogPage:
    rows: list[MovieRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class HighlightQuote:
    review_id: int
    text: str
    p_positive: float
    author: str
    created_at: datetime
    imported: bool  # from a dataset: created_at is when it was imported, not written


@dataclass(frozen=True)
class MovieOverview:
    movie: Movie
    sentiment: Sentiment
    histogram: list[int]
    version: str | None = None  # the model version whose scores these are
    accuracy: Accuracy = field(default_factory=lambda: Accuracy(0, 0))
    positive: list[HighlightQuote] = field(default_factory=list)
    negative: list[HighlightQuote] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def movie_counts(*, version: str | None, movie_id: int | None = None) -> Subquery:
    """Per movie with reviews: `n_reviews`, and `n_scored` / `n_positive` under `version`.
    The one place these counts come from (the catalog, the summaries, the scoring order)."""
    stmt = (
        select(
            Review.movie_id.label("movie_id"),
            func.count(Review.id).label("n_reviews"),
            func.count(ReviewScore.id).label("n_scored"),
            func.coalesce(func.sum(ReviewScore.predicted_label), 0).label("n_positive"),
        )
        .outerjoin(
            ReviewScore,
            (ReviewScore.review_id == Review.id) & (ReviewScore.model_version == (version or "")),
        )
        .group_by(Review.movie_id)
    )
    if movie_id is not None:
        stmt = stmt.where(Review.movie_id == movie_id)
    return stmt.subquery("movie_counts")


def _aggregate_query(counts: Subquery) -> Select[Movie, int, int, int]:
    """Movies with reviews, and their review / scored / positive counts."""
    return select(Movie, counts.c.n_reviews, counts.c.n_scored, counts.c.n_positive).join(
        counts, counts.c.movie_id == Movie.id
    )


def search_catalog(
    *,
    session: Session,
    version: str | None,
    query: str = "",
    genre: str = "",
    sort: CatalogSort = CatalogSort.most_reviewed,
    page: int = 1,
    page_size: int = 24,
) -> CatalogPage:
    """One page of the movies that have reviews, filtered, sorted and with their figures."""
    filters: list[ColumnElement[bool]] = []
    query = query.strip()
    if query:
        pattern = f"%{_escape_like(query)}%"
        filters.append(Movie.title.ilike(pattern, escape="\\") | (Movie.imdb_id == query.lower()))
    if genre:
        filters.append(Movie.id.in_(select(MovieGenre.movie_id).where(MovieGenre.name == genre)))
    counted = select(func.count(func.distinct(Review.movie_id))).join(
        Movie, Movie.id == Review.movie_id
    )
    total = session.scalar(counted.where(*filters)) or 0
    counts = movie_counts(version=version)
    stmt = _aggregate_query(counts).where(*filters)
    n_scored = counts.c.n_scored
    share = cast(counts.c.n_positive, Float) / func.nullif(n_scored, 0)
    # A movie still being scored has no final share yet: it comes after every scored one.
    incomplete = n_scored < counts.c.n_reviews
    orders: dict[CatalogSort, list[ColumnElement[Any]]] = {
        CatalogSort.most_reviewed: [counts.c.n_reviews.desc(), Movie.title.asc().nulls_last()],
        CatalogSort.most_positive: [incomplete, share.desc().nulls_last(), n_scored.desc()],
        CatalogSort.most_negative: [incomplete, share.asc().nulls_last(), n_scored.desc()],
        CatalogSort.alphabetical: [Movie.title.asc().nulls_last(), Movie.imdb_id.asc()],
    }
    order = orders[sort]
    page = max(1, page)
    stmt = (
        stmt.order_by(*order, Movie.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(selectinload(Movie.genres))
    )
    rows = [
        MovieRow(movie, Sentiment(n_reviews, n_scored_, n_positive))
        for movie, n_reviews, n_scored_, n_positive in session.execute(stmt).all()
    ]
    return CatalogPage(rows=rows, total=total, page=page, page_size=page_size)


def genres_in_catalog(*, session: Session) -> list[str]:
    """The genres of movies that have reviews, for the filter menu."""
    has_reviews = select(Review.movie_id).distinct()
    stmt = (
        select(MovieGenre.name)
        .where(MovieGenre.movie_id.in_(has_reviews))
        .distinct()
        .order_by(MovieGenre.name)
    )
    return list(session.scalars(stmt))


def movie_sentiment(*, session: Session, movie_id: int, version: str | None) -> Sentiment:
    """A movie's review, scored and positive counts under `version`."""
    counts = movie_counts(version=version, movie_id=movie_id)
    row = session.execute(_aggregate_query(counts)).first()
    if row is None:
        return Sentiment(0, 0, 0)
    return Sentiment(row[1], row[2], row[3])


def score_histogram(*, session: Session, movie_id: int, version: str | None) -> list[int]:
    """How many of the movie's reviews fall in each tenth of P(positive)."""
    bins = [0] * HISTOGRAM_BINS
    stmt = (
        select(ReviewScore.p_positive)
        .join(Review, Review.id == ReviewScore.review_id)
        .where(Review.movie_id == movie_id, ReviewScore.model_version == (version or ""))
    )
    for p in session.scalars(stmt):
        bins[min(int(p * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
    return bins


def highlights(
    *, session: Session, movie_id: int, version: str | None, positive: bool
) -> list[HighlightQuote]:
    """The most telling sentences on one side, at most one per review."""
    order = SentenceScore.p_positive.desc() if positive else SentenceScore.p_positive.asc()
    side = SentenceScore.is_positive if positive else ~SentenceScore.is_positive
    stmt = (
        select(SentenceScore, Review)
        .join(ReviewScore, ReviewScore.id == SentenceScore.score_id)
        .join(Review, Review.id == ReviewScore.review_id)
        .where(Review.movie_id == movie_id, ReviewScore.model_version == (version or ""), side)
        .order_by(order, SentenceScore.id)
        .limit(HIGHLIGHTS_PER_SIDE * 10)
    )
    quotes: list[HighlightQuote] = []
    seen: set[int] = set()
    for sentence, review in session.execute(stmt).all():
        if review.id in seen:
            continue
        seen.add(review.id)
        quotes.append(
            HighlightQuote(
                review_id=review.id,
                text=sentence.text,
                p_positive=sentence.p_positive,
                author=review.author_name,
                created_at=review.created_at,
                imported=review.user_id is None,
            )
        )
        if len(quotes) == HIGHLIGHTS_PER_SIDE:
            break
    return quotes


def movie_overview(*, session: Session, movie: Movie, version: str | None) -> MovieOverview:
    """Everything the head of a movie page shows."""
    return MovieOverview(
        movie=movie,
        version=version,
        sentiment=movie_sentiment(session=session, movie_id=movie.id, version=version),
        histogram=score_histogram(session=session, movie_id=movie.id, version=version),
        accuracy=accuracy(session=session, version=version, movie_id=movie.id),
        positive=highlights(session=session, movie_id=movie.id, version=version, positive=True),
        negative=highlights(session=session, movie_id=movie.id, version=version, positive=False),
    )
