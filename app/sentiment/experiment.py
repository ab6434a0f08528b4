"""The learning curve: accuracy against the number of labeled reviews, per model.

Each (model, n, seed) run trains on a balanced random sample of n aclImdb *train* reviews and
is scored on one fixed sample of the *test* split, which nothing ever trains or tunes on.
Finished runs are appended to a CSV file at once, so an interrupted experiment resumes where
it stopped.
"""

from __future__ import annotations

import csv
import importlib
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from tqdm import tqdm

from app.config import Settings
from app.importers.aclimdb import AclImdbReview, iter_reviews
from app.sentiment.baselines import NBSVM, TokenEmbedder, WordVectorBaseline
from app.sentiment.text import clean

MODELS = ("nbsvm", "wordvec", "finetune")
LABELS = {
    "nbsvm": "NB-SVM (uni+bigrams)",
    "wordvec": "mean token embeddings + LR",
    "finetune": "fine-tuned all-MiniLM-L6-v2",
}
# What the 2019 prototype reported for BERT-Large (accuracy in %, by labeled reviews).
PROTOTYPE_2019_BERT_LARGE: dict[int, float] = {10: 72.5, 100: 88, 500: 91, 1000: 91.5, 10000: 94.5}
TEST_SPLIT_SIZE = 25_000
_EVAL_SEED = "eval"  # the one test sample every run is scored on

Example = tuple[str, int]
PredictProba = Callable[[Sequence[str]], list[float]]


@dataclass(frozen=True)
class Run:
    """One finished run: a row of the results file."""

    model: str
    n: int
    seed: int
    accuracy: float  # on eval_size test reviews, 0..1
    train_seconds: float
    eval_size: int
    finished_at: str  # ISO 8601, UTC

    @property
    def key(self) -> tuple[str, int, int, int]:
        return (self.model, self.n, self.seed, self.eval_size)


COLUMNS = tuple(field.name for field in fields(Run))


@dataclass(frozen=True)
class FinetuneParams:
    """Hyper-parameters handed to `app.sentiment.training.train` for the "finetune" runs."""

    epochs: int = 4
    lr: float = 5e-5
    batch_size: int = 16
    max_length: int = 256
    # Held out of the train split (never the test split) for the trainer's own evaluation.
    n_validation: int = 200


