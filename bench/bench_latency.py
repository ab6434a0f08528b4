"""Latency of interactive scoring: a review alone, and concurrent clients with and without the
dynamic batcher, side by side in one run.

    python bench/bench_latency.py --model models/NAME [--clients 8] [--requests 25]
        [--rounds 2] [--runs 30] [--max-wait-ms 5] [--max-batch 32] [--backend auto]
        [--target-p95-ms 150]

The model is loaded as the site loads it (TEXTFLIX_* settings; `--backend` overrides the
backend). Every request is what a post or /api/sentiment asks of the model: one review, scored
whole and sentence by sentence (`analyze`). On balanced aclImdb test reviews it measures:

- one median-length review scored alone, `--runs` times: straight through the engine, and
  through an idle batcher (which should add nothing);
- `--clients` threads, each scoring `--requests` reviews one after another (a closed loop,
  like people waiting for their answer), once calling the engine directly as the site did
  before batching, once through one DynamicBatcher; `--rounds` alternate the two, so that
  drift in a shared machine's load falls on both alike.

Prints p50/p95 latency, throughput (per wall-clock second, and per second of this process's
CPU time: on a machine shared with other jobs, eight busy threads take a larger share of the
cores than one, which the wall-clock figure rewards) and the batched/direct ratios; then the
cores' limit: the same reviews scored offline in the engine's own large batches (the most
reviews a second these cores give this model), and what Little's law makes of it. Clients that
each wait for their answer before asking again wait, on average, clients / throughput, however
the requests are ordered or batched; so the throughput a p95 target needs, at the spread of
latencies this run measured, is set beside the throughput the cores reach. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

# This checkout's app, even where the environment has another copy of the project installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.lifecycle.datasets import aclimdb_pools  # noqa: E402
from app.lifecycle.serving import load_model  # noqa: E402
from app.sentiment.classifier import Classifier, Prediction, analyze  # noqa: E402
from app.sentiment.dynamic_batching import DynamicBatcher  # noqa: E402
from app.sentiment.predictions import Analysis  # noqa: E402


@dataclass
class Row:
    """One way of scoring: every request's latency, and the wall and CPU time (of this whole
    process) they took together."""

    name: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def p(self, percent: int) -> float:
        """The latency (ms) that `percent` % of requests stayed within."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[percent - 1]

    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def cpu_rate(self) -> float:
        return len(self.latencies) / self.cpu_seconds


