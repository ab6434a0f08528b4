"""The learning curve: accuracy against the number of labeled reviews, per model.

Each (model, n, seed) run trains on a balanced random sample of n aclImdb *train* reviews and
is scored on one fixed sample of the *test* split, which nothing ever trains or tunes on.
Finished runs are appended to a CSV file at once, so an interrupted experiment resumes where
it stopped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from tqdm import tqdm

from app.sentiment import training
from app.sentiment.arguments import HeadInit, Precision, TrainingArguments
from app.sentiment.baselines import NBSVM, BaselineClassifier, TokenEmbedder, WordVectorBaseline
from app.sentiment.data import Pools
from app.sentiment.evaluation import evaluate
from app.sentiment.learning_curve import (
    BF16,
    IN_BF16,
    MODELS,
    Run,
    append_result,
    first_of_each,
    read_results,
)
from app.sentiment.recipes import (
    RecipeArguments,
    Resources,
    fine_tuned_teacher,
    teacher_engine,
    train_with_recipe,
)

# The fine-tuned models of the curve: the trainer's recipe, and the same with a random head.
FINETUNE_HEADS: dict[str, HeadInit] = {
    "finetune": "anchors",
    "finetune-random-head": "random",
}
# The recipe's levers, each alone and together; `--recipe best` keeps those that measured better.
LEVERS: dict[str, RecipeArguments] = {
    "finetune-adapted": RecipeArguments(adapt=True, distill=False),
    "finetune-distilled": RecipeArguments(adapt=False, distill=True),
    "finetune-both": RecipeArguments(adapt=True, distill=True),
    # Four times the teacher's soft labels: what more unlabeled reviews bring.
    "finetune-distilled-6k": RecipeArguments(adapt=False, distill=True, unlabeled=6000),
    # Twice those again, in one pass instead of two: more reviews for the student's same steps.
    "finetune-distilled-12k": RecipeArguments(
        adapt=False, distill=True, unlabeled=12000, student_epochs=1
    ),
    # The 6,000 soft labels read four times instead of twice: what more student steps bring.
    "finetune-distilled-6k-4epochs": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, student_epochs=4
    ),
    # And six times: whether the gain of the third and fourth passes goes on.
    "finetune-distilled-6k-6epochs": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, student_epochs=6
    ),
    # Twice the reviews and their soft labels, read 4 times too: more reviews and more passes.
    "finetune-distilled-12k-4epochs": RecipeArguments(
        adapt=False, distill=True, unlabeled=12000, student_epochs=4
    ),
    # The same 4 passes, each over a fresh stretch of every review that the teacher labels in
    # turn: more views of the same reviews (a "consistent and patient" teacher).
    "finetune-distilled-6k-4views": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, student_epochs=4, fresh_windows=True
    ),
    # The best recipe's student (6,000 soft labels, 4 passes) of a teacher fine-tuned for twice
    # the steps (`teacher-128steps`): whether a better teacher makes a better student.
    "finetune-distilled-6k-4epochs-teacher128": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, student_epochs=4, teacher_steps=128
    ),
    # Every unlabeled train review (24,000: the 25,000 less the labeled and calibration
    # samples) labeled once and read once: the best recipe's student steps (24,000 texts in one
    # pass against 6,000 in four) spent on four times the reviews, for four times the labeling.
    "finetune-distilled-24k": RecipeArguments(
        adapt=False, distill=True, unlabeled=24000, student_epochs=1
    ),
    # The same, read twice: the steps of 12,000 read 4 times (which moved the mean) spent on
    # twice the reviews.
    "finetune-distilled-24k-2epochs": RecipeArguments(
        adapt=False, distill=True, unlabeled=24000, student_epochs=2
    ),
    # And 4 times: whether twice those steps again go on lifting the student.
    "finetune-distilled-24k-4epochs": RecipeArguments(
        adapt=False, distill=True, unlabeled=24000, student_epochs=4
    ),
    # The same 4 passes over the 24,000 on windows of half the words (45, 59 tokens on average):
    # about half the cost of a soft-labeled step and of the labeling, so that the steps that
    # lifted the student may fit the recipe's hour; whether a shorter stretch still teaches.
    "finetune-distilled-24k-4epochs-45words": RecipeArguments(
        adapt=False, distill=True, unlabeled=24000, student_epochs=4, window_words=45
    ),
    # Half those reviews in 45-word stretches, read 4 times: half the labeling and the
    # student's steps, whether 12,000 reviews teach as much in short stretches as in long ones.
    "finetune-distilled-12k-4epochs-45words": RecipeArguments(
        adapt=False, distill=True, unlabeled=12000, student_epochs=4, window_words=45
    ),
    # The 6,000 soft labels learned at temperature 2: how sure the teacher is, not only its side.
    "finetune-distilled-6k-t2": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, temperature=2.0
    ),
    # The 6,000-soft-label lever with a student of 3 layers: a cheaper model to serve.
    "finetune-distilled-6k-3layers": RecipeArguments(
        adapt=False, distill=True, unlabeled=6000, student_layers=3
    ),
}
# The levers' teacher itself (fine-tuned on the same labels as every lever's), scored on the
# same test reviews as the students; and the same teacher fine-tuned for twice the steps (4
# epochs of 500 labels instead of 2): whether the students' teacher is trained long enough.
TEACHER = "teacher"
TEACHERS: dict[str, RecipeArguments] = {
    TEACHER: RecipeArguments(),
    "teacher-128steps": RecipeArguments(teacher_steps=128),
}
# Every column above trains in fp32, as it was measured; the `IN_BF16` columns run the quick
# and best recipes, some levers and the teacher in bf16 mixed precision, what `textflix train`
# does on a CPU with bf16 instructions (`TrainingArguments.precision`), to measure what it changes.
RECIPE_MODELS = (*LEVERS, *TEACHERS, *(model for model in IN_BF16 if model != "finetune" + BF16))
"""The models that need the recipe's `Resources`."""
# The baselines of the curve: bag-of-words NB-SVM, and mean token embeddings with a linear model.
BASELINES = ("nbsvm", "wordvec")
RUNNABLE = (*BASELINES, *FINETUNE_HEADS, *LEVERS, *TEACHERS, *IN_BF16)
"""Every model `run_experiment` knows how to train: the curve's `MODELS`, no more, no fewer."""


