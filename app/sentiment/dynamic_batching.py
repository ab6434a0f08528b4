"""Dynamic batching: texts that concurrent callers send one at a time, scored together.

A `DynamicBatcher` wraps any Classifier and is one itself. Callers (web requests, each in a
thread of its own) join one bounded queue; one batching thread takes the oldest request, and
with it every queued request of the same kind (predict or analyze) up to `max_batch` texts, and
runs them through the wrapped classifier in one call. Each caller gets back its own texts'
results, or the exception its texts raised.

When to wait for more: a request that finds the thread idle is run at once, alone, with no
added wait. Only when requests arrived while the previous pass ran (a burst is under way) does
the thread wait up to `max_wait_ms` for more, so that the next pass is fuller.

A classifier that can split its work (the engine's `prepare` and `run`) has each caller do
everything before the model in the caller's own thread (tokenising, windows), so that the
batching thread only runs the encoder and pools: callers overlap their preparation with the
pass in flight instead of waiting for the one thread to do it for all of them in series.

A full queue refuses a request at once with `Overloaded`, and a closed batcher with
`BatcherClosed`; both are `Unavailable` and say when to try again (`retry_after`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from app.sentiment.classifier import Classifier, analyze
from app.sentiment.predictions import Analysis, Kind, Prediction

log = logging.getLogger(__name__)


@runtime_checkable
class Preparing(Protocol):
    """A classifier whose calls split into a preparation, done by each caller, and one run of
    the model for many prepared calls together (the engine)."""

    def prepare(self, kind: Kind, texts: Sequence[str]) -> Any:
        """Everything before the model, for one call."""
        ...

    def run(self, prepared: Sequence[Any]) -> Sequence[Sequence[Any]]:
        """Each prepared call's results, in order, from one pass."""
        ...


