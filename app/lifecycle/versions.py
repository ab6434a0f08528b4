"""One service for a model version's life: train → evaluate → compare with the current version
on the same held-out reviews → promote (re-score every stored review, then switch) → serve.

The CLI and the web pages both call these functions; the model side (app/sentiment) does the
learning and scoring on the texts handed to it here.

Until a new version has scored everything, the site keeps showing the old version's figures,
so no page ever mixes two versions; an interrupted promotion resumes where it stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from app import stats
from app.config import Settings
from app.lifecycle.datasets import (
    aclimdb_pools,
    aclimdb_source,
    cleaned,
    describe_sample,
    recipe_resources,
)
from app.lifecycle.serving import load_model
from app.scoring import count_unscored, new_worker_id, release_claims, score_pending
from app.sentiment.arguments import TrainingArguments
from app.sentiment.cascade import Cascade, Choice, Members, choose_certainty
from app.sentiment.classifier import Classifier
from app.sentiment.data import Example, Pools, describe
from app.sentiment.engine import ScoringEngine
from app.sentiment.evaluation import evaluate, score_examples
from app.sentiment.recipes import Recipe, RecipeArguments, train_with_recipe
from app.sentiment.registry import (
    CASCADE,
    FINETUNE,
    KINDS,
    NBSVM,
    ModelCard,
    ModelNotFoundError,
    current_model_dir,
    list_models,
    model_dir,
    read_card,
    save_model,
    set_current,
)
from app.sentiment.training import describe_hardware, train_nbsvm

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


@dataclass(frozen=True)
class TrainRequest:
    """What to train, as `textflix train` asks for it."""

    n_train: int = 500  # aclImdb train reviews sampled (balanced) with args.seed
    n_eval: int = 1000  # held-out aclImdb test reviews to score it on
    kind: str = FINETUNE  # FINETUNE the encoder, or fit the NBSVM baseline on the same reviews
    args: TrainingArguments = TrainingArguments()
    name: str | None = None  # the model folder; None: default_name
    extra_examples: Sequence[tuple[str, int]] = ()  # e.g. people's labels, as stored
    recipe: Recipe = "quick"  # the plain fine-tune, or with in-domain text and a teacher
    layers: int | None = None  # the served model keeps this many layers; None: the recipe's


@dataclass(frozen=True)
class Trained:
    """A new version and the held-out reviews it was scored on."""

    card: ModelCard
    eval_examples: list[Example]


@dataclass(frozen=True)
class Outcome:
    """What `train_and_promote` did: the new version, how it compared, whether it is current."""

    card: ModelCard
    verdict: Verdict | None  # None: not compared (promotion not asked for)
    remaining: int | None  # reviews left to re-score if a promotion stopped; 0 when promoted

    @property
    def promoted(self) -> bool:
        return self.remaining == 0


def default_name(
    *, settings: Settings, n_train: int, seed: int, kind: str = FINETUNE, recipe: Recipe = "quick"
) -> str:
    """A model folder name such as minilm-n500-s0-20250101-120000 (nbsvm-n500-... for NB-SVM,
    minilm-best-n500-... for a recipe other than the quick one, teacher-n500-... for the
    teacher's)."""
    base = "minilm"
    if kind != FINETUNE:
        base = kind
    elif settings.base_model:
        base = re.sub(r"[^a-z0-9]+", "-", settings.base_model_name().lower()).strip("-")
    if kind == FINETUNE and recipe == "teacher":
        base = "teacher"  # not the base model's name: the teacher is another encoder
    elif kind == FINETUNE and recipe != "quick":
        base = f"{base or 'model'}-{recipe}"
    return f"{base or 'model'}-n{n_train}-s{seed}-{datetime.now():%Y%m%d-%H%M%S}"


def train_version(
    *,
    settings: Settings,
    request: TrainRequest = TrainRequest(),
    pools: Pools | None = None,
    progress: bool = True,
) -> Trained:
    """Train a version on `n_train` sampled aclImdb train reviews (plus `extra_examples`, e.g.
    people's labels), score it on `n_eval` held-out test reviews, and save it in the models
    folder; it becomes current only if there is no current model yet."""
    n_train, n_eval, kind, args = request.n_train, request.n_eval, request.kind, request.args
    if kind not in KINDS:
        raise ValueError(f"unknown kind of model {kind!r}: one of {KINDS}")
    source = aclimdb_source(settings=settings, progress=progress)
    pools = pools or aclimdb_pools(settings=settings, progress=progress)
    sampled = pools.train_sample(n=n_train, seed=args.seed)
    extra = cleaned(request.extra_examples)
    examples = [*sampled, *extra]
    held_out = pools.eval_sample(n_eval) if n_eval else []
    name = request.name or default_name(
        settings=settings, n_train=n_train, seed=args.seed, kind=kind, recipe=request.recipe
    )
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    dataset = describe_sample(
        source=source.name,
        sampled=describe(sampled),
        extra=extra,
        held_out=describe(held_out),
        seed=args.seed,
    )
    out_dir = settings.models_dir / name
    if kind == NBSVM:
        card = train_nbsvm(
            out_dir=out_dir,
            train_examples=examples,
            eval_examples=held_out,
            seed=args.seed,
            progress=progress,
            dataset=dataset,
        )
    else:
        recipe = RecipeArguments.for_recipe(request.recipe)
        if request.layers is not None:  # the student's depth; the teacher keeps all of its own
            recipe = replace(recipe, student_layers=request.layers)
        card = train_with_recipe(
            resources=recipe_resources(settings=settings, pools=pools, recipe=recipe),
            recipe=recipe,
            out_dir=out_dir,
            train_examples=examples,
            eval_examples=held_out,
            calibration_examples=pools.calibration_sample(
                n=args.calibration_size, seed=args.seed, disjoint_from=n_train
            ),
            args=args,
            dataset=dataset,
            progress=progress,
        )
    # Retraining never silently swaps the model the site serves: a new version becomes current
    # only when there is none, or by a promotion after beating the current one.
    if current_model_dir(settings.models_dir) is None:
        set_current(settings.models_dir, card.name)
    return Trained(card, held_out)


def train_and_promote(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    request: TrainRequest,
    promote_if_better: bool = True,
    progress: bool = True,
) -> Outcome:
    """`train_version`, then, if asked, compare it with the current version on the same
    held-out reviews and promote it if it is strictly better."""
    trained = train_version(settings=settings, request=request, progress=progress)
    card = trained.card
    if not promote_if_better:
        return Outcome(card, None, None)
    verdict = compare_on_held_out(
        settings=settings, candidate=card, eval_examples=trained.eval_examples
    )
    if verdict.current is None:
        return Outcome(card, verdict, 0)  # it became current as the first model
    if not verdict.better:
        return Outcome(card, verdict, None)
    remaining = promote_everywhere(
        settings=settings, session_factory=session_factory, name=card.name, progress=progress
    )
    return Outcome(card, verdict, remaining)


@dataclass(frozen=True)
class CascadeRequest:
    """What `textflix cascade` asks for: two fine-tuned versions, the first to read every
    review and the second to read again those the first is not sure of."""

    first: str
    second: str
    certainty: float | None = None  # None: chosen on held-out train reviews (choose_certainty)
    n_choose: int = 1000  # held-out labeled train reviews the certainty is chosen on
    n_eval: int = 1000  # held-out aclImdb test reviews to score the cascade on
    name: str | None = None  # the model folder; None: cascade-<first>-<time>


def make_cascade(
    *, settings: Settings, request: CascadeRequest, progress: bool = True
) -> tuple[Trained, Choice | None]:
    """Save a cascade of two fine-tuned versions as a version of its own (models/<name>, kind
    "cascade"), scored on the same held-out test reviews as `textflix train` scores a model;
    with no certainty given, the lowest that keeps the cascade within half a point of the
    second model alone on held-out labeled train reviews that neither model learned from (the
    choice is returned too). It becomes current only if there is no current model yet."""
    started = time.perf_counter()
    paths = [model_dir(settings.models_dir, member) for member in (request.first, request.second)]
    cards = [read_card(path) for path in paths]
    for path, card in zip(paths, cards, strict=True):
        if card.kind != FINETUNE:
            raise ValueError(f"{path.name} is a {card.kind} model: a cascade is of fine-tuned ones")
    first_card, second_card = cards
    first, second = (_engine(settings, path) for path in paths)
    pools = aclimdb_pools(settings=settings, progress=progress)
    choice, chosen_on = None, 0
    certainty = request.certainty
    if certainty is None:
        learned = {
            text for card in cards for text, _ in pools.train_sample(n=card.n_train, seed=card.seed)
        }
        sample = [
            example
            for example in pools.calibration_sample(
                n=request.n_choose,
                seed=second_card.seed,
                disjoint_from=max(card.n_train for card in cards),
            )
            if example[0] not in learned
        ]
        if not sample:
            raise ValueError("no held-out train reviews to choose a certainty on: give one")
        first_scores, second_scores = (
            score_examples(classifier=model, examples=sample, progress=progress).p_positive
            for model in (first, second)
        )
        choice = choose_certainty(first_scores, second_scores, [label for _, label in sample])
        certainty, chosen_on = choice.certainty, len(sample)
    name = request.name or f"cascade-{request.first}-{datetime.now():%Y%m%d-%H%M%S}"
    cascade = Cascade(first, second, certainty=certainty, version=name)
    held_out = pools.eval_sample(request.n_eval) if request.n_eval else []
    metrics: dict[str, float | int | str | bool | None] = dict(
        evaluate(classifier=cascade, examples=held_out, progress=progress)
    )
    metrics["read_again"] = round(cascade.reading.share_read_again, 4)
    hyperparameters: dict[str, float | int | str | bool | None] = {
        "first": request.first,
        "second": request.second,
        "certainty": certainty,
    }
    if choice is not None:
        hyperparameters |= {
            "certainty_chosen_on": f"{chosen_on} held-out train reviews",
            "chosen_accuracy": round(choice.accuracy, 4),
            "chosen_second_accuracy": round(choice.second_accuracy, 4),
            "chosen_read_again": round(choice.read_again, 4),
        }
    card = ModelCard(
        name=name,
        base_model=second_card.base_model,
        n_train=second_card.n_train,
        seed=second_card.seed,
        hyperparameters=hyperparameters,
        metrics=metrics,
        train_seconds=round(time.perf_counter() - started, 1),
        hardware=describe_hardware(first.device),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=f"{first_card.name} then {second_card.name}, evaluated on "
        f"{describe(held_out)} from the aclImdb test split",
        kind=CASCADE,
    )
    members = Members(request.first, request.second, certainty)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    save_model(settings.models_dir / name, card, members.save)
    if current_model_dir(settings.models_dir) is None:
        set_current(settings.models_dir, name)
    return Trained(card, held_out), choice


def _engine(settings: Settings, path: Path) -> ScoringEngine:
    model = load_model(settings, path)
    if not isinstance(model, ScoringEngine):  # read_card said finetune: not reached
        raise ModelNotFoundError(f"{path} does not hold a fine-tuned model")
    return model


def load_version(*, settings: Settings, name: str) -> Classifier:
    """The classifier saved in models/<name>, or ModelNotFoundError (also for names such as
    "../x" that would reach outside the models folder)."""
    return load_model(settings, model_dir(settings.models_dir, name))


def compare_on_held_out(
    *, settings: Settings, candidate: ModelCard, eval_examples: Sequence[Example]
) -> Verdict:
    """Score the current model on the candidate's held-out reviews and compare accuracies."""
    accuracy = candidate.metrics.get("accuracy")
    if not isinstance(accuracy, float):
        raise ValueError(f"model {candidate.name} has no held-out accuracy in its card")
    current_dir = current_model_dir(settings.models_dir)
    if current_dir is None or current_dir.name == candidate.name:
        return Verdict(candidate.name, accuracy, None, None)
    current = load_model(settings, current_dir)
    current_accuracy = evaluate(classifier=current, examples=eval_examples)["accuracy"]
    return Verdict(candidate.name, accuracy, current_dir.name, float(current_accuracy))


def score_version(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    name: str,
    promote: bool = False,
    progress: bool = True,
    stop: threading.Event | None = None,
    worker: str | None = None,
) -> int:
    """Score every review with version `name`, keeping its scores beside the current ones (so
    that the site can compare the two); with `promote`, then make it current. Resumable; how
    many reviews are left when it stops (0: all scored, and `name` current if promoted)."""
    classifier = load_version(settings=settings, name=name)
    score_pending(
        session_factory=session_factory,
        classifier=classifier,
        batch_size=settings.scoring_batch_size,
        progress=progress,
        stop=stop,
        worker=worker,
        lease_seconds=settings.claim_timeout_seconds,
    )
    with session_factory() as session:
        remaining = count_unscored(session=session, version=classifier.version)
    if promote and remaining == 0:
        with session_factory() as session:
            stats.rebuild(session)  # a full recount as the version changes, costs seconds
            session.commit()
        set_current(settings.models_dir, name)
        log.info("model %s is now current", name)
    elif promote:
        log.info("promotion of %s stopped with %d reviews to go; run it again", name, remaining)
    return remaining


def promote_everywhere(
    *, settings: Settings, session_factory: sessionmaker[Session], name: str, progress: bool = True
) -> int:
    """`score_version` with promotion, or, where the database has no tables yet (nothing to
    re-score), just make `name` current; how many reviews are left (0: `name` is current)."""
    model_dir(settings.models_dir, name)  # ModelNotFoundError before any work
    with session_factory() as session:
        has_reviews = inspect(session.get_bind()).has_table("reviews")
    if not has_reviews:
        set_current(settings.models_dir, name)
        return 0
    return score_version(
        settings=settings,
        session_factory=session_factory,
        name=name,
        promote=True,
        progress=progress,
    )


def baseline_to_compare(*, settings: Settings, progress: bool = True) -> str | None:
    """The NB-SVM version to score beside the current model, trained on the default sample if
    there is none yet (seconds); None if NB-SVM is itself the current model."""
    current = current_model_dir(settings.models_dir)
    baselines = [card for card in list_models(settings.models_dir) if card.kind == NBSVM]
    if baselines:
        name = baselines[0].name
    else:
        request = TrainRequest(kind=NBSVM)
        name = train_version(settings=settings, request=request, progress=progress).card.name
    return None if current is not None and current.name == name else name


WAIT_SECONDS = 10.0
"""How often a job waiting for another version's scoring looks again."""


class PromotionRunner:
    """Runs at most one promotion (or scoring for comparison) at a time in a background thread
    of the web process."""

    def __init__(self, *, settings: Settings, session_factory: sessionmaker[Session]) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._waiting: threading.Event | None = None
        """Set to call off the job while it only waits (see `start`'s `after`)."""
        self.running: str | None = None
        self.make_current = False  # whether the running job ends in a promotion
        self.worker_id = new_worker_id()

    def start(self, name: str, *, make_current: bool = True, after: str | None = None) -> bool:
        """Start promoting `name` (or only scoring every review with it); False if a job is
        already running. With `after` (a version), the job first waits until that version has
        scored every review, so that the two do not share the cores; a job started while it
        waits takes its place."""
        with self._lock:
            thread, waiting = self._thread, self._waiting
            if thread is None or not thread.is_alive():
                model_dir(self._settings.models_dir, name)  # fail now, in the request
                self.running, self.make_current = name, make_current
                self._waiting = threading.Event() if after is not None else None
                self._thread = threading.Thread(
                    target=self._run, args=(name, make_current, after, self._waiting), daemon=True
                )
                self._thread.start()
                return True
            if waiting is None:
                return False
            waiting.set()  # the job in the way only waits: it gives way
        thread.join()
        return self.start(name, make_current=make_current, after=after)

    def _run(
        self, name: str, make_current: bool, after: str | None, waiting: threading.Event | None
    ) -> None:
        try:
            if after is not None and waiting is not None and not self._wait_for(after, waiting):
                return
            score_version(
                settings=self._settings,
                session_factory=self._session_factory,
                name=name,
                promote=make_current,
                progress=False,
                stop=self._stop,
                worker=self.worker_id,
            )
        except (ModelNotFoundError, OSError, RuntimeError):
            log.exception("promoting %s failed", name)
        finally:
            self.running = None

    def _wait_for(self, version: str, waiting: threading.Event) -> bool:
        """Wait until `version` has scored every review: True then, False if called off (by
        a stop or by another job) first."""
        while not waiting.is_set() and not self._stop.is_set():
            with self._session_factory() as session:
                done = count_unscored(session=session, version=version) == 0
            if done:
                with self._lock:
                    if waiting.is_set():
                        return False
                    self._waiting = None  # from here on, this job runs like any other
                    return True
            waiting.wait(WAIT_SECONDS)
        return False

    def request_stop(self) -> None:
        """Stop after the batch in flight (a job that only waits, at once)."""
        self._stop.set()
        waiting = self._waiting
        if waiting is not None:
            waiting.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop: the batch in flight is finished within `timeout` or handed back."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                release_claims(session_factory=self._session_factory, worker=self.worker_id)
