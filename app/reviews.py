"""Reviews: post, edit, delete, score on arrival, and list with their current score."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app import stats
from app.models import Movie, Review, ReviewScore, SentenceScore, User
from app.schemas import ReviewSort, SentimentFilter
from app.sentiment.classifier import Analysis, Classifier, analyze

log = logging.getLogger(__name__)

SITE_SOURCE = "textflix"


class ReviewError(ValueError):
    """A review that cannot be accepted; the message is safe to show the user."""


class NotAllowed(PermissionError):
    """The user may not change this review."""


@dataclass(frozen=True)
class ScoredReview:
    review: Review
    score: ReviewScore | None


@dataclass(frozen=True)
class ReviewPage:
    items: list[ScoredReview]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def validate_body(body: str, *, max_chars: int) -> str:
    """The review text to store, or a ReviewError saying what is wrong with it."""
    text = body.strip()
    if not text:
        raise ReviewError("A review needs some text.")
    if len(text) > max_chars:
        raise ReviewError(
            f"A review can be at most {max_chars:,} characters; this one has {len(text):,}."
        )
    return text


def post_review(*, session: Session, movie: Movie, user: User, body: str, max_chars: int) -> Review:
    """Save a new review by `user`; it is committed before anything tries to score it."""
    review = Review(
        movie_id=movie.id,
        user_id=user.id,
        source=SITE_SOURCE,
        author_name=user.username,
        body=validate_body(body, max_chars=max_chars),
    )
    session.add(review)
    session.flush()
    stats.refresh_movies(session, [movie.id])
    session.commit()
    return review


def ensure_can_change(review: Review, user: User) -> None:
    """Raise NotAllowed unless `user` wrote `review` (admins may delete, not rewrite)."""
    if review.user_id != user.id:
        raise NotAllowed("Only the author can change this review.")


def edit_review(
    *, session: Session, review: Review, user: User, body: str, max_chars: int
) -> Review:
    """Replace the text of the user's own review; its old scores no longer apply."""
    ensure_can_change(review, user)
    review.body = validate_body(body, max_chars=max_chars)
    session.execute(delete(ReviewScore).where(ReviewScore.review_id == review.id))
    stats.refresh_movies(session, [review.movie_id])
    session.commit()
    session.expire(review, ["scores"])
    return review


def delete_review(*, session: Session, review: Review, user: User) -> None:
    """Delete a review: its author, or an admin, may."""
    if not user.is_admin:
        ensure_can_change(review, user)
    movie_id = review.movie_id
    session.delete(review)
    session.flush()
    stats.refresh_movies(session, [movie_id])
    session.commit()


def store_analysis(
    *, session: Session, review: Review, version: str, analysis: Analysis
) -> ReviewScore:
    """Record one model version's score of a review, replacing an earlier one of that version;
    the caller then refreshes the movie's figures (app.stats) before it commits."""
    session.execute(
        delete(ReviewScore).where(
            ReviewScore.review_id == review.id, ReviewScore.model_version == version
        )
    )
    score = ReviewScore(
        review_id=review.id,
        model_version=version,
        p_positive=analysis.prediction.p_positive,
        sentences=[
            SentenceScore(position=i, text=s.text, p_positive=s.p_positive)
            for i, s in enumerate(analysis.sentences)
        ],
    )
    session.add(score)
    return score


def score_review(
    *, session: Session, review: Review, classifier: Classifier | None
) -> ReviewScore | None:
    """Score a saved review now; without a model, or on failure, it stays saved and unscored
    for the background job."""
    if classifier is None:
        return None
    try:
        [analysis] = analyze(classifier, [review.body])
        score = store_analysis(
            session=session, review=review, version=classifier.version, analysis=analysis
        )
        session.flush()
        stats.refresh_movies(session, [review.movie_id])
        session.commit()
    except (RuntimeError, ValueError, IntegrityError):
        session.rollback()
        log.exception("scoring review %s failed; it stays unscored", review.id)
        return None
    return score


def current_score(*, session: Session, review_id: int, version: str | None) -> ReviewScore | None:
    """The score of a review under `version`, if it has one."""
    if version is None:
        return None
    return session.scalar(
        select(ReviewScore).where(
            ReviewScore.review_id == review_id, ReviewScore.model_version == version
        )
    )


def list_reviews(
    *,
    session: Session,
    version: str | None,
    movie_id: int | None = None,
    user_id: int | None = None,
    sort: ReviewSort = ReviewSort.newest,
    sentiment: SentimentFilter = SentimentFilter.all,
    page: int = 1,
    page_size: int = 20,
) -> ReviewPage:
    """One page of a movie's or a user's reviews with their score under `version`."""
    stmt = select(Review, ReviewScore).outerjoin(
        ReviewScore,
        (ReviewScore.review_id == Review.id) & (ReviewScore.model_version == (version or "")),
    )
    if movie_id is not None:
        stmt = stmt.where(Review.movie_id == movie_id)
    if user_id is not None:
        stmt = stmt.where(Review.user_id == user_id)
    if sentiment is SentimentFilter.positive:
        stmt = stmt.where(ReviewScore.is_positive)
    elif sentiment is SentimentFilter.negative:
        stmt = stmt.where(~ReviewScore.is_positive)
    elif sentiment is SentimentFilter.unscored:
        stmt = stmt.where(ReviewScore.id.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    orders: dict[ReviewSort, list[ColumnElement[Any]]] = {
        ReviewSort.newest: [Review.created_at.desc(), Review.id.desc()],
        ReviewSort.most_positive: [ReviewScore.p_positive.desc().nulls_last(), Review.id.asc()],
        ReviewSort.most_negative: [ReviewScore.p_positive.asc().nulls_last(), Review.id.asc()],
    }
    order = orders[sort]
    page = max(1, page)
    stmt = (
        stmt.order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(selectinload(Review.movie), selectinload(Review.user))
    )
    items = [ScoredReview(review, score) for review, score in session.execute(stmt).all()]
    return ReviewPage(items=items, total=total, page=page, page_size=page_size)
