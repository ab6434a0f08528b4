"""Several workers sharing the scoring through claims: every review scored exactly once, none
lost when a worker dies, and no score stored for a text that has since changed."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.models import Review, ReviewScore, ScoringClaim, SentenceScore, utcnow
from app.reviews import ReviewGone, edit_review, score_review
from app.scoring import claim_batch, count_unscored, score_pending
from app.sentiment.classifier import Prediction, analyze
from app.sentiment.text import split_sentences
from tests.factories import FakeClassifier, make_movie, make_review, make_user

N_REVIEWS = 2000


class RecordingClassifier(FakeClassifier):
    """Remembers every whole review it was asked to score (sentences are scored apart)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.whole: list[str] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.whole.extend(t for t in texts if t.startswith("Review ") and t.endswith(" Really."))
        if self.delay:
            time.sleep(self.delay)  # widens the window in which others may interfere
        return super().predict(texts)


def _many_reviews(session: Session, n: int) -> list[str]:
    movies = [make_movie(session, title=f"Movie {i}") for i in range(20)]
    bodies = [f"Review {i} is good. Really." for i in range(n)]
    session.execute(
        insert(Review),
        [
            {
                "movie_id": movies[i % len(movies)].id,
                "source": "aclImdb",
                "source_ref": f"test/pos/{i}_9",
                "author_name": "IMDb reviewer",
                "body": body,
            }
            for i, body in enumerate(bodies)
        ],
    )
    session.commit()
    return bodies


def _score_in_threads(
    session_factory: sessionmaker[Session], classifiers: Sequence[RecordingClassifier]
) -> None:
    errors: list[BaseException] = []

    def work(classifier: RecordingClassifier) -> None:
        try:
            score_pending(
                session_factory=session_factory,
                classifier=classifier,
                batch_size=16,
                progress=False,
            )
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in classifiers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _assert_each_scored_once(
    session: Session, bodies: Sequence[str], classifiers: Sequence[RecordingClassifier]
) -> None:
    scored = Counter(text for classifier in classifiers for text in classifier.whole)
    assert set(scored) == set(bodies)
    assert [text for text, n in scored.items() if n > 1] == []
    assert session.scalar(select(func.count(ReviewScore.id))) == len(bodies)
    n_sentences = sum(len(split_sentences(body)) for body in bodies)
    assert session.scalar(select(func.count(SentenceScore.id))) == n_sentences
    assert session.scalar(select(func.count()).select_from(ScoringClaim)) == 0


def test_two_workers_score_every_review_exactly_once(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    bodies = _many_reviews(session, N_REVIEWS)
    workers = [RecordingClassifier(), RecordingClassifier()]

    _score_in_threads(session_factory, workers)

    _assert_each_scored_once(session, bodies, workers)
    assert all(worker.whole for worker in workers), "both workers took a share"


def test_a_dead_workers_batch_is_taken_over_after_its_claims_expire(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    bodies = _many_reviews(session, N_REVIEWS)
    with session_factory() as dead_session:  # claims a batch, then dies before writing
        lost = claim_batch(
            session=dead_session, version="fake-v1", worker="dead", limit=16, lease_seconds=3600
        )
    workers = [RecordingClassifier(), RecordingClassifier()]

    _score_in_threads(session_factory, workers)
    left_while_claimed = count_unscored(session=session, version="fake-v1")
    session.execute(  # the dead worker's lease runs out
        update(ScoringClaim)
        .where(ScoringClaim.worker == "dead")
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    _score_in_threads(session_factory, workers)

    assert left_while_claimed == len(lost) == 16
    _assert_each_scored_once(session, bodies, workers)


@pytest.mark.parametrize("path", ["worker", "in the request"])
def test_scores_always_belong_to_the_stored_text_under_concurrent_edits(
    session_factory: sessionmaker[Session], session: Session, path: str
) -> None:
    user = make_user(session)
    movie = make_movie(session)
    reviews = [
        make_review(session, movie=movie, user=user, body=f"Review {i}. It was good.")
        for i in range(6)
    ]
    stop = threading.Event()
    errors: list[BaseException] = []
    classifier = RecordingClassifier(delay=0.002)

    def edit(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - test data
        try:
            for n in range(40):
                with session_factory() as own:
                    review = own.get(Review, rng.choice(reviews).id)
                    assert review is not None
                    words = rng.choice(["good great", "bad awful", "dull"])
                    body = f"Review {seed}-{n}. It was {words}. Then {words} again."
                    edit_review(session=own, review=review, user=user, body=body, max_chars=999)
                    if path == "in the request":
                        score_review(session=own, review=review, classifier=classifier)
        except BaseException as exc:
            errors.append(exc)

    def score() -> None:
        try:
            while not stop.is_set():
                score_pending(
                    session_factory=session_factory,
                    classifier=classifier,
                    batch_size=4,
                    progress=False,
                )
        except BaseException as exc:
            errors.append(exc)

    editors = [threading.Thread(target=edit, args=(seed,)) for seed in range(3)]
    scorer = threading.Thread(target=score)
    scorer.start()
    for thread in editors:
        thread.start()
    for thread in editors:
        thread.join()
    stop.set()
    scorer.join()
    score_pending(session_factory=session_factory, classifier=classifier, progress=False)

    assert errors == []
    session.expire_all()
    for review in session.scalars(select(Review)):
        [stored] = review.scores
        [expected] = analyze(FakeClassifier(), [review.body])
        assert stored.text_revision == review.text_revision
        assert stored.p_positive == expected.prediction.p_positive
        assert [(s.text, s.p_positive) for s in stored.sentences] == [
            (s.text, s.p_positive) for s in expected.sentences
        ]


def test_editing_a_review_deleted_meanwhile_is_review_gone(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    user = make_user(session)
    review = make_review(session, movie=make_movie(session), user=user, body="good")
    with session_factory() as other:
        other.delete(other.get(Review, review.id))
        other.commit()

    with pytest.raises(ReviewGone):
        edit_review(session=session, review=review, user=user, body="better", max_chars=99)
