"""From an empty database to every aclImdb review scored: the importer, then the scoring
worker(s), as a new site does on its first start.

    python bench/bench_end_to_end.py --model models/NAME [--limit N] [--db sqlite|postgres]
        [--postgres-url URL] [--workers 1] [--batch-size 128]

Creates the schema in a fresh database (a SQLite file in a temporary folder, or a schema of its
own on the PostgreSQL server of `--postgres-url`), imports the aclImdb reviews from the archive
in TEXTFLIX_DATA_DIR (read in place; `--limit N`: only the first N), loads the model as the
site does (TEXTFLIX_* settings; the first load of a model on a host measures its backend, which
is timed apart), then runs `--workers` ScoringWorkers (threads of this process sharing the
model, as `textflix serve` runs one) until nothing is left to score. Prints minutes for each
step, reviews per second, and peak resident memory (ru_maxrss) of this process and of its
children, and how the workers' time splits between claiming reviews, the model and writing
scores. Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from functools import reduce
from pathlib import Path

import torch
from bench_load import (
    DEFAULT_POSTGRES,
    aclimdb_archive,
    models_dir_serving,
    temporary_database,
)
from sqlalchemy.orm import Session, sessionmaker

# This checkout's app, even where the environment has another copy of the project installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings  # noqa: E402
from app.db import make_engine, make_session_factory  # noqa: E402
from app.importers.aclimdb import import_reviews  # noqa: E402
from app.lifecycle.serving import ModelHolder, load_current  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.scoring import ScoringWorker, StepTimes, count_unscored  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained model folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N reviews")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--workers", type=int, default=1, help="scoring workers (threads)")
    parser.add_argument("--batch-size", type=int, default=None, help="reviews per claim")
    args = parser.parse_args()
    settings = Settings()
    archive = aclimdb_archive(settings)
    models_dir = models_dir_serving(args.model, settings)
    assert models_dir is not None

    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-") as workdir,
        temporary_database(args.db, args.postgres_url or DEFAULT_POSTGRES, Path(workdir)) as url,
    ):
        settings = settings.model_copy(update={"database_url": url, "models_dir": models_dir})
        engine = make_engine(url)
        factory = make_session_factory(engine)
        steps: list[tuple[str, float]] = []

        started = time.perf_counter()
        upgrade(url)
        steps.append(("schema (migrations)", time.perf_counter() - started))

        started = time.perf_counter()
        report = import_reviews(
            session_factory=factory,
            source=archive,
            limit=args.limit,
            progress=False,
            max_chars=settings.max_review_chars,
        )
        steps.append(("import aclImdb", time.perf_counter() - started))
        if report.failed:
            sys.exit(f"the import failed: {report.failures}")

        started = time.perf_counter()
        models = ModelHolder(loader=lambda: load_current(settings), marker=models_dir / "CURRENT")
        models.load()
        classifier = models.get()
        if classifier is None:
            sys.exit(models.problem)
        steps.append(("load the model (and choose its backend)", time.perf_counter() - started))

        with factory() as session:
            to_score = count_unscored(session=session, version=classifier.version)
        started = time.perf_counter()
        times = run_workers(
            settings, factory, models, workers=args.workers, batch_size=args.batch_size
        )
        scoring_seconds = time.perf_counter() - started
        steps.append((f"score with {args.workers} worker(s)", scoring_seconds))
        with factory() as session:
            left = count_unscored(session=session, version=classifier.version)
        engine.dispose()
    shutil.rmtree(models_dir)  # the link to the model, not the model

    print(
        f"{args.db}: aclImdb import: {report.summary()}; model {classifier.version} "
        f"(backend {getattr(classifier, 'backend', '-')}, {torch.get_num_threads()} threads), "
        f"{os.cpu_count()} cores"
    )
    print(f"\n{'step':<42} {'minutes':>8}")
    for name, seconds in steps:
        print(f"{name:<42} {seconds / 60:>8.2f}")
    print(f"{'total':<42} {sum(seconds for _, seconds in steps) / 60:>8.2f}")
    print(
        f"\nscored {to_score - left:,} of {to_score:,} reviews ({left:,} left), "
        f"{(to_score - left) / scoring_seconds:.1f} reviews/s"
    )
    spent = times.claim + times.model + times.write
    print(
        f"the workers' time, summed over workers: model {times.model / 60:.2f} min "
        f"({times.model / spent:.0%}), claiming {times.claim / 60:.2f} min "
        f"({times.claim / spent:.0%}), writing {times.write / 60:.2f} min "
        f"({times.write / spent:.0%}); the model alone: "
        f"{(to_score - left) / max(times.model, 1e-9):.1f} reviews/s per worker"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MiB, its largest child {children:.0f} MiB")


def run_workers(
    settings: Settings,
    factory: sessionmaker[Session],
    models: ModelHolder,
    *,
    workers: int,
    batch_size: int | None,
) -> StepTimes:
    """`workers` scoring workers, each in a thread, until nothing is left to claim; the
    seconds they spent on each step, summed."""
    scorers = [
        ScoringWorker(
            session_factory=factory,
            models=models,
            batch_size=batch_size or settings.scoring_batch_size,
            lease_seconds=settings.claim_timeout_seconds,
        )
        for _ in range(workers)
    ]
    threads = [threading.Thread(target=s.run, kwargs={"until_done": True}) for s in scorers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reduce(StepTimes.add, (scorer.times for scorer in scorers), StepTimes())


if __name__ == "__main__":
    main()
