"""Accuracy mode: how often the current model agrees with reviews' gold labels."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Review, ReviewScore


@dataclass(frozen=True)
class Accuracy:
    n_labeled: int  # reviews with a gold label and a score from the version
    n_correct: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.n_correct / self.n_labeled if self.n_labeled else None


def accuracy(*, session: Session, version: str | None, movie_id: int | None = None) -> Accuracy:
    """The model's accuracy on gold-labeled reviews, overall or for one movie."""
    if version is None:
        return Accuracy(0, 0)
    predicted = ReviewScore.predicted_label
    stmt = (
        select(
            func.count(Review.id),
            func.coalesce(func.sum(case((predicted == Review.gold_label, 1), else_=0)), 0),
        )
        .join(ReviewScore, ReviewScore.review_id == Review.id)
        .where(ReviewScore.model_version == version, Review.gold_label.is_not(None))
    )
    if movie_id is not None:
        stmt = stmt.where(Review.movie_id == movie_id)
    n, correct = session.execute(stmt).one()
    return Accuracy(int(n), int(correct))
