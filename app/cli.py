"""The `textflix` command: schema, imports, training, scoring, serving and the demo."""

from __future__ import annotations

import json
import logging
import math
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

import click

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory
from app.importers.sources import SourceError
from app.sentiment.arguments import HEAD_INITS, PRECISIONS, HeadInit, Precision, TrainingArguments
from app.sentiment.learning_curve import IN_BF16, LABELS, MODELS
from app.sentiment.recipes import RECIPES, Recipe, TeacherMissing
from app.sentiment.registry import FINETUNE, KINDS
from app.sentiment.text import clean

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from app.importers.report import ImportReport
    from app.sentiment.predictions import Analysis

log = logging.getLogger("textflix")


class _Importer(Protocol):
    def __call__(self, *, session_factory: sessionmaker[Session], source: Path) -> ImportReport: ...


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError says which variable is wrong
        raise click.ClickException(f"bad settings: {exc}") from exc


def _session_factory(settings: Settings):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(settings.database_url))


def _print_report(name: str, report, most: int = 20) -> None:  # type: ignore[no-untyped-def]
    click.echo(f"{name}: {report.summary()}")
    for problem in report.problems[:most]:
        click.echo(f"  {problem}", err=True)
    if len(report.problems) > most:
        click.echo(f"  ... and {len(report.problems) - most} more problems", err=True)
    for failure in report.failures:
        if failure not in report.problems[:most]:
            click.echo(f"  {failure}", err=True)


def _exit_if_failed(*reports) -> None:  # type: ignore[no-untyped-def]
    """A non-zero exit status when an import stopped before its end (a damaged file)."""
    if any(report.failed for report in reports):
        raise click.ClickException("the import stopped before its end: see the problems above")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Textflix: movie reviews with sentiment from a fine-tuned BERT-family encoder."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO; only the migrations themselves matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the newest migration."""
    from app.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo(f"schema up to date at {make_engine(settings.database_url).url!r}")


@main.command("make-admin")
@click.argument("username")
def make_admin(username: str) -> None:
    """Let an existing user delete any review and use the labeling queue."""
    from app.users import find_user

    with _session_factory(_settings())() as session:
        user = find_user(session=session, username=username)
        if user is None:
            raise click.ClickException(f"no user called {username!r}: sign up on the site first")
        user.is_admin = True
        session.commit()
    click.echo(f"{user.username} is now an admin")


@main.group("import")
def import_() -> None:
    """Import reviews and movie facts (a path or a URL; defaults to the local data copies)."""


def _default_source(settings: Settings, local: str, url: str) -> str:
    path = settings.data_dir / local
    return str(path) if path.exists() else url


def _resolve(settings: Settings, location: str) -> Path:
    from app.importers.sources import SourceError, resolve

    try:
        return resolve(location, cache_dir=settings.cache_dir)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc


def _run_import(settings: Settings, name: str, location: str, importer: _Importer) -> None:
    """Run `importer` on `location` (a path or a URL), print its report, and fail the command
    if it stopped before its end."""
    report = importer(
        session_factory=_session_factory(settings), source=_resolve(settings, location)
    )
    _print_report(name, report)
    _exit_if_failed(report)


@import_.command("aclimdb")
@click.argument("source", required=False)
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "test"]))
def import_aclimdb(source: str | None, splits: tuple[str, ...]) -> None:
    """The Large Movie Review Dataset (aclImdb_v1.tar.gz or its unpacked folder)."""
    from app.importers import aclimdb

    settings = _settings()
    location = source or _default_source(settings, "aclImdb_v1.tar.gz", aclimdb.OFFICIAL_URL)
    importer = partial(
        aclimdb.import_reviews,
        splits=splits or aclimdb.SPLITS,
        max_chars=settings.max_review_chars,
    )
    _run_import(settings, "aclImdb", location, importer)


@import_.command("movielens")
@click.argument("source", required=False)
def import_movielens(source: str | None) -> None:
    """MovieLens titles, years and genres (ml-latest-small folder or zip)."""
    from app.importers import movielens

    settings = _settings()
    location = source or _default_source(settings, "ml-latest-small", movielens.OFFICIAL_URL)
    _run_import(settings, "MovieLens", location, movielens.import_movielens)


