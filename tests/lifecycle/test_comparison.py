"""Comparing two model versions on the same stored reviews."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.lifecycle.comparison import compare, scored_versions
from app.scoring import score_pending
from tests.factories import FakeClassifier, make_movie, make_review


class Contrarian(FakeClassifier):
    """Disagrees with the fake classifier about every review that mentions 'plot'."""

    def predict(self, texts):  # type: ignore[no-untyped-def]
        base = super().predict(texts)
        return [
            type(p)(1 - p.p_positive) if "plot" in text else p
            for p, text in zip(base, texts, strict=True)
        ]


def test_agreement_accuracy_and_disagreements(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="great film", gold_label=1)
    plot = make_review(session, movie=movie, body="great great plot", gold_label=1)
    make_review(session, movie=movie, body="awful", gold_label=0)
    make_review(session, movie=movie, body="awful plot, no label")
    for classifier in (FakeClassifier("v1"), Contrarian("v2")):
        score_pending(session_factory=session_factory, classifier=classifier, progress=False)

    result = compare(session=session, version_a="v1", version_b="v2")

    assert scored_versions(session=session) == [("v1", 4), ("v2", 4)]
    assert (result.n_both, result.n_agree, result.agreement) == (4, 2, 50.0)
    assert result.accuracy_a.n_labeled == 3 and result.accuracy_a.n_correct == 3
    assert result.accuracy_b.n_correct == 2
    assert [d.review.id for d in result.disagreements][0] == plot.id  # the sharpest first
    assert len(result.disagreements) == 2
