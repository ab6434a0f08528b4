"""Which model the site serves: loaded once, and loaded again when another version is promoted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from app.config import Settings
from app.lifecycle.datasets import backend_sample, calibration_texts, local_pools
from app.sentiment import versions
from app.sentiment.classifier import Classifier
from app.sentiment.data import Pools
from app.sentiment.dynamic_batching import DynamicBatcher
from app.sentiment.registry import ModelNotFoundError, current_model_dir

log = logging.getLogger(__name__)

NO_MODEL = "No trained model yet: run `textflix train` (about 5 minutes on a CPU), then restart."


def load_model(settings: Settings, path: Path) -> Classifier:
    """The classifier saved in `path`, on the device, backend, threads and sentence reading the
    settings ask for: the one way the app loads a model (to serve, compare or re-score)."""
    # The held-out sample and the calibration texts come from one reading of the dataset
    # (about 6 s; a cascade's two models want both), fetched only if a backend is measured,
    # and let go once the model is loaded.
    read: dict[str, Pools | None] = {}

    def pools() -> Pools | None:
        if "pools" not in read:
            read["pools"] = local_pools(settings=settings)
        return read["pools"]

    size = settings.backend_sample_size
    try:
        return versions.load(
            path,
            device=settings.device,
            backend=settings.model_backend,
            threads=settings.model_threads,
            sentences=settings.sentence_scores,
            sample=(lambda: backend_sample(pools(), size=size)) if size else None,
            calibration=lambda: calibration_texts(pools()),
        )
    finally:
        read.clear()


def load_current(settings: Settings) -> tuple[Classifier | None, str | None]:
    """The current model from models/, or None and a sentence saying how to get one."""
    path = current_model_dir(settings.models_dir)
    if path is None:
        return None, NO_MODEL
    try:
        return load_model(settings, path), None
    except (ModelNotFoundError, OSError, ValueError) as exc:
        log.exception("could not load the model in %s", path)
        return None, f"The model in {path} could not be loaded ({exc}): run `textflix train`."


Loader = Callable[[], tuple[Classifier | None, str | None]]


class ModelHolder:
    """Hands out the current classifier; a changed `marker` file (models/CURRENT) means that
    another version was promoted, by this process or by `textflix promote`, so load that."""

    def __init__(
        self,
        *,
        classifier: Classifier | None = None,
        problem: str | None = None,
        loader: Loader | None = None,
        marker: Path | None = None,
    ) -> None:
        self._classifier = classifier
        self.problem = problem
        self._loader = loader
        self._marker = marker
        self._seen = self._stamp()
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, str] | None:
        if self._marker is None or not self._marker.exists():
            return None
        return (self._marker.stat().st_mtime_ns, self._marker.read_text().strip())

    def load(self) -> None:
        """Load the current model now (at start-up)."""
        if self._loader is not None:
            with self._lock:
                self._seen = self._stamp()
                self._classifier, self.problem = self._loader()

    def get(self) -> Classifier | None:
        """The classifier to use for this request, reloading first if the marker changed."""
        if self._loader is not None and self._marker is not None:
            stamp = self._stamp()
            if stamp != self._seen:
                with self._lock:
                    if stamp != self._seen:
                        log.info("models/CURRENT changed: loading %s", stamp and stamp[1])
                        classifier, problem = self._loader()
                        self._seen = stamp
                        if classifier is not None or self._classifier is None:
                            self._classifier, self.problem = classifier, problem
        return self._classifier


class InteractiveModels:
    """The classifier for what people wait on (posting, editing, /api/sentiment): the current
    one behind a DynamicBatcher, so that concurrent requests share forward passes, or the
    current one itself with `dynamic_batching` off. Background workers keep using the
    ModelHolder, with batches of their own."""

    def __init__(self, models: ModelHolder, *, settings: Settings) -> None:
        self._models = models
        self._settings = settings
        self._batcher: DynamicBatcher | None = None
        self._lock = threading.Lock()

    def get(self) -> Classifier | None:
        """The classifier for this request; a newly loaded version gets a batcher of its own."""
        classifier = self._models.get()
        if classifier is None or not self._settings.dynamic_batching:
            return classifier
        with self._lock:
            if self._batcher is None or self._batcher.classifier is not classifier:
                if self._batcher is not None:  # what it holds is scored by the old version
                    self._batcher.close(drain=True)
                self._batcher = DynamicBatcher(
                    classifier,
                    max_wait_ms=self._settings.batch_max_wait_ms,
                    max_batch=self._settings.batch_max_texts,
                    queue_size=self._settings.batch_queue_size,
                )
            return self._batcher

    def close(self, *, timeout: float) -> None:
        """Stop batching: queued requests fail at once (503), the pass in flight finishes."""
        with self._lock:
            batcher, self._batcher = self._batcher, None
        if batcher is not None:
            batcher.close(timeout=timeout)