def run_experiment(
    *,
    pools: Pools,
    base_model: str,
    sizes: Sequence[int],
    seeds: Sequence[int],
    models: Sequence[str] = MODELS,
    eval_size: int | None,
    results_path: Path,
    finetune: TrainingArguments = TrainingArguments(),
    resources: Resources | None = None,
    progress: bool = True,
) -> list[Run]:
    """Run every (model, size, seed) not yet in `results_path`; return all of them, in order.

    A fine-tuned run is exactly `training.train` with `finetune` (its seed and head set per
    run) on `pools.train_sample`, scored on `pools.eval_sample(eval_size)`: the model that
    `textflix train` makes with the same arguments; a lever run is `recipes.train_with_recipe`
    with that lever (it needs `resources`), calibrated on the same texts as `textflix train`
    so that the unlabeled reviews it reads are those `train` reads.
    """
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if min(sizes, default=2) < 2:
        raise ValueError("every size needs at least 2 reviews, one of each label")
    recorded_size = pools.size("test") if eval_size is None else eval_size
    recorded = first_of_each(read_results(results_path=results_path))
    # Seed-major order: a half-finished experiment already has whole curves for some seeds.
    grid = list(dict.fromkeys((m, n, seed) for seed in seeds for n in sizes for m in models))
    finished = {
        job: recorded[(*job, recorded_size)] for job in grid if (*job, recorded_size) in recorded
    }
    pending = [job for job in grid if job not in finished]
    if pending:
        if resources is None and any(model in RECIPE_MODELS for model, _, _ in pending):
            raise ValueError(f"the models {list(RECIPE_MODELS)} need the recipe's resources")
        runner = _Runner(pools, base_model, eval_size=eval_size, args=finetune, resources=resources)
        bar = tqdm(pending, unit="run", desc="learning curve", disable=not progress)
        for job in bar:
            model, n, seed = job
            bar.set_postfix_str(f"{model} n={n} seed={seed}")
            finished[job] = runner.run(model=model, n=n, seed=seed, progress=progress)
            append_result(results_path=results_path, run=finished[job])
    return [finished[job] for job in grid]


