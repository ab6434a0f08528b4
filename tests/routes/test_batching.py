"""The web side of dynamic batching: a full queue is a 503 with Retry-After for
/api/sentiment, a posted review is still saved (and left to the background workers), and
the batcher can be turned off."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import credentials
from app.config import Settings
from app.main import create_app
from app.sentiment.dynamic_batching import DynamicBatcher
from tests.factories import HANG_GUARD_SECONDS, GatedClassifier, make_movie, make_user, wait_until


@pytest.fixture
def classifier() -> GatedClassifier:
    return GatedClassifier()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"batch_queue_size": 1})


def fill_the_queue(
    app: FastAPI, classifier: GatedClassifier, pool: ThreadPoolExecutor
) -> list[Future[int]]:
    """One request inside the model, one waiting: the queue of one is full."""
    batcher = app.state.interactive.get()
    assert isinstance(batcher, DynamicBatcher)

    def score(text: str) -> int:
        client = TestClient(app)
        return client.post("/api/sentiment", json={"text": text}).status_code

    first = pool.submit(score, "A great first film.")
    assert classifier.entered.wait(HANG_GUARD_SECONDS)
    second = pool.submit(score, "A dull second one.")
    wait_until(lambda: batcher.pending == 1)
    return [first, second]


def test_a_full_queue_is_a_503_with_retry_after(
    client: TestClient, app: FastAPI, classifier: GatedClassifier
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = fill_the_queue(app, classifier, pool)
        refused = client.post("/api/sentiment", json={"text": "One too many."})
        classifier.gate.set()
        statuses = [future.result() for future in waiting]

    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    assert "busy" in refused.json()["detail"]
    assert statuses == [200, 200]
    assert client.post("/api/sentiment", json={"text": "Room again."}).status_code == 200


def test_a_review_posted_while_the_queue_is_full_is_saved_unscored(
    client: TestClient, app: FastAPI, classifier: GatedClassifier, session: Session
) -> None:
    movie = make_movie(session)
    _, token = credentials.issue_token(
        session=session, user=make_user(session), name="t", max_age=3600
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = fill_the_queue(app, classifier, pool)
        posted = client.post(
            f"/api/movies/{movie.id}/reviews",
            json={"body": "Posted in the rush."},
            headers={"Authorization": f"Bearer {token}"},
        )
        classifier.gate.set()
        assert [future.result() for future in waiting] == [200, 200]

    assert posted.status_code == 201
    assert posted.json()["body"] == "Posted in the rush." and posted.json()["score"] is None


def test_shutdown_answers_the_queued_request_with_a_503_and_finishes_the_pass(
    app: FastAPI, classifier: GatedClassifier
) -> None:
    def open_the_gate_once_refused(queued: Future[int]) -> int:
        status = queued.result()
        classifier.gate.set()
        return status

    with ThreadPoolExecutor(max_workers=3) as pool:
        with TestClient(app):  # its exit runs the lifespan's shutdown
            first, second = fill_the_queue(app, classifier, pool)
            refused = pool.submit(open_the_gate_once_refused, second)
        assert refused.result() == 503
        assert first.result() == 200


def test_batching_can_be_turned_off(settings: Settings, classifier: GatedClassifier) -> None:
    app = create_app(
        settings.model_copy(update={"dynamic_batching": False}),
        classifier=classifier,
        load_model=False,
    )

    assert app.state.interactive.get() is classifier
