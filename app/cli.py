"""The `textflix` command: schema, imports, training, scoring, serving and the demo."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

import click
from sqlalchemy import inspect

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory
from app.importers.sources import SourceError

log = logging.getLogger("textflix")


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
        return resolve(location, cache_dir=PROJECT_ROOT / ".cache")
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc


@import_.command("aclimdb")
@click.argument("source", required=False)
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "test"]))
def import_aclimdb(source: str | None, splits: tuple[str, ...]) -> None:
    """The Large Movie Review Dataset (aclImdb_v1.tar.gz or its unpacked folder)."""
    from app.importers import aclimdb

    settings = _settings()
    location = source or _default_source(settings, "aclImdb_v1.tar.gz", aclimdb.OFFICIAL_URL)
    report = aclimdb.import_reviews(
        session_factory=_session_factory(settings),
        source=_resolve(settings, location),
        splits=splits or aclimdb.SPLITS,
    )
    _print_report("aclImdb", report)


@import_.command("movielens")
@click.argument("source", required=False)
def import_movielens(source: str | None) -> None:
    """MovieLens titles, years and genres (ml-latest-small folder or zip)."""
    from app.importers import movielens

    settings = _settings()
    location = source or _default_source(settings, "ml-latest-small", movielens.OFFICIAL_URL)
    report = movielens.import_movielens(
        session_factory=_session_factory(settings), source=_resolve(settings, location)
    )
    _print_report("MovieLens", report)


@import_.command("omdb")
@click.argument("source", required=False)
def import_omdb(source: str | None) -> None:
    """OMDb-style title records, one JSON object per line."""
    from app.importers import omdb

    settings = _settings()
    location = source or str(settings.data_dir / "omdb" / "titles.jsonl")
    report = omdb.import_omdb(
        session_factory=_session_factory(settings), source=_resolve(settings, location)
    )
    _print_report("OMDb", report)


@import_.command("all")
def import_all_command() -> None:
    """aclImdb, then MovieLens, then OMDb, from the data folder or the official URLs."""
    from app.importers.bundle import import_all

    settings = _settings()
    reports = import_all(
        session_factory=_session_factory(settings),
        data_dir=settings.data_dir,
        cache_dir=PROJECT_ROOT / ".cache",
    )
    for name, report in reports:
        _print_report(name, report)


@main.command()
@click.option("-n", "--labels", "n_train", default=500, show_default=True, help="Labeled reviews.")
@click.option("--eval", "n_eval", default=1000, show_default=True, help="Held-out test reviews.")
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Default: chosen by the trainer.")
@click.option("--name", default=None, help="Model folder name under models/.")
@click.option(
    "--kind",
    type=click.Choice(["finetune", "nbsvm"]),
    default="finetune",
    show_default=True,
    help="Fine-tune the encoder, or fit the NB-SVM baseline on the same reviews to compare.",
)
@click.option(
    "--head-init",
    type=click.Choice(["anchors", "random"]),
    default="anchors",
    show_default=True,
    help="Start the head from the label anchors (app/sentiment/anchors.py) or at random.",
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
    head_init: str,
    with_labels: bool,
    promote: bool,
) -> None:
    """Fine-tune the base encoder on N labeled aclImdb train reviews (and people's labels)."""
    from app.labeling import human_labeled_examples
    from app.sentiment.data import sample_aclimdb
    from app.sentiment.training import dataset_source, run_training

    settings = _settings()
    extra: list[tuple[str, int]] = []
    if with_labels:
        with _session_factory(settings)() as session:
            extra = human_labeled_examples(session=session)
        click.echo(f"adding {len(extra)} labels from the site's labeling queue")
    if n_train + len(extra) < 2:
        raise click.ClickException("nothing to train on: ask for -n labels or label some reviews")
    try:
        card = run_training(
            settings=settings,
            name=name,
            n_train=n_train,
            n_eval=n_eval,
            seed=seed,
            epochs=epochs,
            extra_examples=extra,
            kind=kind,
            head_init=head_init,
        )
    except SourceError as exc:
        raise click.ClickException(
            f"{exc}: put aclImdb_v1.tar.gz in {settings.data_dir} or set TEXTFLIX_DATA_DIR"
        ) from exc
    accuracy = card.metrics.get("accuracy")
    click.echo(
        f"model {card.name}: accuracy {accuracy:.3f} on {card.metrics.get('n_eval')} held-out "
        f"test reviews, trained in {card.train_seconds:.0f} s"
        if isinstance(accuracy, float)
        else f"model {card.name} written"
    )
    if not promote:
        return
    from app.promotion import compare_on_held_out

    _, eval_examples = sample_aclimdb(
        source=dataset_source(settings=settings), n_train=0, n_eval=n_eval, seed=seed
    )
    verdict = compare_on_held_out(settings=settings, candidate=card, eval_examples=eval_examples)
    if verdict.current is None:
        click.echo(f"{card.name} is the current model")
        return
    click.echo(
        f"on the same {len(eval_examples)} held-out reviews: {card.name} "
        f"{verdict.candidate_accuracy:.3f}, current {verdict.current} "
        f"{verdict.current_accuracy:.3f}"
    )
    if not verdict.better:
        click.echo(f"{card.name} is not better: {verdict.current} stays current")
        return
    _promote(settings, card.name)


def _promote(settings: Settings, name: str) -> None:
    from app.promotion import promote

    with_tables = inspect(make_engine(settings.database_url)).has_table("reviews")
    if not with_tables:
        from app.sentiment.registry import set_current

        set_current(settings.models_dir, name)
    else:
        click.echo(f"re-scoring every review with {name} before it becomes current")
        remaining = promote(
            settings=settings, session_factory=_session_factory(settings), name=name
        )
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
    from app.sentiment.registry import ModelNotFoundError

    try:
        _promote(_settings(), name)
    except ModelNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc


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
    help="Any of nbsvm, wordvec, finetune, finetune-random-head (the same without anchors).",
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
    default=PROJECT_ROOT / "bench" / "learning_curve",
    show_default=True,
)
def experiment(sizes: str, seeds: str, model_names: str, eval_size: int, out_dir: Path) -> None:
    """The learning curve: accuracy by number of labels for NB-SVM, word vectors and the
    fine-tuned encoder. Resumes where it stopped; writes results.csv, a plot and a table."""
    from app.sentiment import experiment as lab
    from app.sentiment import learning_curve as curve

    names = [name.strip() for name in model_names.split(",") if name.strip()]
    unknown = set(names) - set(curve.MODELS)
    if unknown:
        raise click.BadParameter(f"unknown models {sorted(unknown)}; pick from {curve.MODELS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.csv"
    size = eval_size or None
    lab.run_experiment(
        settings=_settings(),
        sizes=_int_list(sizes),
        seeds=_int_list(seeds),
        models=names,
        eval_size=size,
        results_path=results,
    )
    plot = out_dir / "learning_curve.png"
    curve.plot_learning_curve(
        results_path=results,
        out_path=plot,
        reference=curve.PROTOTYPE_2019_BERT_LARGE,
        eval_size=size or lab.TEST_SPLIT_SIZE,
    )
    click.echo(curve.summary_table(results_path=results, eval_size=size or lab.TEST_SPLIT_SIZE))
    click.echo(f"results in {results}, plot in {plot}")


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
    from app.comparison import compare as compare_versions
    from app.comparison import scored_versions

    settings = _settings()
    with _session_factory(settings)() as session:
        known = {name for name, _count in scored_versions(session=session)}
        missing = [name for name in (version_a, version_b) if name not in known]
        if missing:
            raise click.ClickException(
                f"no stored scores from {', '.join(missing)}: run `textflix score --version NAME`"
            )
        result = compare_versions(
            session=session, version_a=version_a, version_b=version_b, limit=limit
        )
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
            excerpt = " ".join(item.review.body.replace("<br />", " ").split())[:100]
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
    from app.main import load_classifier
    from app.promotion import load_version
    from app.scoring import score_pending
    from app.sentiment.registry import ModelNotFoundError

    settings = _settings()
    if name is None:
        classifier, problem = load_classifier(settings)
        if classifier is None:
            raise click.ClickException(problem or "no model")
    else:
        try:
            classifier = load_version(settings=settings, name=name)
        except ModelNotFoundError as exc:
            raise click.ClickException(str(exc)) from exc
    job = score_pending(
        session_factory=_session_factory(settings), classifier=classifier, batch_size=batch_size
    )
    click.echo("nothing to score" if job is None else f"scored {job.done} reviews ({job.status})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--score/--no-score",
    "background",
    default=True,
    show_default=True,
    help="Score unscored reviews in the background while serving.",
)
def serve(host: str, port: int, background: bool) -> None:
    """Serve the site."""
    import uvicorn

    from app.main import create_app

    settings = _settings().model_copy(update={"score_in_background": background})
    uvicorn.run(create_app(settings), host=host, port=port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
def demo(host: str, port: int) -> None:
    """Everything from nothing: schema, imports, a trained model if none, then serve."""
    from app.importers.bundle import import_all
    from app.migrate import upgrade
    from app.sentiment.registry import current_model_dir
    from app.sentiment.training import run_training

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
        session_factory=factory, data_dir=settings.data_dir, cache_dir=PROJECT_ROOT / ".cache"
    ):
        _print_report(name, report)
    if current_model_dir(settings.models_dir) is None:
        click.echo("no trained model yet: fine-tuning the default one (a few minutes on a CPU)")
        try:
            run_training(settings=settings, name=None)
        except SourceError as exc:
            raise click.ClickException(
                f"cannot train a model: {exc}. Put aclImdb_v1.tar.gz in {settings.data_dir} "
                "(TEXTFLIX_DATA_DIR) and run `make demo` again."
            ) from exc
    baseline = _baseline_to_compare(settings)
    click.echo(f"Textflix is up at http://{host}:{port} (imported reviews are scored meanwhile)")
    import uvicorn

    from app.main import create_app

    app = create_app(settings.model_copy(update={"score_in_background": True}))
    if baseline is not None:
        # Beside the current model's scores, so that "How it works" compares the two.
        app.state.promotions.start(baseline, make_current=False)
    uvicorn.run(app, host=host, port=port)


def _baseline_to_compare(settings: Settings) -> str | None:
    """The NB-SVM version for the demo to compare with the current model, trained on the same
    reviews if there is none yet (seconds); None if NB-SVM is itself the current model."""
    from app.sentiment.registry import NBSVM, current_model_dir, list_models
    from app.sentiment.training import run_training

    current = current_model_dir(settings.models_dir)
    baselines = [card for card in list_models(settings.models_dir) if card.kind == NBSVM]
    if not baselines:
        click.echo("training the NB-SVM baseline on the same 500 reviews, to compare with")
        baselines = [run_training(settings=settings, name=None, kind=NBSVM)]
    name = baselines[0].name
    return None if current is not None and current.name == name else name


if __name__ == "__main__":
    sys.exit(main())