@import_.command("omdb")
@click.argument("source", required=False)
def import_omdb(source: str | None) -> None:
    """OMDb-style title records, one JSON object per line."""
    from app.importers import omdb

    settings = _settings()
    location = source or str(settings.data_dir / "omdb" / "titles.jsonl")
    _run_import(settings, "OMDb", location, omdb.import_omdb)


@import_.command("all")
def import_all_command() -> None:
    """aclImdb, then MovieLens, then OMDb, from the data folder or the official URLs."""
    from app.importers.bundle import import_all

    settings = _settings()
    reports = import_all(
        session_factory=_session_factory(settings),
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        max_review_chars=settings.max_review_chars,
    )
    for name, report in reports:
        _print_report(name, report)
    _exit_if_failed(*(report for _name, report in reports))


@main.command()
@click.option("-n", "--labels", "n_train", default=500, show_default=True, help="Labeled reviews.")
@click.option("--eval", "n_eval", default=1000, show_default=True, help="Held-out test reviews.")
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Default: chosen by the trainer.")
@click.option("--name", default=None, help="Model folder name under models/.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=FINETUNE,
    show_default=True,
    help="Fine-tune the encoder, or fit the NB-SVM baseline on the same reviews to compare.",
)
@click.option(
    "--head-init",
    type=click.Choice(HEAD_INITS),
    default=TrainingArguments.head_init,
    show_default=True,
    help="Start the head from the label anchors (app/sentiment/anchors.py) or at random.",
)
@click.option(
    "--recipe",
    type=click.Choice(RECIPES),
    default="quick",
    show_default=True,
    help="quick: the plain fine-tune (what `make demo` trains, minutes); best: also a bigger "
    "teacher's soft labels on a 45-word stretch of every unlabeled review (about 24,000), "
    "read 4 times (about 45 minutes on 2 cores the first time in bf16 where the CPU has AMX, "
    "an hour with AVX-512 BF16 alone, 2.5 to 4 hours in fp32 on a CPU without bf16; the "
    "teacher and its labels cached in .cache/recipes); "
    "small: a 3-layer student, about half the compute per review, taught by the same teacher "
    "on its soft labels of 6,000 90-word stretches (after best, the teacher is cached; "
    "promoted only if it beats the current model); teacher: the teacher itself "
    "(all-mpnet-base-v2) fine-tuned on the labels, about 8 times the compute per review, to "
    "read again what a student is unsure of (`textflix cascade STUDENT TEACHER`); not "
    "promoted unless --promote is given.",
)
@click.option(
    "--layers",
    type=click.IntRange(min=1),
    default=None,
    help="Keep this many of the encoder's layers in the trained model (evenly spaced, the last "
    "among them): fewer cost less per review and may score lower. Default: all of them, 3 with "
    "--recipe small.",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=TrainingArguments.precision,
    show_default=True,
    help="auto: mixed precision where the hardware computes 16-bit floats (bf16 on a CPU with "
    "AMX or AVX-512 BF16: measured 1.5-1.9x as fast for the student and 1.9-3x for the "
    "teacher; fp16 on CUDA), fp32 elsewhere.",
)
@click.option(
    "--with-labels",
    is_flag=True,
    help="Add the labels people gave in the site's labeling queue (use -n 0 for those alone).",
)
@click.option(
    "--promote/--no-promote",
    default=True,
    show_default=True,
    help="Promote the new version if it beats the current one on the same held-out reviews.",
)
def train(
    n_train: int,
    n_eval: int,
    seed: int,
    epochs: int | None,
    name: str | None,
    kind: str,
    head_init: HeadInit,
    recipe: Recipe,
    layers: int | None,
    precision: Precision,
    with_labels: bool,
    promote: bool,
) -> None:
    """Fine-tune the base encoder on N labeled aclImdb train reviews (and people's labels)."""
    if layers is not None and kind != FINETUNE:
        raise click.UsageError(f"--layers applies to the fine-tuned encoder, not to --kind {kind}")
    if layers is not None and recipe == "teacher":
        raise click.UsageError("--layers applies to a student: the teacher recipe keeps them all")
    if (
        recipe == "teacher"
        and click.get_current_context().get_parameter_source("promote")
        != click.core.ParameterSource.COMMANDLINE
    ):
        # Promoted by accuracy alone, it would have the site score every review at about an
        # eighth of the student's speed: serving it is asked for, not a default.
        promote = False
    from app.labeling import human_labeled_examples
    from app.lifecycle.versions import TrainRequest, train_and_promote

    settings = _settings()
    if layers is not None:  # refused now, by the rule training applies, not after the data loads
        from transformers import AutoConfig

        from app.sentiment.modeling import kept_layers

        total = AutoConfig.from_pretrained(settings.resolved_base_model()).num_hidden_layers
        try:
            kept_layers(total, layers)
        except ValueError as exc:
            raise click.UsageError(f"--layers {layers}: the base model has {total} layers") from exc
    factory = _session_factory(settings)
    extra: list[tuple[str, int]] = []
    if with_labels:
        with factory() as session:
            extra = human_labeled_examples(session=session)
        click.echo(f"adding {len(extra)} labels from the site's labeling queue")
    if n_train + len(extra) < 2:
        raise click.ClickException("nothing to train on: ask for -n labels or label some reviews")
    args = TrainingArguments(
        seed=seed, epochs=epochs, head_init=head_init, device=settings.device, precision=precision
    )
    request = TrainRequest(
        n_train, n_eval, kind, args, name, extra_examples=extra, recipe=recipe, layers=layers
    )
    started = time.perf_counter()
    with _data_errors(settings):
        outcome = train_and_promote(
            settings=settings, session_factory=factory, request=request, promote_if_better=promote
        )
    card, verdict = outcome.card, outcome.verdict
    accuracy = card.metrics.get("accuracy")
    # The card's training time is the model's own; a recipe's teacher and soft labels, the
    # data and the evaluation come on top, so the whole command's time is said beside it.
    click.echo(
        f"model {card.name}: accuracy {accuracy:.3f} on {card.metrics.get('n_eval')} held-out "
        f"test reviews, trained in {card.train_seconds:.0f} s "
        f"({time.perf_counter() - started:.0f} s in all)"
        if isinstance(accuracy, float)
        else f"model {card.name} written"
    )
    if recipe == "teacher" and verdict is None:
        click.echo(
            f"read again what a student is unsure of: `textflix cascade STUDENT {card.name}`; "
            f"serve it alone: `textflix promote {card.name}`"
        )
    if verdict is None:
        return
    if verdict.current is None:
        click.echo(f"{card.name} is the current model")
        return
    click.echo(
        f"on the same {card.metrics.get('n_eval')} held-out reviews: {card.name} "
        f"{verdict.candidate_accuracy:.3f}, current {verdict.current} "
        f"{verdict.current_accuracy:.3f}"
    )
    if not verdict.better:
        click.echo(f"{card.name} is not better: {verdict.current} stays current")
        return
    _report_promotion(card.name, outcome.remaining or 0)


