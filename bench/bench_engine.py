"""The scoring engine beside transformers' pipeline, on the same aclImdb test reviews.

    python bench/bench_engine.py [MODEL_DIR] [--n 2000] [--batch-sizes 8,16,32,64]
                                 [--cheaper SMALL_MODEL_DIR] [--cascade CASCADE_DIR]
                                 [--device cpu|cuda] [--backends fp32,openvino-int8,...]
                                 [--token-budgets 2048,...] [--engine-batch-size 64]

MODEL_DIR defaults to the current model in models/ (`textflix train` makes one). In one run,
on the same N balanced aclImdb test reviews (whole texts):

- the host: CPU, cores, instruction sets (and the GPU with --device cuda), and the backend
  "auto" picks here;
- transformers' pipeline("text-classification") on the saved folder, with its defaults and at
  each batch size (it truncates at 512 tokens);
- the engine on every backend, WITH sentence scores (one pass): reviews/s, accuracy, ratios to
  the pipeline's default and to its best batch size; and the engine with today's old path
  (reviews, then every sentence again in a second pass) for comparison; with several
  --token-budgets, the engine's rows at each (a GPU wants far bigger batches than a CPU);
- how far each backend's P(positive) is from fp32's on the same reviews, and, on CUDA, how
  far fp32 on the GPU is from fp32 on the CPU;
- with --cheaper (repeatable), a cheaper model (such as `textflix train --recipe small`'s
  3-layer student) on every backend, on the same reviews: the speed it buys and the accuracy
  it costs;
- with --cascade, a saved cascade (`textflix cascade FIRST SECOND`) on every backend (both of
  its models on it), on the same reviews: the first model reads every review, the second again
  those the first is unsure of; the share read again is in the row's name; and once as served,
  each model on the backend `auto` chose for it on this host (fp32 where none was measured);
- how one-pass sentence scores compare with separate-pass ones (top quotes, signs);
- latency of one median-length review scored alone (p50, p95);
- the cores' limit: how fast this host multiplies matrices of the encoder's shapes, so how many
  reviews/s its matrix multiplications alone would allow, beside what the engine reaches and
  where a batch's time goes (PyTorch's profiler, by kind of operation); on the CPU only.
Prints figures only; nothing is asserted.

To stand in for an AVX2-only host on an AVX-512 one (the same cores and caches, the runtimes
kept to AVX2; the `capped` line of the output says so; ONNX Runtime and PyTorch's int8
kernels have no such switch and keep AVX-512, so leave `onnx-*` and `int8` out with --backends):

    ONEDNN_MAX_CPU_ISA=AVX2 OV_CPU_MAX_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
        ATEN_CPU_CAPABILITY=avx2 python bench/bench_engine.py ...
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar, get_args

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from app.config import Settings
from app.lifecycle.datasets import aclimdb_pools, calibration_texts
from app.sentiment import backends, torch_thread
from app.sentiment.cascade import Cascade, Members, Reading
from app.sentiment.engine import DEFAULT_BATCH_SIZE, DEFAULT_TOKEN_BUDGET, ScoringEngine
from app.sentiment.labels import label_of
from app.sentiment.predictions import Analysis
from app.sentiment.registry import current_model_dir
from app.sentiment.text import split_sentences

T = TypeVar("T")
CHUNK = 64
"""Reviews handed to the engine per call, as the background scorer does."""
ASKED: set[str] = set()
"""The backends --backends asks for (empty: every one worth measuring here)."""


def measured_backends(device: torch.device) -> list[backends.Backend]:
    """The backends to give rows to: those worth measuring here, less those --backends leaves
    out (fp32 always, the reference of the accuracy rule)."""
    return [b for b in backends.candidates(device) if not ASKED or b in ASKED or b == "fp32"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--n", type=int, default=2000, help="aclImdb test reviews")
    parser.add_argument("--batch-sizes", default="8,16,32,64", help="pipeline batch sizes")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="default: one per core")
    parser.add_argument(
        "--cheaper",
        type=Path,
        action="append",
        default=[],
        help="a cheaper model to measure beside it (repeat for several)",
    )
    parser.add_argument(
        "--cascade", type=Path, default=None, help="a saved cascade to measure beside it"
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--token-budgets",
        default=str(DEFAULT_TOKEN_BUDGET),
        help="the engine's tokens per batch (padding included); several: rows at each",
    )
    parser.add_argument(
        "--backends",
        default="",
        help="only these of the engine's backends, comma-separated (fp32 always; default: "
        "every one worth measuring on this host)",
    )
    parser.add_argument(
        "--engine-batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="windows per batch"
    )
    args = parser.parse_args()
    ASKED.update(b for b in args.backends.split(",") if b)
    unknown = ASKED - set(get_args(backends.Backend))
    if unknown:
        sys.exit(f"no such backend: {', '.join(sorted(unknown))}")
    budgets = [int(b) for b in args.token_budgets.split(",") if b]

    settings = Settings()
    folder = args.model_dir or current_model_dir(settings.models_dir)
    if folder is None:
        sys.exit(f"no trained model in {settings.models_dir}: run `textflix train` first")
    pools = aclimdb_pools(settings=settings, progress=False)
    # What `openvino-int8` calibrates on, as the app gives it (aclImdb train reviews).
    calibration = functools.partial(calibration_texts, pools)
    engine = ScoringEngine.from_pretrained(
        folder,
        device=args.device,
        backend="fp32",
        threads=args.threads,
        batch_size=args.engine_batch_size,
        token_budget=budgets[0],
        calibration=calibration,
    )
    examples = pools.eval_sample(args.n)
    texts, labels = [text for text, _ in examples], [label for _, label in examples]
    lengths = [len(engine.tokenizer(t, verbose=False)["input_ids"]) for t in texts]

    describe_host(engine, folder)
    print(
        f"reviews   {len(texts)} aclImdb test reviews (balanced), tokens: median "
        f"{statistics.median(lengths):.0f}, mean {statistics.mean(lengths):.0f}, "
        f"max {max(lengths)}; model {folder.name}, window {engine.window + 2} tokens"
    )

    rows: list[tuple[str, float, float]] = []
    for batch_size in [None, *(int(b) for b in args.batch_sizes.split(",") if b)]:
        # In the engine's PyTorch thread too: PyTorch run from a second thread of the process
        # would slow bf16 for both (see app/sentiment/torch_thread.py).
        rows.append(
            torch_thread.run(run_pipeline, folder, texts, labels, batch_size, engine.device)
        )
        print_progress(rows[-1])

    analyses: dict[str, list[Analysis]] = {}
    for budget in budgets:
        engine.token_budget = budget
        label = f", {budget} tokens" if len(budgets) > 1 else ""
        analyses = engine_rows(engine, texts, labels, rows, budget=label)
    engine.token_budget = budgets[0]

    engine.use_backend("fp32")
    sentences = [split_sentences(text) for text in texts]
    flat = [sentence for per_review in sentences for sentence in per_review]
    review_seconds, _ = timed(lambda: engine.predict(texts))
    sentence_seconds, separate = timed(lambda: engine.predict(flat))
    rows.append(
        (
            "engine fp32, sentences in a 2nd pass",
            review_seconds + sentence_seconds,
            accuracy(analyses["fp32"], labels),
        )
    )
    for cheaper_dir in args.cheaper:
        cheaper = ScoringEngine.from_pretrained(
            cheaper_dir,
            device=args.device,
            backend="fp32",
            threads=args.threads,
            batch_size=args.engine_batch_size,
            token_budget=budgets[0],
            calibration=calibration,
        )
        layers = cheaper.model.config.encoder.num_hidden_layers
        engine_rows(cheaper, texts, labels, rows, model=f" [{layers} layers]")
        print(f"cheaper   {cheaper_dir.name}: [{layers} layers] in the table")
    if args.cascade is not None:
        members = Members.load(args.cascade)
        first, second = (
            ScoringEngine.from_pretrained(
                args.cascade.parent / name,
                device=args.device,
                backend="fp32",
                threads=args.threads,
                batch_size=args.engine_batch_size,
                token_budget=budgets[0],
                calibration=calibration,
            )
            for name in (members.first, members.second)
        )
        cascade_rows(Cascade(first, second, certainty=members.certainty), texts, labels, rows)
        print(
            f"cascade   {args.cascade.name}: {members.first} "
            f"[{first.model.config.encoder.num_hidden_layers} layers], then {members.second} "
            f"[{second.model.config.encoder.num_hidden_layers} layers] on the reviews it is "
            f"less than {members.certainty:g} sure of"
        )
    print_table(rows, n=len(texts))
    print_auto(engine, folder, [row for row in rows if "layers]" not in row[0]])
    print_agreement(engine, analyses, folder, texts, threads=args.threads)
    print_quotes(analyses["fp32"], [p.p_positive for p in separate])
    print_latency(engine, texts, lengths, runs=args.latency_runs)
    if engine.device.type == "cpu":
        torch_thread.run(print_ceiling, engine, texts, lengths, rows)


def describe_host(engine: ScoringEngine, folder: Path) -> None:
    host = backends.host()
    sets = ", ".join(host["instruction_sets"]) or "none of AVX2/AVX-512/VNNI/AMX"
    print(f"host      {host['cpu']}, {host['cores']} cores ({sets})")
    if host.get("isa_caps"):
        caps = ", ".join(f"{name}={value}" for name, value in host["isa_caps"].items())
        print(f"capped    {caps} (ONNX Runtime and PyTorch's int8 keep the CPU's own)")
    if engine.device.type == "cuda":
        print(
            f"gpu       {torch.cuda.get_device_name(engine.device)}, torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}"
        )
    print(
        f"batches   up to {engine.token_budget} tokens and {engine.batch_size} windows "
        f"on {engine.device.type}"
    )
    print(f"threads   {engine.threads} intra-op (torch and ONNX Runtime)")
    key = backends.cache_key(
        fingerprint=backends.weights_fingerprint(engine.model),
        threads=engine.threads,
        device=engine.device,
        calibrated=engine.calibration is not None,
    )
    cached = backends.cached_choice(folder / backends.ENGINE_DIR, key)
    print(f"auto      {cached or 'not measured yet on this host (see the end)'}")


def engine_rows(
    engine: ScoringEngine,
    texts: list[str],
    labels: list[int],
    rows: list[tuple[str, float, float]],
    *,
    model: str = "",
    budget: str = "",
) -> dict[str, list[Analysis]]:
    """The engine on every backend, sentence scores included: a row each, added to `rows`."""
    analyses: dict[str, list[Analysis]] = {}
    for backend in measured_backends(engine.device):
        engine.use_backend(backend)
        seconds, analyses[backend] = timed(lambda: score(engine, texts))
        name = f"engine {backend}{model}, sentences in one pass{budget}"
        rows.append((name, seconds, accuracy(analyses[backend], labels)))
        print_progress(rows[-1])
    return analyses


def cascade_rows(
    cascade: Cascade, texts: list[str], labels: list[int], rows: list[tuple[str, float, float]]
) -> None:
    """The cascade on every backend (both its models on it), then as served (each model on the
    backend auto chose for it here), sentence scores included."""
    layers = [m.model.config.encoder.num_hidden_layers for m in (cascade.first, cascade.second)]
    served = [m.choose_backend(None) for m in (cascade.first, cascade.second)]
    settings = [(backend, backend, backend) for backend in measured_backends(cascade.first.device)]
    settings.append((f"as served {served[0]}>{served[1]}", served[0], served[1]))
    for label, first, second in settings:
        cascade.first.use_backend(first)
        cascade.second.use_backend(second)
        cascade.analyze(texts[:4])  # warm-up: lazy initialisation, not scoring
        cascade.reading = Reading()
        seconds, analyses = timed(
            lambda: [
                a
                for start in range(0, len(texts), CHUNK)
                for a in cascade.analyze(texts[start : start + CHUNK])
            ]
        )
        again = cascade.reading.share_read_again
        name = f"cascade {label} [{layers[0]}>{layers[1]} layers, {again:.0%} again]"
        rows.append((name, seconds, accuracy(analyses, labels)))
        print_progress(rows[-1])


def run_pipeline(
    folder: Path,
    texts: list[str],
    labels: list[int],
    batch_size: int | None,
    device: torch.device,
) -> tuple[str, float, float]:
    config = json.loads((folder / "config.json").read_text())
    if "auto_map" in config:
        classify = pipeline(
            "text-classification", model=str(folder), trust_remote_code=True, device=device
        )
    else:  # saved before models carried their modeling code: the same weights, loaded here
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=device)
    options: dict[str, object] = {"truncation": True, "max_length": 512}
    if batch_size is not None:
        options["batch_size"] = batch_size
    classify(texts[:4], **options)  # warm-up
    seconds, results = timed(lambda: classify(texts, **options))
    correct = sum(
        (result["label"] == "positive") == (label == 1)
        for result, label in zip(results, labels, strict=True)
    )
    name = "pipeline, defaults" if batch_size is None else f"pipeline, batch_size={batch_size}"
    return name, seconds, correct / len(texts)


def score(engine: ScoringEngine, texts: Sequence[str]) -> list[Analysis]:
    engine.analyze(texts[:4])  # warm-up: lazy initialisation, not scoring
    return [
        a
        for start in range(0, len(texts), CHUNK)
        for a in engine.analyze(texts[start : start + CHUNK])
    ]


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def accuracy(analyses: Sequence[Analysis], labels: Sequence[int]) -> float:
    return sum(
        label_of(a.prediction.p_positive) == label
        for a, label in zip(analyses, labels, strict=True)
    ) / len(labels)


def print_progress(row: tuple[str, float, float]) -> None:
    print(f"  measured {row[0]}: {row[1]:.1f} s", file=sys.stderr, flush=True)


def print_table(rows: list[tuple[str, float, float]], *, n: int) -> None:
    default = n / rows[0][1]
    best_name, best_seconds, _ = min(
        (r for r in rows if r[0].startswith("pipeline")), key=lambda r: r[1]
    )
    best = n / best_seconds
    print(f"\nbest pipeline batch size: {best_name.removeprefix('pipeline, ')}")
    print(f"{'scorer':<52} {'reviews/s':>9} {'accuracy':>8} {'x default':>9} {'x best':>7}")
    for name, seconds, correct in rows:
        rate = n / seconds
        ratios = f"{rate / default:>9.2f} {rate / best:>7.2f}"
        print(f"{name:<52} {rate:>9.1f} {100 * correct:>7.1f}% {ratios}")


def print_auto(engine: ScoringEngine, folder: Path, rows: list[tuple[str, float, float]]) -> None:
    measured = [
        backends.Measurement(name.split()[1].rstrip(","), 1 / seconds, correct)  # type: ignore[arg-type]
        for name, seconds, correct in rows
        if name.startswith("engine") and "one pass" in name
    ]
    print(
        f"\nauto's rule (fastest within {100 * backends.ACCURACY_TOLERANCE:.1f} point of fp32) "
        f"on these reviews picks: {backends.pick(measured)}"
    )


def print_agreement(
    engine: ScoringEngine,
    analyses: dict[str, list[Analysis]],
    folder: Path,
    texts: list[str],
    *,
    threads: int | None,
) -> None:
    """How far each backend's P(positive) lies from fp32's on the same reviews; for an engine
    on CUDA, also its fp32 from fp32 on the CPU (on the first 200 reviews)."""
    reference = analyses["fp32"]
    reference_sentences = [s.p_positive for a in reference for s in a.sentences]
    print("\nP(positive) beside fp32's on the same reviews and device:")
    for backend, results in analyses.items():
        pairs = [
            (a.prediction.p_positive, r.prediction.p_positive)
            for a, r in zip(results, reference, strict=True)
        ]
        sentences = [s.p_positive for a in results for s in a.sentences]
        print(
            f"  {backend:<10} "
            + differences(pairs, zip(sentences, reference_sentences, strict=True))
        )
    if engine.device.type == "cpu":
        return
    n = min(200, len(texts))
    cpu = ScoringEngine.from_pretrained(folder, device="cpu", backend="fp32", threads=threads)
    on_cpu = cpu.analyze(texts[:n])
    pairs = [
        (a.prediction.p_positive, c.prediction.p_positive)
        for a, c in zip(reference[:n], on_cpu, strict=True)
    ]
    sentence_pairs = zip(
        [s.p_positive for a in reference[:n] for s in a.sentences],
        [s.p_positive for a in on_cpu for s in a.sentences],
        strict=True,
    )
    print(f"  fp32 on {engine.device.type} vs the CPU: " + differences(pairs, sentence_pairs))


def differences(
    reviews: Sequence[tuple[float, float]], sentences: Iterable[tuple[float, float]]
) -> str:
    """Max and mean |difference| of paired probabilities, and how many labels it changes."""
    gaps = [abs(a - b) for a, b in reviews]
    flips = sum(label_of(a) != label_of(b) for a, b in reviews)
    sentence_gaps = [abs(a - b) for a, b in sentences]
    return (
        f"reviews: max |difference| {max(gaps):.4f}, mean {statistics.mean(gaps):.5f}, "
        f"labels changed {flips} of {len(gaps)}; sentences: max {max(sentence_gaps):.4f}"
    )


def print_quotes(one_pass: Sequence[Analysis], separate: Sequence[float]) -> None:
    """How the quotes a review would show change from separate-pass to one-pass scores."""
    flat_one = [s.p_positive for a in one_pass for s in a.sentences]
    signs = sum(label_of(a) == label_of(b) for a, b in zip(flat_one, separate, strict=True))
    position, top_same, bottom_same, reviews, sign_of_quotes = 0, 0, 0, 0, 0
    for analysis in one_pass:
        count = len(analysis.sentences)
        alone = separate[position : position + count]
        position += count
        if count < 2:
            continue
        together = [s.p_positive for s in analysis.sentences]
        reviews += 1
        top, bottom = (
            max(range(count), key=together.__getitem__),
            min(range(count), key=together.__getitem__),
        )
        top_same += top == max(range(count), key=alone.__getitem__)
        bottom_same += bottom == min(range(count), key=alone.__getitem__)
        sign_of_quotes += (label_of(together[top]) == label_of(alone[top])) + (
            label_of(together[bottom]) == label_of(alone[bottom])
        )
    deltas = [abs(a - b) for a, b in zip(flat_one, separate, strict=True)]
    print(
        f"\nsentence scores, one pass (in context) vs separate pass (each sentence alone), "
        f"fp32, {len(flat_one)} sentences of {len(one_pass)} reviews:\n"
        f"  same sign (positive/negative): {100 * signs / len(flat_one):.1f}%; "
        f"mean |difference| in P(positive): {statistics.mean(deltas):.3f}\n"
        f"  reviews with 2+ sentences: {reviews}; most positive quote unchanged in "
        f"{100 * top_same / reviews:.1f}%, most negative in {100 * bottom_same / reviews:.1f}%; "
        f"a chosen quote keeps its separate-pass sign in {50 * sign_of_quotes / reviews:.1f}%"
    )


def print_latency(
    engine: ScoringEngine, texts: list[str], lengths: list[int], *, runs: int
) -> None:
    median = sorted(range(len(texts)), key=lengths.__getitem__)[len(texts) // 2]
    print(
        f"\nlatency of one median-length review ({lengths[median]} tokens) alone, "
        "sentences included:"
    )
    for backend in measured_backends(engine.device):
        engine.use_backend(backend)
        engine.analyze([texts[median]])
        times = []
        for _ in range(runs):
            seconds, _ = timed(lambda: engine.analyze([texts[median]]))
            times.append(1000 * seconds)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        print(f"  {backend:<10} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms")


OPERATION_KINDS = {
    "matrix multiplications": ("addmm", "aten::mm", "bmm", "matmul", "linear"),
    "attention (softmax(QK^T)V)": ("scaled_dot_product", "attention"),
    "GELU": ("gelu",),
    "layer norm": ("layer_norm",),
    "copies and casts": ("copy_", "aten::to", "_to_copy", "contiguous"),
}


def print_ceiling(
    engine: ScoringEngine,
    texts: list[str],
    lengths: list[int],
    rows: list[tuple[str, float, float]],
) -> None:
    """The cores' limit: the encoder's matrix multiplications timed alone at the engine's batch
    shapes, the reviews/s they alone would allow, and where a real batch's time goes."""
    config = engine.model.config.encoder
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    tokens = engine.token_budget
    # Per token and layer: Q, K, V and the attention output (hidden x hidden each), then the
    # feed-forward pair (hidden x inner, inner x hidden); 2 FLOP per multiply-add.
    shapes = [(hidden, 3 * hidden), (hidden, hidden), (hidden, inner), (inner, hidden)]
    flop_per_token_and_layer = 2 * sum(k * n for k, n in shapes)
    flop_per_review = flop_per_token_and_layer * layers * statistics.mean(lengths)
    engine_rates = {name: len(texts) / seconds for name, seconds, _ in rows}
    default = len(texts) / rows[0][1]
    print(
        f"\nthe cores' limit: the encoder's {layers} layers cost "
        f"{flop_per_review / 1e9:.1f} GFLOP of matrix multiplications per mean review "
        f"({statistics.mean(lengths):.0f} tokens); 6x the pipeline's default is "
        f"{6 * default:.0f} reviews/s"
    )
    for backend in measured_backends(engine.device):
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}.get(backend)
        if dtype is None:
            continue
        seconds = sum(linear_seconds(tokens, k, n, dtype=dtype) for k, n in shapes)
        rate = tokens * flop_per_token_and_layer / seconds
        ceiling = rate / flop_per_review
        reached = next(  # at the first token budget, if several were measured
            (
                rate
                for name, rate in engine_rates.items()
                if name.startswith(f"engine {backend}, sentences in one pass")
            ),
            None,
        )
        print(
            f"  {backend:<5} matrix multiplications of {tokens} tokens: {rate / 1e9:,.0f} GFLOP/s, "
            f"so at most {ceiling:,.0f} reviews/s from them alone; the engine reached "
            + (f"{reached:.1f} ({100 * reached / ceiling:.0f}% of that)" if reached else "-")
        )
        engine.use_backend(backend)
        sample = texts[:CHUNK]
        engine.analyze(sample)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            engine.analyze(sample)
        by_kind = dict.fromkeys([*OPERATION_KINDS, "other"], 0.0)
        others: dict[str, float] = {}
        for event in profile.key_averages():
            kind = next(
                (
                    kind
                    for kind, names in OPERATION_KINDS.items()
                    if any(n in event.key for n in names)
                ),
                "other",
            )
            by_kind[kind] += event.self_cpu_time_total
            if kind == "other":
                others[event.key] = event.self_cpu_time_total
        total = sum(by_kind.values()) or 1.0
        shares = ", ".join(f"{kind} {100 * t / total:.0f}%" for kind, t in by_kind.items())
        top = sorted(others.items(), key=lambda item: -item[1])[:4]
        print(
            f"        where {CHUNK} reviews' time goes: {shares} (most of the other: "
            + ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in top)
            + ")"
        )


def linear_seconds(tokens: int, k: int, n: int, *, dtype: torch.dtype, runs: int = 10) -> float:
    """Seconds of one `tokens` x `k` by `k` x `n` linear layer (with bias) in `dtype`."""
    x, w, b = (torch.randn(shape).to(dtype) for shape in [(tokens, k), (n, k), (n,)])
    torch.nn.functional.linear(x, w, b)  # warm-up
    seconds, _ = timed(lambda: [torch.nn.functional.linear(x, w, b) for _ in range(runs)])
    return seconds / runs


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
