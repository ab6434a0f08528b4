"""`textflix serve` stopped with SIGTERM while it scores in the background: it exits within
seconds, hands back the batch in flight and leaves nothing half-written."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT
from app.models import Review, ReviewScore, ScoringClaim, SentenceScore
from app.sentiment.text import split_sentences
from tests.factories import make_movie

EXIT_BOUND_SECONDS = 20  # generous: the server itself gives the batch in flight 5 s
# `textflix serve`, with a model as slow as `delay` seconds per call standing in for the real one.
SERVE_WITH_A_SLOW_MODEL = """
import sys, time
import app.lifecycle.serving as serving
from tests.factories import FakeClassifier

class Slow(FakeClassifier):
    def predict(self, texts):
        time.sleep(float(sys.argv[2]))
        return super().predict(texts)

serving.load_current = lambda settings: (Slow(), None)
from app.cli import main
main(["serve", "--port", sys.argv[1]])
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _count(session: Session, what: object) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(what)) or 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "delay", [pytest.param(0.3, id="batch finishes"), pytest.param(60.0, id="batch handed back")]
)
def test_sigterm_stops_serving_and_scoring_within_seconds(
    database_url: str,
    session_factory: sessionmaker[Session],
    session: Session,
    tmp_path: Path,
    delay: float,
) -> None:
    movie = make_movie(session)
    session.execute(
        insert(Review),
        [
            {
                "movie_id": movie.id,
                "author_name": "IMDb reviewer",
                "source": "aclImdb",
                "source_ref": f"test/pos/{i}_9",
                "body": f"Review {i} was good. Then bad.",
            }
            for i in range(400)
        ],
    )
    session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEXTFLIX_SECRET_KEY": "shutdown-test",
        "TEXTFLIX_MODELS_DIR": str(tmp_path / "models"),
        "TEXTFLIX_SCORING_BATCH_SIZE": "8",
    }
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVE_WITH_A_SLOW_MODEL, str(_free_port()), str(delay)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        scoring = False
        while time.monotonic() < deadline and server.poll() is None and not scoring:
            time.sleep(0.1)
            scoring = _count(session, ScoringClaim) > 0 and (
                delay > 10 or _count(session, ReviewScore) > 0
            )
        assert scoring, "the server never started scoring"

        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=EXIT_BOUND_SECONDS)
    finally:
        if server.poll() is None:
            server.kill()
        assert server.stderr is not None
        errors = server.stderr.read().decode()
        server.stderr.close()

    # uvicorn shuts down, then ends by the signal it was sent, as a stopped service should.
    assert code in (0, -signal.SIGTERM), errors
    assert "Application shutdown complete" in errors
    assert _count(session, ScoringClaim) == 0  # claims handed back
    scored = session.execute(select(ReviewScore.id, Review.body).join(Review)).all()
    if delay < 10:
        assert scored, "the batch in flight was finished"
    for score_id, body in scored:  # each batch whole or not at all
        n_sentences = session.scalar(
            select(func.count(SentenceScore.id)).where(SentenceScore.score_id == score_id)
        )
        assert n_sentences == len(split_sentences(body))
    assert len(scored) < 400