@main.command("cascade")
@click.argument("first")
@click.argument("second")
@click.option(
    "--certainty",
    type=click.FloatRange(0.5, 1.0),
    default=None,
    help="Read again the reviews FIRST is less sure of than this. Default: the lowest that "
    "keeps the cascade within half a point of SECOND alone, measured on held-out train reviews.",
)
@click.option("--eval", "n_eval", default=1000, show_default=True, help="Held-out test reviews.")
@click.option("--name", default=None, help="Model folder name under models/.")
def cascade_command(
    first: str, second: str, certainty: float | None, n_eval: int, name: str | None
) -> None:
    """Save a cascade of two trained versions as a version of its own: FIRST (a cheap model,
    such as `textflix train --recipe small --layers 2`) reads every review, SECOND only those
    FIRST is not sure of. Serve it with `textflix promote NAME`."""
    from app.lifecycle.versions import CascadeRequest, make_cascade

    settings = _settings()
    request = CascadeRequest(first, second, certainty, n_eval=n_eval, name=name)
    with _data_errors(settings), _model_errors():
        try:
            trained, choice = make_cascade(settings=settings, request=request)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    card = trained.card
    if choice is not None:
        where = card.hyperparameters["certainty_chosen_on"]
        click.echo(
            f"certainty {choice.certainty:g} chosen on {where}: the cascade "
            f"{choice.accuracy:.3f}, {second} alone {choice.second_accuracy:.3f}, "
            f"{choice.read_again:.0%} read again"
        )
    accuracy, n, again = (card.metrics.get(key) for key in ("accuracy", "n_eval", "read_again"))
    if isinstance(accuracy, float) and isinstance(again, float):
        click.echo(
            f"cascade {card.name}: accuracy {accuracy:.3f} on {n} held-out test reviews, "
            f"{again:.0%} of them read again by {second}"
        )
    click.echo(f"serve it with `textflix promote {card.name}`")


