"""Two model versions side by side on the same stored reviews, and where they disagree."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.accuracy import Accuracy
from app.models import Review, ReviewScore


class UnscoredVersions(LookupError):
    """A version to compare has no stored scores; the message names it."""


@dataclass(frozen=True)
class Disagreement:
    """A review two versions read differently: each one's probability that it is positive."""

    review: Review
    p_a: float
    p_b: float


@dataclass(frozen=True)
class Comparison:
    """Two versions on the reviews both scored: how often they agree, how each does on IMDb's
    labels, and where they disagree most."""

    version_a: str
    version_b: str
    n_both: int  # reviews both versions scored
    n_agree: int
    accuracy_a: Accuracy  # on the gold-labeled reviews both scored
    accuracy_b: Accuracy
    disagreements: list[Disagreement]

    @property
    def agreement(self) -> float | None:
        return 100.0 * self.n_agree / self.n_both if self.n_both else None


def scored_versions(*, session: Session) -> list[tuple[str, int]]:
    """Every model version with stored scores, and how many reviews it scored."""
    stmt = (
        select(ReviewScore.model_version, func.count(ReviewScore.id))
        .group_by(ReviewScore.model_version)
        .order_by(ReviewScore.model_version)
    )
    return [(version, count) for version, count in session.execute(stmt).all()]


def review_count(*, session: Session) -> int:
    """How many reviews there are to score, for "scored N of M"."""
    return session.scalar(select(func.count(Review.id))) or 0


def compare(*, session: Session, version_a: str, version_b: str, limit: int = 25) -> Comparison:
    """Agreement, accuracy on gold labels, and the sharpest disagreements of two versions
    (UnscoredVersions if either has scored nothing)."""
    known = {name for name, _count in scored_versions(session=session)}
    missing = [name for name in (version_a, version_b) if name not in known]
    if missing:
        raise UnscoredVersions(f"no stored scores from {', '.join(missing)}")
    a, b = aliased(ReviewScore), aliased(ReviewScore)
    pos_a = a.predicted_label
    pos_b = b.predicted_label
    both = (
        select(Review.id)
        .join(a, (a.review_id == Review.id) & (a.model_version == version_a))
        .join(b, (b.review_id == Review.id) & (b.model_version == version_b))
    )
    labeled = Review.gold_label.is_not(None)
    totals = session.execute(
        both.with_only_columns(
            func.count(Review.id),
            func.coalesce(func.sum(case((pos_a == pos_b, 1), else_=0)), 0),
            func.coalesce(func.sum(case((labeled, 1), else_=0)), 0),
            func.coalesce(func.sum(case((labeled & (pos_a == Review.gold_label), 1), else_=0)), 0),
            func.coalesce(func.sum(case((labeled & (pos_b == Review.gold_label), 1), else_=0)), 0),
        )
    ).one()
    n_both, n_agree, n_labeled, right_a, right_b = (int(value) for value in totals)
    sharpest = (
        both.with_only_columns(Review, a.p_positive, b.p_positive)
        .where(pos_a != pos_b)
        .order_by(func.abs(a.p_positive - b.p_positive).desc(), Review.id)
        .limit(limit)
        .options(selectinload(Review.movie))
    )
    return Comparison(
        version_a=version_a,
        version_b=version_b,
        n_both=n_both,
        n_agree=n_agree,
        accuracy_a=Accuracy(n_labeled, right_a),
        accuracy_b=Accuracy(n_labeled, right_b),
        disagreements=[
            Disagreement(review, p_a, p_b) for review, p_a, p_b in session.execute(sharpest).all()
        ],
    )
