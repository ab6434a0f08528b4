"""Promotion: a new version scores every stored review before it becomes current, so the site
never shows figures mixed from two versions; an interrupted promotion resumes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.lifecycle import versions as promotion
from app.models import ReviewScore
from app.scoring import score_pending
from app.sentiment.registry import ModelCard, current_model_dir, set_current, write_card
from tests.factories import FakeClassifier, make_movie, make_review, wait_until


def make_card(models_dir: Path, name: str, accuracy: float = 0.9) -> ModelCard:
    """A model folder with a card (and a config) but no real weights: enough for the registry."""
    path = models_dir / name
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    card = ModelCard(
        name=name,
        base_model="all-MiniLM-L6-v2",
        n_train=500,
        seed=0,
        hyperparameters={"epochs": 3},
        metrics={"accuracy": accuracy, "n_eval": 1000},
        train_seconds=123.0,
        hardware="CPU test (2 cores), 2 torch threads",
        created_at=f"2026-11-2{len(name) % 10}T10:00:00+00:00",
        dataset="aclImdb v1",
    )
    write_card(path, card)
    return card


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        models_dir=tmp_path / "models",
    )


@pytest.fixture
def versions(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeClassifier]:
    """Two versions on disk; loading one gives a fake classifier of that version."""
    fakes = {name: FakeClassifier(name) for name in ("v1", "v2")}
    for name in fakes:
        make_card(settings.models_dir, name)
    set_current(settings.models_dir, "v1")
    monkeypatch.setattr(promotion, "load_version", lambda *, settings, name: fakes[name])
    return fakes


def _count(session: Session, version: str) -> int:
    stmt = select(func.count(ReviewScore.id)).where(ReviewScore.model_version == version)
    return session.scalar(stmt) or 0


def test_promotion_scores_everything_then_switches(
    settings: Settings,
    versions: dict[str, FakeClassifier],
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    movie = make_movie(session)
    for i in range(5):
        make_review(session, movie=movie, body=f"great {i}")
    score_pending(session_factory=session_factory, classifier=versions["v1"], progress=False)

    promotion.score_version(
        settings=settings, session_factory=session_factory, name="v2", promote=True, progress=False
    )

    assert current_model_dir(settings.models_dir) == settings.models_dir / "v2"
    assert _count(session, "v2") == 5
    assert _count(session, "v1") == 5  # the old scores stay until someone prunes them


def test_an_interrupted_promotion_keeps_the_old_version_and_resumes(
    settings: Settings,
    versions: dict[str, FakeClassifier],
    session_factory: sessionmaker[Session],
    session: Session,
) -> None:
    settings = settings.model_copy(update={"scoring_batch_size": 32})  # 70 reviews: 3 batches
    movie = make_movie(session)
    for i in range(70):
        make_review(session, movie=movie, body=f"great {i}")
    stop = threading.Event()

    class StopsAfterOneBatch(FakeClassifier):
        def predict(self, texts):  # type: ignore[no-untyped-def]
            stop.set()
            return super().predict(texts)

    versions["v2"] = StopsAfterOneBatch("v2")
    promotion.score_version(
        settings=settings,
        session_factory=session_factory,
        name="v2",
        promote=True,
        progress=False,
        stop=stop,
    )
    partly = _count(session, "v2")
    still_current = current_model_dir(settings.models_dir)

    versions["v2"] = FakeClassifier("v2")
    promotion.score_version(
        settings=settings, session_factory=session_factory, name="v2", promote=True, progress=False
    )

    assert 0 < partly < 70
    assert still_current == settings.models_dir / "v1"
    assert _count(session, "v2") == 70
    assert current_model_dir(settings.models_dir) == settings.models_dir / "v2"


def test_verdict_needs_a_strictly_better_model() -> None:
    assert promotion.Verdict("new", 0.90, "old", 0.89).better
    assert not promotion.Verdict("new", 0.89, "old", 0.89).better
    assert promotion.Verdict("new", 0.5, None, None).better


def test_a_comparison_waits_for_the_current_version_and_gives_way_to_a_promotion(
    settings: Settings,
    versions: dict[str, FakeClassifier],
    session_factory: sessionmaker[Session],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(promotion, "WAIT_SECONDS", 0.01)
    movie = make_movie(session)
    for i in range(3):
        make_review(session, movie=movie, body=f"great {i}")
    runner = promotion.PromotionRunner(settings=settings, session_factory=session_factory)

    assert runner.start("v2", make_current=False, after="v1")
    time.sleep(0.2)  # v1 has scored nothing yet: v2 only waits
    assert _count(session, "v2") == 0 and runner.running == "v2"
    score_pending(session_factory=session_factory, classifier=versions["v1"], progress=False)
    wait_until(lambda: runner.running is None)
    assert _count(session, "v2") == 3  # v1 done: the comparison ran

    session.execute(delete(ReviewScore).where(ReviewScore.model_version == "v1"))
    session.commit()
    assert runner.start("v2", make_current=False, after="v1")  # waits again
    assert runner.start("v2", make_current=True)  # a promotion takes the waiting job's place
    wait_until(lambda: runner.running is None)
    assert current_model_dir(settings.models_dir) == settings.models_dir / "v2"
    runner.stop(timeout=5)
