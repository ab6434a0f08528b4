"""Reviews: post, edit, delete, score on arrival, and list with their current score."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app import stats
from app.models import Movie, Review, ReviewScore, User
from app.paging import Page
from app.schemas import (
    ReviewQuery,
    ReviewSort,
    SentimentFilter,
    has_visible_text,
    storable_text,
)
from app.scoring import Scored, store_scores
from app.sentiment.classifier import Classifier, analyze
from app.sentiment.dynamic_batching import Unavailable

log = logging.getLogger(__name__)

SITE_SOURCE = "textflix"


class ReviewError(ValueError):
    """A review that cannot be accepted; the message is safe to show the user."""


class NotAllowed(PermissionError):
    """The user may not change this review."""


class ReviewGone(LookupError):
    """The review was deleted meanwhile (by another request); answered with 404."""


@dataclass(frozen=True)
class ScoredReview:
    review: Review
    score: ReviewScore | None


ReviewPage = Page[ScoredReview]


def validate_body(body: str, *, max_chars: int) -> str:
    """The review text to store, or a ReviewError saying what is wrong with it."""
    try:
        text = storable_text(body).strip()
    except ValueError as exc:
        raise ReviewError(str(exc)) from exc
    if not has_visible_text(text):
        raise ReviewError(
            "A review needs some text: spaces and invisible characters alone are not one."
        )
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
    """Replace the text of the user's own review: a new text revision, whose old scores no
    longer apply (a score still being computed for the old text will be dropped)."""
    ensure_can_change(review, user)
    text = validate_body(body, max_chars=max_chars)
    review_id = review.id
    # One statement, so a concurrent edit or delete cannot interleave; on Postgres it waits
    # for a scoring write that holds this review, on SQLite for the write lock.
    row = session.execute(
        update(Review)
        .where(Review.id == review_id)
        .values(body=text, text_revision=Review.text_revision + 1)
        .returning(Review.text_revision, Review.updated_at)
    ).first()
    if row is None:
        session.rollback()
        raise ReviewGone(f"Review {review_id} was deleted meanwhile.")
    session.execute(delete(ReviewScore).where(ReviewScore.review_id == review_id))
    stats.refresh_movies(session, [review.movie_id])
    session.commit()
    set_committed_value(review, "body", text)
    set_committed_value(review, "text_revision", row.text_revision)
    set_committed_value(review, "updated_at", row.updated_at)
    set_committed_value(review, "scores", [])
    return review


def delete_review(*, session: Session, review: Review, user: User) -> None:
    """Delete a review: its author, or an admin, may."""
    if not user.is_admin:
        ensure_can_change(review, user)
    review_id, movie_id = review.id, review.movie_id
    deleted = session.execute(delete(Review).where(Review.id == review_id))
    stats.refresh_movies(session, [movie_id])
    session.commit()
    if not getattr(deleted, "rowcount", 1):
        raise ReviewGone(f"Review {review_id} was deleted meanwhile.")


def score_review(
    *, session: Session, review: Review, classifier: Classifier | None
) -> ReviewScore | None:
    """Score a saved review now; without a model, with the model busy, on failure, or when
    its text changed meanwhile, it stays unscored (for the background workers) and None is
    returned: it is saved already, so a refusal would only invite posting it twice."""
    if classifier is None:
        return None
    version = classifier.version
    try:
        [analysis] = analyze(classifier, [review.body])
        written = store_scores(
            session=session,
            version=version,
            scored=[Scored(review.id, review.text_revision, analysis)],
        )
        session.commit()
    except Unavailable as exc:
        log.warning("review %s left to the background workers: %s", review.id, exc)
        return None
    except (RuntimeError, ValueError, IntegrityError, OperationalError):
        session.rollback()
        log.exception("scoring review %s failed; it stays unscored", review.id)
        return None
    if not written:
        return None
    return current_score(session=session, review_id=review.id, version=version)


@dataclass(frozen=True)
class ReviewWriter:
    """Posts and rewrites reviews within `max_chars`, and scores each one as soon as it is
    saved (without a model, it waits for the background workers)."""

    session: Session
    classifier: Classifier | None
    max_chars: int

    def post(self, *, movie: Movie, user: User, body: str) -> ScoredReview:
        review = post_review(
            session=self.session, movie=movie, user=user, body=body, max_chars=self.max_chars
        )
        return self._scored(review)

    def edit(self, *, review: Review, user: User, body: str) -> ScoredReview:
        edit_review(
            session=self.session, review=review, user=user, body=body, max_chars=self.max_chars
        )
        return self._scored(review)

    def _scored(self, review: Review) -> ScoredReview:
        score = score_review(session=self.session, review=review, classifier=self.classifier)
        return ScoredReview(review, score)


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
    query: ReviewQuery,
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
    if query.sentiment is SentimentFilter.positive:
        stmt = stmt.where(ReviewScore.is_positive)
    elif query.sentiment is SentimentFilter.negative:
        stmt = stmt.where(~ReviewScore.is_positive)
    elif query.sentiment is SentimentFilter.unscored:
        stmt = stmt.where(ReviewScore.id.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    orders: dict[ReviewSort, list[ColumnElement[Any]]] = {
        ReviewSort.newest: [Review.created_at.desc(), Review.id.desc()],
        ReviewSort.most_positive: [ReviewScore.p_positive.desc().nulls_last(), Review.id.asc()],
        ReviewSort.most_negative: [ReviewScore.p_positive.asc().nulls_last(), Review.id.asc()],
    }
    order = orders[query.sort]
    page = max(1, query.page)
    stmt = (
        stmt.order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .options(selectinload(Review.movie), selectinload(Review.user))
    )
    items = [ScoredReview(review, score) for review, score in session.execute(stmt).all()]
    return ReviewPage(items=items, total=total, page=page, page_size=page_size)