class Unavailable(RuntimeError):
    """The batcher cannot take a request now; try again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """The queue is full."""


class BatcherClosed(Unavailable):
    """The batcher was closed (the server is stopping, or another version took over)."""


@dataclass(eq=False)
class _Request:
    kind: Kind
    texts: Sequence[str]
    prepared: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Any] = field(default_factory=list)
    error: BaseException | None = None

    def finish(self, result: list[Any] | None = None, error: BaseException | None = None) -> None:
        self.result, self.error = result or [], error
        self.done.set()


class DynamicBatcher:
    """A Classifier that scores concurrent callers' texts together, in one thread."""

    def __init__(
        self,
        classifier: Classifier,
        *,
        max_wait_ms: float = 5.0,
        max_batch: int = 32,
        queue_size: int = 64,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and queue_size must be at least 1, max_wait_ms >= 0")
        self.classifier = classifier
        self.version = classifier.version
        self.max_wait = max_wait_ms / 1000
        self.max_batch = max_batch
        self.queue_size = queue_size
        self.waits = 0
        """Passes for which the thread waited for more requests (bursts only)."""
        self._queue: deque[_Request] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._burst = False
        self._seconds_per_text: float | None = None
        self._thread: threading.Thread | None = None

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """The wrapped classifier's predictions, computed in a batch with other callers'."""
        return self._submit("predict", texts)

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        """The wrapped classifier's analyses (see classifier.analyze), batched likewise."""
        return self._submit("analyze", texts)

    @property
    def pending(self) -> int:
        """Requests waiting in the queue (not those being scored)."""
        with self._condition:
            return len(self._queue)

    def close(self, *, drain: bool = False, timeout: float | None = None) -> None:
        """Refuse new requests. Queued ones are scored first with `drain`, else they fail
        with BatcherClosed at once; the pass in flight is finished either way. Waits up to
        `timeout` seconds for the thread (None: not at all)."""
        with self._condition:
            self._closed = True
            abandoned = [] if drain else list(self._queue)
            if not drain:
                self._queue.clear()
            self._condition.notify_all()
            thread = self._thread
        for request in abandoned:
            request.finish(error=self._closed_error())
        if thread is not None and timeout is not None:
            thread.join(timeout)

    def _submit(self, kind: Kind, texts: Sequence[str]) -> list[Any]:
        if not texts:
            return []
        request = _Request(kind, list(texts))
        if isinstance(self.classifier, Preparing):
            request.prepared = self.classifier.prepare(kind, request.texts)  # in this thread
        with self._condition:
            if self._closed:
                raise self._closed_error()
            if len(self._queue) >= self.queue_size:
                retry_after = self._retry_after()
                raise Overloaded(
                    f"The model is busy ({len(self._queue)} requests waiting): try again in "
                    f"{retry_after} s.",
                    retry_after=retry_after,
                )
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"batcher-{self.version}", daemon=True
                )
                self._thread.start()
            self._condition.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _closed_error(self) -> BatcherClosed:
        return BatcherClosed(
            "The model is being stopped or replaced: try again in 1 s.", retry_after=1
        )

    def _retry_after(self) -> int:
        """Seconds until the queue should have room: its texts at the rate measured so far."""
        queued = sum(len(request.texts) for request in self._queue)
        return max(1, math.ceil(queued * (self._seconds_per_text or 0.0)))

    def _run(self) -> None:
        batch: list[_Request] | None = None
        try:
            while (batch := self._next_batch()) is not None:
                self._score(batch)
        finally:  # never leave a caller waiting, even if this thread dies of a bug
            with self._condition:
                self._closed = True
                abandoned = [*(batch or []), *self._queue]
                self._queue.clear()
            for request in abandoned:
                if not request.done.is_set():
                    request.finish(error=self._closed_error())

    def _next_batch(self) -> list[_Request] | None:
        """The oldest request and what can join it; None once closed and empty."""
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            if not self._queue:
                return None
            batch = self._take([])
            deadline = time.monotonic() + self.max_wait
            if self._burst and self.max_wait > 0 and self._room(batch) and not self._closed:
                self.waits += 1
                while self._room(batch) and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                    batch = self._take(batch)
            return batch

    def _take(self, batch: list[_Request]) -> list[_Request]:
        """`batch` plus the queued requests of its kind that fit in it, oldest first."""
        kind = batch[0].kind if batch else self._queue[0].kind
        size = sum(len(request.texts) for request in batch)
        kept: deque[_Request] = deque()
        for request in self._queue:
            if request.kind == kind and (not batch or size + len(request.texts) <= self.max_batch):
                batch.append(request)
                size += len(request.texts)
            else:
                kept.append(request)
        self._queue = kept
        return batch

    def _room(self, batch: list[_Request]) -> bool:
        return sum(len(request.texts) for request in batch) < self.max_batch

    def _score(self, batch: list[_Request]) -> None:
        n_texts = sum(len(request.texts) for request in batch)
        started = time.perf_counter()
        try:
            results = self._call(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(error=exc)
            else:  # whose texts failed? Each request alone tells, and the others get results.
                log.warning(
                    "a batch of %d requests failed (%s): scoring each alone", len(batch), exc
                )
                for request in batch:
                    self._score([request])
            return
        finally:
            with self._condition:
                # Requests that arrived during this pass mean a burst: gather before the next.
                self._burst = bool(self._queue)
        elapsed = time.perf_counter() - started
        per_text = elapsed / n_texts
        previous = self._seconds_per_text
        self._seconds_per_text = per_text if previous is None else 0.8 * previous + 0.2 * per_text
        for request, result in zip(batch, results, strict=True):
            request.finish(result=result)

    def _call(self, batch: list[_Request]) -> list[list[Any]]:
        """Each request's results, from one call of the wrapped classifier."""
        if isinstance(self.classifier, Preparing) and all(r.prepared is not None for r in batch):
            per_request = [
                list(results)
                for results in self.classifier.run([request.prepared for request in batch])
            ]
        else:
            texts = [text for request in batch for text in request.texts]
            flat: list[Any] = (
                self.classifier.predict(texts)
                if batch[0].kind == "predict"
                else analyze(self.classifier, texts)
            )
            per_request, position = [], 0
            for request in batch:
                per_request.append(flat[position : position + len(request.texts)])
                position += len(request.texts)
            if len(flat) != len(texts):
                raise RuntimeError(
                    f"{self.version} returned {len(flat)} results for {len(texts)} texts"
                )
        for request, results in zip(batch, per_request, strict=True):
            if len(results) != len(request.texts):
                raise RuntimeError(
                    f"{self.version} returned {len(results)} results for {len(request.texts)} texts"
                )
        return per_request
