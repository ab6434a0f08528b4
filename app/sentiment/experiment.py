"""The learning curve: accuracy against the number of labeled reviews, per model.

Each (model, n, seed) run trains on a balanced random sample of n aclImdb *train* reviews and
is scored on one fixed sample of the *test* split, which nothing ever trains or tunes on.
Finished runs are appended to a CSV file at once, so an interrupted experiment resumes where
it stopped.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from tqdm import tqdm

from app.config import Settings
from app.importers.aclimdb import AclImdbReview, iter_reviews
from app.sentiment import training
from app.sentiment.baselines import NBSVM, TokenEmbedder, WordVectorBaseline
from app.sentiment.classifier import TransformerClassifier
from app.sentiment.learning_curve import (
    MODELS,
    Run,
    append_result,
    first_of_each,
    read_results,
)
from app.sentiment.text import clean

TEST_SPLIT_SIZE = 25_000
# The fine-tuned models of the curve: the trainer's recipe, and the same with a random head.
FINETUNE_HEADS = {"finetune": "anchors", "finetune-random-head": "random"}
_EVAL_SEED = "eval"  # the one test sample every run is scored on

Example = tuple[str, int]
PredictProba = Callable[[Sequence[str]], list[float]]


@dataclass(frozen=True)
class FinetuneParams:
    """Hyper-parameters for the "finetune" runs: by default those of `textflix train`, so the
    curve measures the model the site would serve."""

    epochs: int | None = None  # None: training.default_epochs(n)
    lr: float = training.DEFAULT_LR
    batch_size: int = training.DEFAULT_BATCH_SIZE
    max_length: int = training.DEFAULT_MAX_LENGTH
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
    if (
        set(models) & set(FINETUNE_HEADS)
        and max(sizes, default=0) + finetune.n_validation > TEST_SPLIT_SIZE
    ):
        raise ValueError("the largest size leaves no train reviews for fine-tuning validation")
    recorded_size = TEST_SPLIT_SIZE if eval_size is None else eval_size
    recorded = first_of_each(read_results(results_path=results_path))
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

    def train_texts(self) -> list[str]:
        """Every train review's text, without its label (negatives first): unlabeled data."""
        reviews = self._pools.get(("train", 0), []) + self._pools.get(("train", 1), [])
        return [clean(review.text) for review in reviews]

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
        if model in FINETUNE_HEADS:
            accuracy, seconds = self._finetune(
                examples=examples,
                n=n,
                seed=seed,
                head_init=FINETUNE_HEADS[model],
                progress=progress,
            )
        else:
            baseline = NBSVM() if model == "nbsvm" else WordVectorBaseline(embedder=self.embedder)
            start = time.perf_counter()
            baseline.fit([text for text, _ in examples], [y for _, y in examples], seed=seed)
            seconds = time.perf_counter() - start
            accuracy = evaluate(predict_proba=baseline.predict_proba, examples=self.evaluation)
        finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return Run(model, n, seed, accuracy, round(seconds, 3), len(self.evaluation), finished_at)

    def _finetune(
        self, *, examples: list[Example], n: int, seed: int, head_init: str, progress: bool
    ) -> tuple[float, float]:
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
                epochs=params.epochs or training.default_epochs(n),
                lr=params.lr,
                batch_size=params.batch_size,
                max_length=params.max_length,
                device=device,
                progress=progress,
                head_init=head_init,
            )
            classifier = TransformerClassifier.from_pretrained(out_dir, device=device)

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
