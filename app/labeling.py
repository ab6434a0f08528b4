"""Labels from people: "this sentiment is wrong" flags, and the admin labeling queue that
shows the reviews the current model is least sure of (uncertainty sampling)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import Feedback, HumanLabel, Review, ReviewScore, User
from app.reviews import ScoredReview
from app.sentiment import labels


@dataclass(frozen=True)
class LabelingProgress:
    labeled: int
    labeled_today: int
    open_flags: int


def flag_wrong(*, session: Session, review: Review, user: User, score: ReviewScore) -> Feedback:
    """Record that `user` finds the model's verdict on `review` wrong (once per user)."""
    session.execute(
        delete(Feedback).where(Feedback.review_id == review.id, Feedback.user_id == user.id)
    )
    feedback = Feedback(
        review_id=review.id,
        user_id=user.id,
        model_version=score.model_version,
        label=0 if score.is_positive else 1,
    )
    session.add(feedback)
    session.commit()
    return feedback


def flagged_by(*, session: Session, user: User | None, review_ids: list[int]) -> set[int]:
    """Which of these reviews `user` has already flagged."""
    if user is None or not review_ids:
        return set()
    stmt = select(Feedback.review_id).where(
        Feedback.user_id == user.id, Feedback.review_id.in_(review_ids)
    )
    return set(session.scalars(stmt))


def queue(*, session: Session, version: str | None, limit: int = 1) -> list[ScoredReview]:
    """Unlabeled reviews to label next: flagged ones, then people's, then the least certain."""
    if version is None:
        return []
    flags = (
        select(Feedback.review_id, func.count().label("n")).group_by(Feedback.review_id).subquery()
    )
    stmt = (
        select(Review, ReviewScore)
        .join(
            ReviewScore,
            (ReviewScore.review_id == Review.id) & (ReviewScore.model_version == version),
        )
        .outerjoin(flags, flags.c.review_id == Review.id)
        .outerjoin(HumanLabel, HumanLabel.review_id == Review.id)
        .where(HumanLabel.review_id.is_(None))
        .order_by(
            func.coalesce(flags.c.n, 0).desc(),
            Review.gold_label.is_not(None),
            func.abs(ReviewScore.p_positive - labels.THRESHOLD),
            Review.id,
        )
        .limit(limit)
    )
    return [ScoredReview(review, score) for review, score in session.execute(stmt).all()]


def record_label(*, session: Session, review: Review, label: int, admin: User) -> HumanLabel:
    """Store (or replace) the human label of a review."""
    if label not in (0, 1):
        raise ValueError("a label is 1 (positive) or 0 (negative)")
    existing = session.get(HumanLabel, review.id)
    if existing is None:
        existing = HumanLabel(review_id=review.id, label=label, labeled_by=admin.id)
        session.add(existing)
    else:
        existing.label, existing.labeled_by = label, admin.id
    session.commit()
    return existing


def progress(*, session: Session) -> LabelingProgress:
    """How many reviews are labeled in all and today, and how many flags await a label."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    labeled = session.scalar(select(func.count()).select_from(HumanLabel)) or 0
    today = session.scalar(select(func.count()).where(HumanLabel.created_at >= midnight)) or 0
    open_flags = (
        session.scalar(
            select(func.count(func.distinct(Feedback.review_id)))
            .outerjoin(HumanLabel, HumanLabel.review_id == Feedback.review_id)
            .where(HumanLabel.review_id.is_(None))
        )
        or 0
    )
    return LabelingProgress(labeled=labeled, labeled_today=today, open_flags=open_flags)


def human_labeled_examples(*, session: Session) -> list[tuple[str, int]]:
    """(review text, label) for every human label, for training a new version."""
    stmt = select(Review.body, HumanLabel.label).join(HumanLabel, HumanLabel.review_id == Review.id)
    return [(body, label) for body, label in session.execute(stmt).all()]