class _Runner:
    """Trains and scores one model at a time on samples of the pools."""

    def __init__(
        self,
        pools: Pools,
        base_model: str,
        *,
        eval_size: int | None,
        args: TrainingArguments,
        resources: Resources | None,
    ) -> None:
        self.pools = pools
        self.base_model = base_model
        self.args = args
        self.resources = resources
        self.evaluation = pools.eval_sample(eval_size)

    @cached_property
    def embedder(self) -> TokenEmbedder:
        return TokenEmbedder.from_pretrained(self.base_model)

    def run(self, *, model: str, n: int, seed: int, progress: bool) -> Run:
        name = model
        precision: Precision = "fp32"
        if model in IN_BF16:
            model, precision = model.removesuffix(BF16), "bf16"
        measured = self._run(model=model, n=n, seed=seed, precision=precision, progress=progress)
        return replace(measured, model=name)

    def _run(self, *, model: str, n: int, seed: int, precision: Precision, progress: bool) -> Run:
        examples = self.pools.train_sample(n=n, seed=seed)
        trained_with = replace(self.args, precision=precision)
        if model in FINETUNE_HEADS:
            args = replace(trained_with, seed=seed, head_init=FINETUNE_HEADS[model])
            with tempfile.TemporaryDirectory(prefix="textflix-curve-") as tmp:
                card = training.train(
                    base_model=self.base_model,
                    out_dir=Path(tmp) / "model",
                    train_examples=examples,
                    eval_examples=self.evaluation,
                    args=args,
                    progress=progress,
                )
            accuracy, seconds = card.metrics.get("accuracy"), card.train_seconds
        elif model in LEVERS and self.resources is not None:
            args = replace(trained_with, seed=seed)
            with tempfile.TemporaryDirectory(prefix="textflix-curve-") as tmp:
                card = train_with_recipe(
                    resources=self.resources,
                    recipe=LEVERS[model],
                    out_dir=Path(tmp) / "model",
                    train_examples=examples,
                    eval_examples=self.evaluation,
                    calibration_examples=self.pools.calibration_sample(
                        n=args.calibration_size, seed=seed, disjoint_from=n
                    ),
                    args=args,
                    progress=progress,
                )
            accuracy, seconds = card.metrics.get("accuracy"), card.train_seconds
        elif model in TEACHERS and self.resources is not None:
            teacher = fine_tuned_teacher(
                resources=self.resources,
                recipe=TEACHERS[model],
                train_examples=examples,
                eval_examples=self.evaluation,
                args=replace(trained_with, seed=seed),
                progress=progress,
            )
            accuracy = evaluate(
                classifier=teacher_engine(teacher.path), examples=self.evaluation, progress=progress
            )["accuracy"]
            seconds = teacher.card.train_seconds
        elif model in BASELINES:
            baseline = NBSVM() if model == "nbsvm" else WordVectorBaseline(embedder=self.embedder)
            start = time.perf_counter()
            baseline.fit([text for text, _ in examples], [y for _, y in examples], seed=seed)
            seconds = time.perf_counter() - start
            accuracy = evaluate(
                classifier=BaselineClassifier(baseline, version=model),
                examples=self.evaluation,
                progress=False,
            )["accuracy"]
        else:
            raise ValueError(f"the learning curve has no way to train {model!r}")
        finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if not isinstance(accuracy, float | int):
            raise ValueError(f"{model} n={n} seed={seed} was scored on no test texts")
        return Run(
            model, n, seed, float(accuracy), round(seconds, 3), len(self.evaluation), finished_at
        )
