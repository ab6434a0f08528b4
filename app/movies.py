"""The catalog: movies with their aggregate sentiment, search, filters and highlights."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, FromClause, Select, Subquery, cast, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.accuracy import Accuracy, accuracy
from app.models import (
    HISTOGRAM_BINS,
    Movie,
    MovieGenre,
    MovieStats,
    Review,
    ReviewScore,
    SentenceScore,
)
from app.paging import Page
from app.schemas import CatalogQuery, CatalogSort
from app.stats import NO_VERSION

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
    histogram: tuple[int, ...] = (0,) * HISTOGRAM_BINS  # scores per tenth of P(positive)

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


CatalogPage = Page[MovieRow]


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
    """Per movie with reviews: `n_reviews`, and `n_scored` / `n_positive` under `version`,
    read from the maintained movie_stats rows (app/stats.py). The one place these counts come
    from (the catalog, the summaries, the scoring order)."""
    reviewed, scored = aliased(MovieStats), aliased(MovieStats)
    stmt = select(
        reviewed.movie_id.label("movie_id"),
        reviewed.n_reviews.label("n_reviews"),
        func.coalesce(scored.n_scored, 0).label("n_scored"),
        func.coalesce(scored.n_positive, 0).label("n_positive"),
    ).outerjoin(
        scored,
        (scored.movie_id == reviewed.movie_id) & (scored.model_version == (version or NO_VERSION)),
    )
    stmt = stmt.where(reviewed.model_version == NO_VERSION)
    if movie_id is not None:
        stmt = stmt.where(reviewed.movie_id == movie_id)
    return stmt.subquery("movie_counts")


def most_reviewed_first(counts: FromClause) -> list[ColumnElement[Any]]:
    """The catalog's default order of movies (`counts` from `movie_counts`): most reviews
    first, then by title (untitled last), then by id. The scoring queue takes movies in this
    very order, so that the catalog's first page is the first to be fully scored."""
    return [counts.c.n_reviews.desc().nulls_last(), Movie.title.asc().nulls_last(), Movie.id.asc()]


def _aggregate_query(counts: Subquery) -> Select[Movie, int, int, int]:
    """Movies with reviews, and their review / scored / positive counts."""
    return select(Movie, counts.c.n_reviews, counts.c.n_scored, counts.c.n_positive).join(
        counts, counts.c.movie_id == Movie.id
    )


def stats_for(
    *, session: Session, movie_ids: Iterable[int], version: str | None
) -> dict[int, Sentiment]:
    """The figures of `movie_ids` under `version`, read from the maintained movie_stats rows;
    a movie without reviews gets zeros."""
    ids = set(movie_ids)
    figures = dict.fromkeys(ids, Sentiment(0, 0, 0))
    if not ids:
        return figures
    reviewed, scored = aliased(MovieStats), aliased(MovieStats)
    stmt = (
        select(reviewed.movie_id, reviewed.n_reviews, scored)
        .outerjoin(
            scored,
            (scored.movie_id == reviewed.movie_id)
            & (scored.model_version == (version or NO_VERSION)),
        )
        .where(reviewed.movie_id.in_(ids), reviewed.model_version == NO_VERSION)
    )
    for movie_id, n_reviews, row in session.execute(stmt).all():
        if row is None or not row.n_scored:
            figures[movie_id] = Sentiment(n_reviews, 0, 0)
        else:
            figures[movie_id] = Sentiment(
                n_reviews, row.n_scored, row.n_positive, tuple(row.histogram)
            )
    return figures


def search_catalog(
    *,
    session: Session,
    version: str | None,
    query: CatalogQuery,
    page_size: int = 24,
) -> CatalogPage:
    """One page of the movies that have reviews, filtered, sorted and with their figures."""
    filters: list[ColumnElement[bool]] = []
    text = query.q.strip()
    if text:
        pattern = f"%{_escape_like(text)}%"
        filters.append(Movie.title.ilike(pattern, escape="\\") | (Movie.imdb_id == text.lower()))
    if query.genre:
        filters.append(
            Movie.id.in_(select(MovieGenre.movie_id).where(MovieGenre.name == query.genre))
        )
    counts = movie_counts(version=version)
    stmt = _aggregate_query(counts).where(*filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    n_scored = counts.c.n_scored
    share = cast(counts.c.n_positive, Float) / func.nullif(n_scored, 0)
    # A movie still being scored has no final share yet: it comes after every scored one.
    incomplete = n_scored < counts.c.n_reviews
    orders: dict[CatalogSort, list[ColumnElement[Any]]] = {
        CatalogSort.most_reviewed: most_reviewed_first(counts),
        CatalogSort.most_positive: [incomplete, share.desc().nulls_last(), n_scored.desc()],
        CatalogSort.most_negative: [incomplete, share.asc().nulls_last(), n_scored.desc()],
        CatalogSort.alphabetical: [Movie.title.asc().nulls_last(), Movie.imdb_id.asc()],
    }
    order = orders[query.sort]
    page = max(1, query.page)
    stmt = (
        stmt.order_by(*order, Movie.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(selectinload(Movie.genres))
    )
    rows = [
        MovieRow(movie, Sentiment(n_reviews, n_scored, n_positive))
        for movie, n_reviews, n_scored, n_positive in session.execute(stmt).all()
    ]
    return CatalogPage(items=rows, total=total, page=page, page_size=page_size)


def genres_in_catalog(*, session: Session) -> list[str]:
    """The genres of movies that have reviews, for the filter menu."""
    has_reviews = select(MovieStats.movie_id).where(MovieStats.model_version == NO_VERSION)
    stmt = (
        select(MovieGenre.name)
        .where(MovieGenre.movie_id.in_(has_reviews))
        .distinct()
        .order_by(MovieGenre.name)
    )
    return list(session.scalars(stmt))


def movie_sentiment(*, session: Session, movie_id: int, version: str | None) -> Sentiment:
    """A movie's review, scored and positive counts and histogram under `version`."""
    return stats_for(session=session, movie_ids=[movie_id], version=version)[movie_id]


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
    sentiment = movie_sentiment(session=session, movie_id=movie.id, version=version)
    return MovieOverview(
        movie=movie,
        version=version,
        sentiment=sentiment,
        histogram=list(sentiment.histogram),
        accuracy=accuracy(session=session, version=version, movie_id=movie.id),
        positive=highlights(session=session, movie_id=movie.id, version=version, positive=True),
        negative=highlights(session=session, movie_id=movie.id, version=version, positive=False),
    )