def run_experiment(
    *,
    settings: Settings,
    sizes: Sequence[int],
    seeds: Sequence[int],
    models: Sequence[str] = MODELS,
    eval_size: int | None,
    results_path: Path,
    finetune: FinetuneParams = FinetuneParams(),
    progress: bool = True,
) -> list[Run]:
    """Run every (model, size, seed) not yet in `results_path`; return all of them, in order."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if min(sizes, default=2) < 2:
        raise ValueError("every size needs at least 2 reviews, one of each label")
    if "finetune" in models and max(sizes, default=0) + finetune.n_validation > TEST_SPLIT_SIZE:
        raise ValueError("the largest size leaves no train reviews for fine-tuning validation")
    recorded_size = TEST_SPLIT_SIZE if eval_size is None else eval_size
    recorded = _first_of_each(read_results(results_path=results_path))
    # Seed-major order: a half-finished experiment already has whole curves for some seeds.
    grid = list(dict.fromkeys((m, n, seed) for seed in seeds for n in sizes for m in models))
    finished = {
        job: recorded[(*job, recorded_size)] for job in grid if (*job, recorded_size) in recorded
    }
    pending = [job for job in grid if job not in finished]
    if pending:
        runner = _Runner(settings=settings, eval_size=eval_size, finetune=finetune)
        bar = tqdm(pending, unit="run", desc="learning curve", disable=not progress)
        for job in bar:
            model, n, seed = job
            bar.set_postfix_str(f"{model} n={n} seed={seed}")
            finished[job] = runner.run(model=model, n=n, seed=seed, progress=progress)
            append_result(results_path=results_path, run=finished[job])
    return [finished[job] for job in grid]


def evaluate(
    *,
    predict_proba: PredictProba,
    examples: Sequence[Example],
    batch_size: int = 256,
    progress: bool = False,
) -> float:
    """Accuracy of `predict_proba` (P(positive) >= 0.5 means positive) on labeled examples."""
    if not examples:
        raise ValueError("cannot evaluate on no examples")
    correct = 0
    starts = range(0, len(examples), batch_size)
    for start in tqdm(starts, desc="evaluating", unit="batch", leave=False, disable=not progress):
        batch = examples[start : start + batch_size]
        scores = predict_proba([text for text, _ in batch])
        correct += sum(
            (p >= 0.5) == bool(label) for p, (_, label) in zip(scores, batch, strict=True)
        )
    return correct / len(examples)


class AclImdbPools:
    """Both aclImdb splits in memory, sampled reproducibly for the learning curve."""

    def __init__(self, reviews: Iterable[AclImdbReview]) -> None:
        pools: dict[tuple[str, int], list[AclImdbReview]] = defaultdict(list)
        for review in reviews:
            pools[review.split, review.label].append(review)
        # Sorting makes samples independent of file order (archive vs unpacked folder).
        self._pools = {key: sorted(pool, key=lambda r: r.review_id) for key, pool in pools.items()}

    @classmethod
    def load(cls, data_dir: Path) -> AclImdbPools:
        """Read aclImdb_v1.tar.gz (or an unpacked aclImdb/) from `data_dir`."""
        for name in ("aclImdb_v1.tar.gz", "aclImdb"):
            if (data_dir / name).exists():
                return cls(iter_reviews(data_dir / name, splits=("train", "test")))
        raise FileNotFoundError(
            f"no aclImdb_v1.tar.gz or aclImdb/ in {data_dir}: set TEXTFLIX_DATA_DIR to the "
            "folder that holds it"
        )

    def train_sample(self, *, n: int, seed: int) -> list[Example]:
        """n balanced train reviews; for one seed a smaller sample is part of a larger one."""
        chosen = [
            review
            for label, count in ((1, (n + 1) // 2), (0, n // 2))
            for review in self._shuffled("train", label, seed, wanted=count)[:count]
        ]
        _rng(f"order-{seed}-{n}").shuffle(chosen)
        return _examples(chosen)

    def validation_sample(self, *, n: int, seed: int, disjoint_from: int) -> list[Example]:
        """n balanced train reviews outside the train_sample of `disjoint_from` reviews."""
        chosen = []
        for label, count in ((1, (n + 1) // 2), (0, n // 2)):
            pool = self._shuffled("train", label, seed, wanted=count)
            used = (disjoint_from + 1) // 2 if label else disjoint_from // 2
            if used + count > len(pool):
                raise ValueError(f"{disjoint_from} training reviews leave too few for validation")
            chosen.extend(pool[len(pool) - count :])  # taken from the end, never trained on
        return _examples(chosen)

    def eval_sample(self, size: int | None) -> list[Example]:
        """`size` balanced test reviews, the same for every run (None: all of them)."""
        if size is None:
            return _examples(self._pools["test", 1] + self._pools["test", 0])
        rng = _rng(_EVAL_SEED)
        chosen = []
        for label, count in ((1, (size + 1) // 2), (0, size // 2)):
            chosen.extend(rng.sample(self._pool("test", label, count), count))
        return _examples(chosen)

    def _shuffled(self, split: str, label: int, seed: int, *, wanted: int) -> list[AclImdbReview]:
        pool = list(self._pool(split, label, wanted))
        _rng(f"{split}-{label}-{seed}").shuffle(pool)
        return pool

    def _pool(self, split: str, label: int, wanted: int) -> list[AclImdbReview]:
        pool = self._pools.get((split, label), [])
        if wanted > len(pool):
            polarity = "positive" if label else "negative"
            raise ValueError(
                f"asked for {wanted} {polarity} {split} reviews; there are {len(pool)}"
            )
        return pool


def read_results(*, results_path: Path) -> list[Run]:
    """The finished runs in a results CSV (none if it does not exist yet)."""
    if not results_path.exists():
        return []
    with results_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    runs = []
    for row in rows:
        try:
            runs.append(
                Run(
                    model=row["model"],
                    n=int(row["n"]),
                    seed=int(row["seed"]),
                    accuracy=float(row["accuracy"]),
                    train_seconds=float(row["train_seconds"]),
                    eval_size=int(row["eval_size"]),
                    finished_at=row["finished_at"],
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a line cut short by a kill: that run is simply done again
    return runs


def append_result(*, results_path: Path, run: Run) -> None:
    """Add one finished run to the results CSV, creating it with a header if needed."""
    results_path.parent.mkdir(parents=True, exist_ok=True)
    new = not results_path.exists() or results_path.stat().st_size == 0
    with results_path.open("a+", newline="", encoding="utf-8") as handle:
        if not new:
            handle.seek(handle.tell() - 1)
            if handle.read(1) != "\n":
                handle.write("\n")  # end a line left half-written by a kill
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(astuple(run))


def summary_table(*, results_path: Path, eval_size: int | None = None) -> str:
    """A Markdown table for the README: accuracy (%) by n and model, mean ± std (seeds)."""
    runs = _runs_on_one_test_sample(results_path, eval_size)
    by_cell = _accuracies(runs)
    models = _models_in(runs)
    sizes = sorted({run.n for run in runs})
    lines = [
        "| labeled reviews | " + " | ".join(LABELS.get(m, m) for m in models) + " |",
        "| ---: | " + " | ".join("---:" for _ in models) + " |",
    ]
    for n in sizes:
        cells = [_cell(by_cell.get((model, n), [])) for model in models]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Accuracy (%) on {runs[0].eval_size:,} aclImdb test reviews: mean ± standard "
        "deviation over seeds (number of seeds)."
    )
    return "\n".join(lines)


def plot_learning_curve(
    *,
    results_path: Path,
    out_path: Path,
    reference: Mapping[int, float] | None = None,
    eval_size: int | None = None,
) -> None:
    """Write a PNG of mean accuracy against n (log axis), one line per model."""
    from matplotlib.figure import Figure  # drawn off-screen: no pyplot, no backend to pick

    runs = _runs_on_one_test_sample(results_path, eval_size)
    by_cell = _accuracies(runs)
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    most_seeds = max(len(accuracies) for accuracies in by_cell.values())
    for model in _models_in(runs):
        sizes = sorted(n for m, n in by_cell if m == model)
        points = [[100 * a for a in by_cell[model, n]] for n in sizes]
        means = [statistics.fmean(p) for p in points]
        low = [mean - min(p) for mean, p in zip(means, points, strict=True)]
        high = [max(p) - mean for mean, p in zip(means, points, strict=True)]
        line = axes.errorbar(
            sizes, means, yerr=[low, high], marker="o", capsize=3, label=LABELS.get(model, model)
        )
        fewer = [
            (n, m) for n, m, p in zip(sizes, means, points, strict=True) if len(p) < most_seeds
        ]
        if fewer:
            axes.plot(
                [n for n, _ in fewer],
                [m for _, m in fewer],
                linestyle="none",
                marker="o",
                markersize=7,
                markerfacecolor="white",
                color=line.lines[0].get_color(),
                zorder=3,  # over the filled marker errorbar drew
            )
    if any(len(accuracies) < most_seeds for accuracies in by_cell.values()):
        axes.plot([], [], "o", color="grey", markerfacecolor="white", label=f"< {most_seeds} seeds")
    if reference:
        ns = sorted(reference)
        axes.plot(
            ns,
            [reference[n] for n in ns],
            "k--",
            marker="x",
            label="2019 prototype, BERT-Large (as reported)",
        )
    ticks = sorted({run.n for run in runs} | set(reference or {}))
    axes.set_xscale("log")
    axes.set_xticks(ticks, labels=[f"{n:,}" for n in ticks])
    axes.minorticks_off()
    axes.set_xlabel("labeled training reviews (aclImdb train)")
    axes.set_ylabel(f"accuracy on {runs[0].eval_size:,} test reviews (%)")
    axes.set_title("Sentiment accuracy by amount of labeled data (bars: min–max over seeds)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=150)


class _Runner:
    """Trains and scores one model at a time on samples of the data, read once."""

    def __init__(
        self, *, settings: Settings, eval_size: int | None, finetune: FinetuneParams
    ) -> None:
        self.settings = settings
        self.finetune = finetune
        self.data = AclImdbPools.load(settings.data_dir)
        self.evaluation = self.data.eval_sample(eval_size)

    @cached_property
    def embedder(self) -> TokenEmbedder:
        return TokenEmbedder.from_pretrained(self.settings.resolved_base_model())

    def run(self, *, model: str, n: int, seed: int, progress: bool) -> Run:
        examples = self.data.train_sample(n=n, seed=seed)
        if model == "finetune":
            accuracy, seconds = self._finetune(examples=examples, n=n, seed=seed, progress=progress)
        else:
            baseline = NBSVM() if model == "nbsvm" else WordVectorBaseline(embedder=self.embedder)
            start = time.perf_counter()
            baseline.fit([text for text, _ in examples], [y for _, y in examples], seed=seed)
            seconds = time.perf_counter() - start
            accuracy = evaluate(predict_proba=baseline.predict_proba, examples=self.evaluation)
        finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return Run(model, n, seed, accuracy, round(seconds, 3), len(self.evaluation), finished_at)

    def _finetune(
        self, *, examples: list[Example], n: int, seed: int, progress: bool
    ) -> tuple[float, float]:
        # Imported by name so that the baselines run before the training code exists.
        training = importlib.import_module("app.sentiment.training")
        classifiers = importlib.import_module("app.sentiment.classifier")
        params, device = self.finetune, self.settings.device
        validation = self.data.validation_sample(n=params.n_validation, seed=seed, disjoint_from=n)
        with tempfile.TemporaryDirectory(prefix="textflix-curve-") as tmp:
            out_dir = Path(tmp) / "model"
            card = training.train(
                base_model=self.settings.resolved_base_model(),
                out_dir=out_dir,
                train_examples=examples,
                eval_examples=validation,
                seed=seed,
                epochs=params.epochs,
                lr=params.lr,
                batch_size=params.batch_size,
                max_length=params.max_length,
                device=device,
                progress=progress,
            )
            classifier = classifiers.TransformerClassifier.from_pretrained(out_dir, device=device)

            def predict_proba(texts: Sequence[str]) -> list[float]:
                return [float(p.p_positive) for p in classifier.predict(texts)]

            accuracy = evaluate(
                predict_proba=predict_proba, examples=self.evaluation, progress=progress
            )
        return accuracy, float(card.train_seconds)


def _rng(name: str) -> random.Random:
    # String seeds hash the same in every process, so samples are the same on every run.
    return random.Random(f"learning-curve-{name}")  # noqa: S311 (sampling, not secrets)


def _examples(reviews: Iterable[AclImdbReview]) -> list[Example]:
    return [(clean(review.text), review.label) for review in reviews]


def _runs_on_one_test_sample(results_path: Path, eval_size: int | None) -> list[Run]:
    runs = list(_first_of_each(read_results(results_path=results_path)).values())
    if not runs:
        raise ValueError(f"no finished runs in {results_path}: run the experiment first")
    sizes = sorted({run.eval_size for run in runs})
    if eval_size is None and len(sizes) > 1:
        raise ValueError(
            f"{results_path} mixes test samples of {sizes} reviews: pass eval_size= to pick one"
        )
    wanted = sizes[0] if eval_size is None else eval_size
    chosen = [run for run in runs if run.eval_size == wanted]
    if not chosen:
        raise ValueError(f"no runs on {wanted} test reviews in {results_path}; there are {sizes}")
    return chosen


def _first_of_each(runs: Iterable[Run]) -> dict[tuple[str, int, int, int], Run]:
    # A run recorded twice (say, by two experiments at once) counts once.
    unique: dict[tuple[str, int, int, int], Run] = {}
    for run in runs:
        unique.setdefault(run.key, run)
    return unique


def _accuracies(runs: Iterable[Run]) -> dict[tuple[str, int], list[float]]:
    cells: dict[tuple[str, int], list[float]] = defaultdict(list)
    for run in runs:
        cells[run.model, run.n].append(run.accuracy)
    return cells


def _models_in(runs: Iterable[Run]) -> list[str]:
    present = {run.model for run in runs}
    return [m for m in MODELS if m in present] + sorted(present - set(MODELS))


def _cell(accuracies: list[float]) -> str:
    if not accuracies:
        return "–"
    mean = 100 * statistics.fmean(accuracies)
    if len(accuracies) == 1:
        return f"{mean:.1f} (1)"
    spread = 100 * statistics.stdev(accuracies)
    return f"{mean:.1f} ± {spread:.1f} ({len(accuracies)})"