class CountingClassifier:
    """The model, with the number of texts of each call it gets recorded."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.version = classifier.version
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(len(texts))
        return self.classifier.predict(texts)

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        self.calls.append(len(texts))
        return analyze(self.classifier, texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained model folder")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25, help="per client and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30, help="of the review scored alone")
    parser.add_argument("--max-wait-ms", type=float, default=None)
    parser.add_argument("--max-batch", type=int, default=None)
    parser.add_argument("--backend", default=None, help="default: TEXTFLIX_MODEL_BACKEND")
    parser.add_argument(
        "--target-p95-ms", type=float, default=150.0, help="the p95 the limit line measures against"
    )
    args = parser.parse_args()

    settings = Settings()
    if args.backend:
        settings = settings.model_copy(update={"model_backend": args.backend})
    max_wait_ms = args.max_wait_ms if args.max_wait_ms is not None else settings.batch_max_wait_ms
    max_batch = args.max_batch or settings.batch_max_texts
    started = time.perf_counter()
    model = CountingClassifier(load_model(settings, args.model))
    loaded = time.perf_counter() - started
    n_texts = args.clients * args.requests * args.rounds
    texts = [
        text for text, _ in aclimdb_pools(settings=settings, progress=False).eval_sample(n_texts)
    ]
    median = sorted(texts, key=len)[len(texts) // 2]
    engine = model.classifier
    print(
        f"model     {args.model.name}, backend {getattr(engine, 'backend', '-')}, "
        f"{torch.get_num_threads()} intra-op threads, loaded in {loaded:.1f} s"
    )
    print(
        f"reviews   {len(texts)} aclImdb test reviews, characters: median {len(median)}, "
        f"mean {statistics.mean(len(t) for t in texts):.0f}; each request: one review, "
        "whole and by sentence"
    )
    print(f"batcher   max wait {max_wait_ms:g} ms, max batch {max_batch} texts")
    analyze(engine, texts[:4])  # warm-up: lazy initialisation, not scoring

    batcher = DynamicBatcher(model, max_wait_ms=max_wait_ms, max_batch=max_batch)
    rows = [Row("alone, engine directly"), Row("alone, through the batcher")]
    for _ in range(args.runs):  # alternating, like the rounds below
        for row, scorer in zip(rows, (engine, batcher), strict=True):
            cpu = time.process_time()
            row.latencies.append(timed_ms(scorer, median))
            row.seconds += row.latencies[-1] / 1000
            row.cpu_seconds += time.process_time() - cpu
    direct = Row(f"{args.clients} clients, engine directly")
    batched = Row(f"{args.clients} clients, dynamic batcher")
    calls_before = len(model.calls)
    for round_ in range(args.rounds):
        for row, scorer in ((direct, engine), (batched, batcher)):
            concurrent(row, scorer, texts[round_ :: args.rounds], clients=args.clients)
            print(f"  round {round_ + 1}: {row.name} done", file=sys.stderr, flush=True)
    batcher.close(timeout=60)
    passes = model.calls[calls_before:]
    started = time.perf_counter()
    analyze(engine, texts)  # the clients' reviews, offline: the engine batches them its own way
    offline_rate = len(texts) / (time.perf_counter() - started)
    print_table([*rows, direct, batched])
    print(
        f"\nbatched / direct, {args.clients} clients: throughput "
        f"x{batched.rate() / direct.rate():.2f} (per CPU-second "
        f"x{batched.cpu_rate() / direct.cpu_rate():.2f}), p50 x{batched.p(50) / direct.p(50):.2f}, "
        f"p95 x{batched.p(95) / direct.p(95):.2f}; the batcher ran {len(passes)} passes for "
        f"{sum(passes)} requests (mean {statistics.mean(passes):.1f}, largest {max(passes)})"
    )
    print_limit(
        batched,
        offline_rate=offline_rate,
        clients=args.clients,
        target_ms=args.target_p95_ms,
    )


def concurrent(row: Row, scorer: Classifier, texts: list[str], *, clients: int) -> None:
    """Each client scores its share of `texts` one by one, waiting for each answer."""

    def client(index: int) -> list[float]:
        return [timed_ms(scorer, text) for text in texts[index::clients]]

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        row.latencies += [ms for share in pool.map(client, range(clients)) for ms in share]
    row.seconds += time.perf_counter() - started
    row.cpu_seconds += time.process_time() - cpu


def print_limit(batched: Row, *, offline_rate: float, clients: int, target_ms: float) -> None:
    """The cores' limit on latency under `clients` closed-loop clients (Little's law)."""
    mean_ms = statistics.mean(batched.latencies)
    spread = batched.p(95) / mean_ms
    needed = clients * spread / (target_ms / 1000)
    print(
        f"\nthe cores' limit: the same reviews offline, in the engine's own batches: "
        f"{offline_rate:.1f} reviews/s. {clients} clients that wait for each answer wait "
        f"{clients} / throughput on average (Little's law): {1000 * clients / offline_rate:.0f} ms "
        f"at that rate; through the batcher {batched.rate():.1f} reviews/s, so "
        f"{1000 * clients / batched.rate():.0f} ms (measured mean {mean_ms:.0f} ms, p95 "
        f"{batched.p(95):.0f} ms = {spread:.2f} x the mean). A p95 under {target_ms:g} ms at "
        f"that spread needs about {needed:.0f} reviews/s through the batcher: "
        + (
            "no more than this run reached"
            if needed <= batched.rate()
            else f"within the cores' {offline_rate:.0f}, so the batcher's smaller passes "
            f"({100 * batched.rate() / offline_rate:.0f}% of the offline rate) are what is short"
            if needed <= offline_rate
            else f"more than the cores' {offline_rate:.0f} (a faster model, runtime or more cores)"
        )
    )


def timed_ms(scorer: Classifier, text: str) -> float:
    started = time.perf_counter()
    analyze(scorer, [text])
    return 1000 * (time.perf_counter() - started)


def print_table(rows: list[Row]) -> None:
    print(
        f"\n{'':<32} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'reviews/s':>9} "
        f"{'CPU s':>7} {'reviews/CPU-s':>13}"
    )
    for row in rows:
        print(
            f"{row.name:<32} {len(row.latencies):>8} {row.p(50):>8.1f} {row.p(95):>8.1f} "
            f"{row.rate():>9.1f} {row.cpu_seconds:>7.1f} {row.cpu_rate():>13.1f}"
        )


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