def _report_promotion(name: str, remaining: int) -> None:
    if remaining:
        raise click.ClickException(
            f"stopped with {remaining} reviews left to score: run `textflix promote {name}` "
            "again to resume; the current model stays until then"
        )
    click.echo(f"{name} is now the current model; running servers switch to it")


@main.command("promote")
@click.argument("name")
def promote_command(name: str) -> None:
    """Re-score every review with version NAME, then make it current (resumable)."""
    from app.lifecycle.versions import promote_everywhere

    settings = _settings()
    click.echo(f"re-scoring every review with {name} before it becomes current")
    with _model_errors():
        remaining = promote_everywhere(
            settings=settings, session_factory=_session_factory(settings), name=name
        )
    _report_promotion(name, remaining)


def _int_list(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from exc


@main.command()
@click.option("--sizes", default="10,100,500,1000,10000", show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option(
    "--models",
    "model_names",
    default="nbsvm,wordvec,finetune",
    show_default=True,
    help="Comma-separated, any of the curve's models (a '+' is the fine-tune with that lever "
    "of --recipe best): "
    + "; ".join(f"{model}: {LABELS[model]}" for model in MODELS if model not in IN_BF16)
    + f". All of them train in fp32, and {', '.join(IN_BF16)} are the same runs in bf16 "
    "mixed precision.",
)
@click.option(
    "--eval-size",
    default=2000,
    show_default=True,
    help="Test reviews each run is scored on; 0 means the whole 25,000.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for results.csv and the plot. Default: TEXTFLIX_LEARNING_CURVE_DIR.",
)
def experiment(
    sizes: str, seeds: str, model_names: str, eval_size: int, out_dir: Path | None
) -> None:
    """The learning curve: accuracy by number of labels for NB-SVM, word vectors and the
    fine-tuned encoder. Resumes where it stopped; writes results.csv, a plot and a table."""
    from app.lifecycle.curve import run_learning_curve

    settings = _settings()
    try:
        with _data_errors(settings):
            files = run_learning_curve(
                settings=settings,
                sizes=_int_list(sizes),
                seeds=_int_list(seeds),
                models=[name.strip() for name in model_names.split(",") if name.strip()],
                eval_size=eval_size or None,
                out_dir=out_dir,
            )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(files.table)
    click.echo(f"results in {files.results}, plot in {files.plot}")


@main.command()
def models() -> None:
    """List trained models; * marks the current one."""
    from app.sentiment.registry import current_model_dir, list_models

    settings = _settings()
    current = current_model_dir(settings.models_dir)
    cards = list_models(settings.models_dir)
    if not cards:
        click.echo("no trained model yet: run `textflix train`")
    for card in cards:
        mark = "*" if current is not None and current.name == card.name else " "
        click.echo(
            f"{mark} {card.name}  {card.kind}  n={card.n_train}  "
            f"accuracy={card.metrics.get('accuracy')}"
        )


@main.command()
@click.argument("version_a")
@click.argument("version_b")
@click.option("--limit", default=10, show_default=True, help="Disagreements to list.")
def compare(version_a: str, version_b: str, limit: int) -> None:
    """Two versions on the reviews both have scored: agreement, accuracy, disagreements."""
    from app.lifecycle.comparison import UnscoredVersions
    from app.lifecycle.comparison import compare as compare_versions

    settings = _settings()
    with _session_factory(settings)() as session:
        try:
            result = compare_versions(
                session=session, version_a=version_a, version_b=version_b, limit=limit
            )
        except UnscoredVersions as exc:
            raise click.ClickException(f"{exc}: run `textflix score --version NAME`") from exc
        click.echo(
            f"{result.n_both} reviews scored by both; they agree on {result.n_agree} "
            f"({result.agreement or 0:.1f}%)"
        )
        if result.accuracy_a.n_labeled:
            click.echo(
                f"against the IMDb labels of {result.accuracy_a.n_labeled}: "
                f"{version_a} {result.accuracy_a.percent:.1f}%, "
                f"{version_b} {result.accuracy_b.percent:.1f}%"
            )
        for item in result.disagreements:
            label = {None: "unlabeled", 1: "positive", 0: "negative"}[item.review.gold_label]
            excerpt = " ".join(clean(item.review.body).split())[:100]
            click.echo(
                f"  review {item.review.id} ({label}): {version_a} {item.p_a:.2f}, "
                f"{version_b} {item.p_b:.2f}  {excerpt}"
            )


@main.command()
@click.option("--batch-size", default=32, show_default=True)
@click.option(
    "--version",
    "name",
    default=None,
    help="Score with this version instead of the current one, e.g. to compare it on the site.",
)
def score(batch_size: int, name: str | None) -> None:
    """Score every review that the current model (or version NAME) has not scored yet."""
    from app.lifecycle.serving import load_current
    from app.lifecycle.versions import load_version
    from app.scoring import score_pending

    settings = _settings()
    if name is None:
        classifier, problem = load_current(settings)
        if classifier is None:
            raise click.ClickException(problem or "no model")
    else:
        with _model_errors():
            classifier = load_version(settings=settings, name=name)
    job = score_pending(
        session_factory=_session_factory(settings),
        classifier=classifier,
        batch_size=batch_size,
        lease_seconds=settings.claim_timeout_seconds,
    )
    click.echo("nothing to score" if job is None else f"scored {job.done} reviews ({job.status})")


@main.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--batch-size", default=32, show_default=True, help="Texts scored together.")
def predict(source: TextIO, batch_size: int) -> None:
    """Score texts from SOURCE (a file, or - for stdin; one text per line, or JSON lines with
    a "text" field) with the current model. Prints one JSON line per text: label, probability
    of that label, P(positive) and the scores of its sentences."""
    from tqdm import tqdm

    from app.lifecycle.serving import load_current
    from app.sentiment.classifier import analyze

    classifier, problem = load_current(_settings())
    if classifier is None:
        raise click.ClickException(problem or "no model")
    with tqdm(unit="text", file=sys.stderr, disable=not sys.stdout.isatty()) as bar:
        for batch in _batches(_texts(source), max(1, batch_size)):
            for (extra, _), analysis in zip(
                batch, analyze(classifier, [text for _, text in batch]), strict=True
            ):
                click.echo(json.dumps({**extra, **_analysis_record(analysis)}))
            bar.update(len(batch))


def _texts(source: TextIO) -> Iterator[tuple[dict[str, object], str]]:
    """(fields to echo, text) for each line: a plain text, or a JSON object with "text" (and
    maybe an "id", echoed so that results can be matched to inputs)."""
    try:
        for number, line in enumerate(source, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if not line.lstrip().startswith("{"):
                yield {}, line
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise click.ClickException(f"line {number}: not valid JSON ({exc})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise click.ClickException(f'line {number}: a JSON line needs a "text" string')
            yield ({"id": record["id"]} if "id" in record else {}), record["text"]
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"the input is not UTF-8 text ({exc})") from exc


def _batches(
    items: Iterator[tuple[dict[str, object], str]], size: int
) -> Iterator[list[tuple[dict[str, object], str]]]:
    batch: list[tuple[dict[str, object], str]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _analysis_record(analysis: Analysis) -> dict[str, object]:
    prediction = analysis.prediction
    return {
        "label": prediction.label,
        "probability": shown_probability(prediction.certainty),
        "p_positive": shown_probability(prediction.p_positive),
        "sentences": [
            {"text": sentence.text, "p_positive": shown_probability(sentence.p_positive)}
            for sentence in analysis.sentences
        ],
    }


def shown_probability(p: float) -> float:
    """`p` to 4 significant digits of its distance from the nearer of 0 and 1: 0.8923, but
    0.99999964 rather than 1.0, which would print a near-certainty as a certainty."""
    tail = min(p, 1 - p)
    if tail <= 0:
        return p
    return round(p, max(4, 3 - math.floor(math.log10(tail))))


@contextmanager
def _model_errors() -> Iterator[None]:
    """A missing or unusable model version as a message, not a traceback."""
    from app.sentiment.registry import ModelNotFoundError

    try:
        yield
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _data_errors(settings: Settings) -> Iterator[None]:
    """Training data that cannot be had as a message that says where to put it."""
    try:
        yield
    except SourceError as exc:
        raise click.ClickException(
            f"{exc}: put aclImdb_v1.tar.gz in {settings.data_dir} (TEXTFLIX_DATA_DIR) and try again"
        ) from exc
    except TeacherMissing as exc:
        raise click.ClickException(str(exc)) from exc


SHUTDOWN_SECONDS = 5
"""How long a stopping server lets open connections finish before closing them."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--score/--no-score",
    "background",
    default=None,
    help="Score unscored reviews in a background thread while serving "
    "(default: TEXTFLIX_SCORE_IN_BACKGROUND, true unless set).",
)
def serve(host: str, port: int, background: bool | None) -> None:
    """Serve the site; SIGTERM or Ctrl-C stop it cleanly within seconds."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    if background is not None:
        settings = settings.model_copy(update={"score_in_background": background})
    uvicorn.run(
        create_app(settings), host=host, port=port, timeout_graceful_shutdown=SHUTDOWN_SECONDS
    )


@main.command()
@click.option("--batch-size", type=int, default=None, help="Default: TEXTFLIX_SCORING_BATCH_SIZE.")
@click.option("--until-done", is_flag=True, help="Exit when no review is left to claim.")
def worker(batch_size: int | None, until_done: bool) -> None:
    """Score reviews with the current model as one of any number of worker processes, on this
    machine or others sharing one Postgres database. Stops cleanly on SIGTERM or Ctrl-C."""
    import signal

    from app.lifecycle.serving import ModelHolder, load_current
    from app.scoring import ScoringWorker

    settings = _settings()
    models = ModelHolder(
        loader=lambda: load_current(settings), marker=settings.models_dir / "CURRENT"
    )
    models.load()
    classifier = models.get()
    if classifier is None and until_done:
        raise click.ClickException(models.problem or "no model")
    if settings.database_url.startswith("sqlite"):
        click.echo(
            "SQLite takes one writer at a time: run a single worker, and serve with "
            "TEXTFLIX_SCORE_IN_BACKGROUND=false while it runs",
            err=True,
        )
    scorer = ScoringWorker(
        session_factory=_session_factory(settings),
        models=models,
        batch_size=batch_size or settings.scoring_batch_size,
        lease_seconds=settings.claim_timeout_seconds,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scorer.request_stop())
    if classifier is None:
        click.echo(f"{models.problem} Waiting for a model meanwhile.", err=True)
    else:
        click.echo(f"worker {scorer.worker_id} scoring with {classifier.version}")
    scorer.run(until_done=until_done)
    click.echo(f"worker {scorer.worker_id} stopped")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
def demo(host: str, port: int) -> None:
    """Everything from nothing: schema, imports, a trained model if none, then serve."""
    import uvicorn

    from app.importers.bundle import import_all
    from app.lifecycle.versions import baseline_to_compare, train_version
    from app.main import create_app
    from app.migrate import upgrade
    from app.sentiment.registry import current_model_dir

    env_file = PROJECT_ROOT / ".env"
    existing = env_file.read_text() if env_file.exists() else ""
    if "TEXTFLIX_SECRET_KEY=" not in existing:
        with env_file.open("a") as handle:
            handle.write(f"TEXTFLIX_SECRET_KEY={secrets.token_urlsafe(32)}\n")
        click.echo(f"wrote a new session secret to {env_file}")
    settings = _settings()
    upgrade(settings.database_url)
    factory = _session_factory(settings)
    for name, report in import_all(
        session_factory=factory,
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        max_review_chars=settings.max_review_chars,
    ):
        _print_report(name, report)
    with _data_errors(settings):
        if current_model_dir(settings.models_dir) is None:
            click.echo("no trained model yet: fine-tuning the default one (a few minutes on a CPU)")
            train_version(settings=settings)
        baseline = baseline_to_compare(settings=settings)
        current = current_model_dir(settings.models_dir)
    # The site answers once the app's start-up has loaded the model, which the first time on a
    # machine measures its scoring backends (4 minutes on the slowest 2-core host): uvicorn
    # says "running on" then, so this line says what comes before it.
    click.echo(
        f"starting Textflix on http://{host}:{port}: it answers when uvicorn says it is running, "
        "once the model is loaded (its first start on a machine measures the scoring backends, "
        "1-4 minutes on 2 cores); imported reviews are scored meanwhile"
    )
    app = create_app(settings)
    if baseline is not None:
        # Beside the current model's scores, so that "How it works" compares the two: once
        # the current model has scored every review, which is what the site shows.
        app.state.promotions.start(
            baseline, make_current=False, after=current.name if current else None
        )
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=SHUTDOWN_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
