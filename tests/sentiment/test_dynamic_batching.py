"""The dynamic batcher on a fake classifier: every caller gets its own results, bursts share
passes, a lone call runs at once, a full queue refuses, errors reach their caller, close ends it.

Passes are held open by a gate in the fake, so what is queued meanwhile is known exactly: no
test depends on how fast anything runs."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from app.sentiment.classifier import Prediction, analyze
from app.sentiment.dynamic_batching import BatcherClosed, DynamicBatcher, Overloaded
from tests.factories import HANG_GUARD_SECONDS, FakeClassifier, GatedClassifier, wait_until


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        yield pool


def hold_a_pass(batcher: DynamicBatcher, pool: ThreadPoolExecutor) -> Future[list[Prediction]]:
    """A first call that stays inside the classifier until its gate opens."""
    classifier = batcher.classifier
    assert isinstance(classifier, GatedClassifier)
    first = pool.submit(batcher.predict, ["first"])
    assert classifier.entered.wait(HANG_GUARD_SECONDS)
    return first


def queue_up(
    batcher: DynamicBatcher, pool: ThreadPoolExecutor, texts: Sequence[str]
) -> list[Future[list[Prediction]]]:
    """One caller per text, all waiting in the queue once this returns."""
    already = batcher.pending
    futures = [pool.submit(batcher.predict, [text]) for text in texts]
    wait_until(lambda: batcher.pending == already + len(texts))
    return futures


def test_every_caller_gets_its_own_results_under_concurrency(pool: ThreadPoolExecutor) -> None:
    reference = FakeClassifier()
    batcher = DynamicBatcher(FakeClassifier(), max_wait_ms=2, max_batch=8)
    words = ["good", "awful", "great", "dull", "fine", "boring", "superb"]

    def caller(seed: int) -> list[bool]:
        rng = random.Random(seed)  # noqa: S311 - test data
        checks = []
        for n in range(20):
            texts = [
                f"Caller {seed}, text {n}.{i}: " + " ".join(rng.choices(words, k=rng.randint(1, 6)))
                for i in range(rng.randint(1, 3))
            ]
            if n % 2:
                checks.append(batcher.analyze(texts) == analyze(reference, texts))
            else:
                checks.append(batcher.predict(texts) == reference.predict(texts))
        return checks

    results = [check for f in [pool.submit(caller, s) for s in range(16)] for check in f.result()]
    batcher.close(timeout=HANG_GUARD_SECONDS)

    assert len(results) == 16 * 20 and all(results)
    assert batcher.version == "fake-v1"


def test_a_burst_shares_passes_up_to_the_largest_batch(pool: ThreadPoolExecutor) -> None:
    classifier = GatedClassifier()
    batcher = DynamicBatcher(classifier, max_wait_ms=1, max_batch=4)
    first = hold_a_pass(batcher, pool)
    burst = queue_up(batcher, pool, [f"text {i} was great" for i in range(10)])

    classifier.gate.set()

    assert first.result() == FakeClassifier().predict(["first"])
    assert [f.result() for f in burst] == [
        FakeClassifier().predict([f"text {i} was great"]) for i in range(10)
    ]
    assert classifier.calls == [1, 4, 4, 2]
    assert batcher.waits == 1  # only the last pass of the burst had room to wait for more


def test_a_lone_call_is_run_at_once_without_waiting_for_company() -> None:
    classifier, reference = FakeClassifier(), FakeClassifier()
    batcher = DynamicBatcher(classifier, max_wait_ms=60_000, max_batch=32)

    assert batcher.predict(["alone"]) == reference.predict(["alone"])
    assert batcher.predict(["alone again"]) == reference.predict(["alone again"])
    assert classifier.calls == [1, 1]
    assert batcher.waits == 0


def test_a_full_queue_refuses_at_once_and_the_queued_still_get_answers(
    pool: ThreadPoolExecutor,
) -> None:
    classifier = GatedClassifier()
    batcher = DynamicBatcher(classifier, queue_size=2)
    first = hold_a_pass(batcher, pool)
    queued = queue_up(batcher, pool, ["second", "third"])

    with pytest.raises(Overloaded, match="busy") as refused:
        batcher.predict(["fourth"])
    classifier.gate.set()

    assert refused.value.retry_after >= 1
    assert len(first.result()) == 1 and [len(f.result()) for f in queued] == [1, 1]


def test_an_error_reaches_only_the_caller_whose_text_caused_it(pool: ThreadPoolExecutor) -> None:
    classifier = GatedClassifier()
    batcher = DynamicBatcher(classifier, max_wait_ms=0)
    first = hold_a_pass(batcher, pool)
    good, bad, also_good = queue_up(batcher, pool, ["good one", "poison", "great one"])

    classifier.gate.set()

    assert first.result() and good.result() == FakeClassifier().predict(["good one"])
    assert also_good.result() == FakeClassifier().predict(["great one"])
    with pytest.raises(ValueError, match="poisoned"):
        bad.result()
    with pytest.raises(ValueError, match="poisoned"):
        batcher.predict(["poison, alone"])
    assert batcher.predict(["still serving"]) == FakeClassifier().predict(["still serving"])
    assert classifier.calls == [1, 3, 1, 1, 1, 1, 1]  # the batch failed, then each alone


def test_close_fails_the_queued_finishes_the_pass_in_flight_and_stops_the_thread(
    pool: ThreadPoolExecutor,
) -> None:
    classifier = GatedClassifier(version="closing")
    batcher = DynamicBatcher(classifier)
    first = hold_a_pass(batcher, pool)
    [queued] = queue_up(batcher, pool, ["queued"])

    batcher.close()
    with pytest.raises(BatcherClosed):
        queued.result()
    with pytest.raises(BatcherClosed):
        batcher.predict(["after close"])
    classifier.gate.set()
    batcher.close(timeout=HANG_GUARD_SECONDS)

    assert first.result() == FakeClassifier().predict(["first"])
    assert "batcher-closing" not in {thread.name for thread in threading.enumerate()}


def test_close_with_drain_scores_what_is_queued(pool: ThreadPoolExecutor) -> None:
    classifier = GatedClassifier()
    batcher = DynamicBatcher(classifier)
    first = hold_a_pass(batcher, pool)
    queued = queue_up(batcher, pool, ["one", "two"])

    batcher.close(drain=True)
    classifier.gate.set()

    assert first.result() and [len(f.result()) for f in queued] == [1, 1]
    with pytest.raises(BatcherClosed):
        batcher.predict(["after close"])
