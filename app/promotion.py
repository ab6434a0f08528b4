"""Promoting a model version: score every stored review with it, then make it current.

Until the new version has scored everything the site keeps showing the old version's figures,
so no page ever mixes two versions; an interrupted promotion resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring import count_unscored, score_pending
from app.sentiment import versions
from app.sentiment.classifier import Classifier
from app.sentiment.data import Example
from app.sentiment.evaluation import evaluate
from app.sentiment.registry import (
    ModelCard,
    ModelNotFoundError,
    current_model_dir,
    model_dir,
    set_current,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate beat the current model on the same held-out reviews."""

    candidate: str
    candidate_accuracy: float
    current: str | None
    current_accuracy: float | None

    @property
    def better(self) -> bool:
        return self.current_accuracy is None or self.candidate_accuracy > self.current_accuracy


def load_version(*, settings: Settings, name: str) -> Classifier:
    """The classifier saved in models/<name>, or ModelNotFoundError (also for names such as
    "../x" that would reach outside the models folder)."""
    return versions.load(model_dir(settings.models_dir, name), device=settings.device)


def compare_on_held_out(
    *, settings: Settings, candidate: ModelCard, eval_examples: list[Example]
) -> Verdict:
    """Score the current model on the candidate's held-out reviews and compare accuracies."""
    accuracy = candidate.metrics.get("accuracy")
    if not isinstance(accuracy, float):
        raise ValueError(f"model {candidate.name} has no held-out accuracy in its card")
    current_dir = current_model_dir(settings.models_dir)
    if current_dir is None or current_dir.name == candidate.name:
        return Verdict(candidate.name, accuracy, None, None)
    current = versions.load(current_dir, device=settings.device)
    current_accuracy = evaluate(classifier=current, examples=eval_examples)["accuracy"]
    return Verdict(candidate.name, accuracy, current_dir.name, float(current_accuracy))


def score_version(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    name: str,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Score every review with version `name`, keeping its scores beside the current ones (so
    that the site can compare the two); how many reviews are left when it stops."""
    classifier = load_version(settings=settings, name=name)
    score_pending(
        session_factory=session_factory, classifier=classifier, progress=progress, stop=stop
    )
    with session_factory() as session:
        return count_unscored(session=session, version=classifier.version)


def promote(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    name: str,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Score every review with version `name`, then make it current (resumable); how many
    reviews are left, 0 when `name` is now current."""
    remaining = score_version(
        settings=settings, session_factory=session_factory, name=name, progress=progress, stop=stop
    )
    if remaining == 0:
        set_current(settings.models_dir, name)
        log.info("model %s is now current", name)
    else:
        log.info("promotion of %s stopped with %d reviews to go; run it again", name, remaining)
    return remaining


class PromotionRunner:
    """Runs at most one promotion (or scoring for comparison) at a time in a background thread
    of the web process."""

    def __init__(self, *, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.running: str | None = None
        self.make_current = False  # whether the running job ends in a promotion

    def start(self, name: str, *, make_current: bool = True) -> bool:
        """Start promoting `name` (or only scoring every review with it); False if a job is
        already running."""
        if self._thread is not None and self._thread.is_alive():
            return False
        model_dir(self._settings.models_dir, name)  # fail now, in the request, if it is unusable
        self.running, self.make_current = name, make_current
        self._thread = threading.Thread(target=self._run, args=(name, make_current), daemon=True)
        self._thread.start()
        return True

    def _run(self, name: str, make_current: bool) -> None:
        job = promote if make_current else score_version
        try:
            job(
                settings=self._settings,
                session_factory=self._session_factory,
                name=name,
                progress=False,
                stop=self._stop,
            )
        except (ModelNotFoundError, OSError, RuntimeError):
            log.exception("promoting %s failed", name)
        finally:
            self.running = None

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
