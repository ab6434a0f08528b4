"""Background scoring of imported reviews: every review once per model version, with progress."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.lifecycle.serving import ModelHolder
from app.models import Review, ReviewScore, ScoringClaim, ScoringJob, SentenceScore
from app.movies import search_catalog
from app.schemas import CatalogQuery
from app.scoring import (
    ScoringWorker,
    StepTimes,
    claim_batch,
    count_unscored,
    put_first_if_unscored,
    score_pending,
)
from tests.factories import (
    HANG_GUARD_SECONDS,
    FakeClassifier,
    GatedClassifier,
    make_movie,
    make_review,
    make_user,
    wait_until,
)


def test_scores_every_unscored_review_once(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    movie = make_movie(session)
    for i in range(7):
        make_review(session, movie=movie, body=f"Review {i} is great. Truly a good one.")
    classifier = FakeClassifier()

    job = score_pending(
        session_factory=session_factory, classifier=classifier, batch_size=3, progress=False
    )
    again = score_pending(session_factory=session_factory, classifier=classifier, progress=False)

    assert job is not None and job.status == "done" and job.done == job.total == 7
    assert again is None
    assert classifier.calls[:2] == [3, 6]  # whole reviews, then their sentences, per batch
    assert session.scalar(select(func.count(ReviewScore.id))) == 7
    assert session.scalar(select(func.count(SentenceScore.id))) == 14
    assert count_unscored(session=session, version="fake-v1") == 0
    assert count_unscored(session=session, version="another") == 7


def test_people_first_then_movies_opened_then_by_number_of_reviews(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    big = make_movie(session, title="Big")
    small = make_movie(session, title="Small")
    untitled = make_movie(session, title=None)
    opened = make_movie(session, title="Opened")
    big_reviews = [make_review(session, movie=big, body="x") for _ in range(3)]
    small_imported = make_review(session, movie=small, body="x")
    by_person = make_review(session, movie=small, body="x", user=make_user(session))
    untitled_reviews = [make_review(session, movie=untitled, body="x") for _ in range(2)]
    opened_review = make_review(session, movie=opened, body="x")
    put_first_if_unscored(session=session, movie=opened, complete=False)

    score_pending(
        session_factory=session_factory, classifier=FakeClassifier(), batch_size=1, progress=False
    )

    order = session.scalars(select(ReviewScore.review_id).order_by(ReviewScore.id)).all()
    assert order == [
        by_person.id,
        opened_review.id,
        *(r.id for r in big_reviews),  # 3 reviews
        small_imported.id,  # 2 reviews, titled
        *(r.id for r in untitled_reviews),  # 2 reviews, no title yet
    ]


def test_movies_with_as_many_reviews_are_scored_in_the_catalogs_order(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    # Ties in the number of reviews are the rule in a real catalog (aclImdb caps reviews per
    # movie): the queue must break them as the catalog does, or its first page waits.
    movies = [make_movie(session, title=title) for title in ["Zeta", "Alpha", None, "Mu"]]
    for movie in movies:
        for _ in range(2):
            make_review(session, movie=movie, body="x")
    catalog = search_catalog(session=session, version="fake-v1", query=CatalogQuery())

    score_pending(
        session_factory=session_factory, classifier=FakeClassifier(), batch_size=1, progress=False
    )

    scored = session.scalars(
        select(Review.movie_id).join(ReviewScore).order_by(ReviewScore.id)
    ).all()
    first_seen = list(dict.fromkeys(scored))
    assert first_seen == [row.movie.id for row in catalog.items]
    assert [row.movie.title for row in catalog.items] == ["Alpha", "Mu", "Zeta", None]


def test_reviews_the_movie_counts_miss_are_still_claimed(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    # A claim looks first among the next movies by their maintained counts; a review those
    # counts do not show (here: added without refreshing them) must still be scored.
    counted = make_movie(session, title="Counted")
    make_review(session, movie=counted, body="x")
    uncounted = make_movie(session, title="Uncounted")
    hidden = Review(movie_id=uncounted.id, source="aclImdb", author_name="someone", body="x")
    session.add(hidden)
    session.commit()

    job = score_pending(
        session_factory=session_factory, classifier=FakeClassifier(), batch_size=1, progress=False
    )

    assert job is not None and job.done == 2
    assert count_unscored(session=session, version="fake-v1") == 0


def test_a_claim_passes_over_movies_other_workers_hold(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    first = make_movie(session, title="A first")
    held = [make_review(session, movie=first, body="x") for _ in range(6)]
    second = make_movie(session, title="B second")
    free = [make_review(session, movie=second, body="x") for _ in range(5)]
    with session_factory() as other:
        taken = claim_batch(session=other, version="fake-v1", worker="busy", limit=6)
    assert [claimed.review_id for claimed in taken] == [review.id for review in held]

    with session_factory() as mine:
        claimed = claim_batch(session=mine, version="fake-v1", worker="me", limit=2)

    assert [c.review_id for c in claimed] == [review.id for review in free[:2]]


def test_worker_thread_scores_and_stops(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="great")
    worker = ScoringWorker(
        session_factory=session_factory,
        models=ModelHolder(classifier=FakeClassifier()),
        idle_seconds=0.05,
    )

    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        if session.scalar(select(ScoringJob.status)) == "done":
            break
        time.sleep(0.05)
    make_review(session, movie=movie, body="posted while the worker idles")
    while time.monotonic() < deadline and count_unscored(session=session, version="fake-v1"):
        time.sleep(0.05)
    worker.stop()

    assert session.scalar(select(func.count(ReviewScore.id))) == 2


def test_claims_the_next_batch_while_the_model_scores_and_hands_it_back_on_stop(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    movie = make_movie(session)
    for i in range(4):
        make_review(session, movie=movie, body=f"Review {i} is good.")
    classifier = GatedClassifier()
    stop = threading.Event()
    times = StepTimes()
    jobs: list[ScoringJob | None] = []

    def claims() -> int:
        with session_factory() as fresh:
            return fresh.scalar(select(func.count(ScoringClaim.review_id))) or 0

    scorer = threading.Thread(
        target=lambda: jobs.append(
            score_pending(
                session_factory=session_factory,
                classifier=classifier,
                batch_size=1,
                progress=False,
                stop=stop,
                times=times,
            )
        )
    )
    scorer.start()
    assert classifier.entered.wait(HANG_GUARD_SECONDS)
    # The model holds the first review; meanwhile the database side claims the second.
    wait_until(lambda: claims() == 2)
    stop.set()
    classifier.gate.set()
    scorer.join(HANG_GUARD_SECONDS)

    [job] = jobs
    assert job is not None and job.status == "stopped" and job.done == 1
    session.expire_all()
    assert session.scalar(select(func.count(ReviewScore.id))) == 1  # the batch in flight
    assert claims() == 0  # the batch claimed ahead is handed back, unscored
    assert count_unscored(session=session, version="gated") == 3
    assert times.model > 0 and times.claim > 0 and times.write > 0
