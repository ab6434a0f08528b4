"""Latency and throughput of the site under load, at 1, 8 and 32 concurrent users (locust).

    python bench/bench_load.py [--db sqlite|postgres] [--reviews N] [--seconds 20]
                               [--users 1,8,32] [--workers 1] [--model DIR] [--pages-only]

It fills a fresh database (SQLite in a temporary folder, or a schema of its own on the
PostgreSQL server of `--postgres-url`) with the first N aclImdb reviews through the importer
(N = 50000 is the whole catalog), gives every review a synthetic score of the served model
version (drawn around its gold label: scoring 50,000 reviews for real takes hours on a CPU, and
the pages cost the same whatever the scores say), creates the accounts the signed-in users
log in with, and starts the server with uvicorn on a free port. Then, for each user count, it
runs locust headless (bench/locustfile.py) for a fixed time and prints p50/p95/p99 and
requests/s for the catalog page, a movie page, posting a review (saved and scored by the
model on arrival), /api/sentiment and /healthz. Prints figures only; asserts nothing.

With `--model DIR` (a trained model folder) posting and /api/sentiment run that model;
without it, the current one of TEXTFLIX_MODELS_DIR, and without any both answer without
scoring (a 503 for /api/sentiment), which the table shows as failures. `--pages-only` leaves
out the two requests that run the model, to see what the pages cost on their own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

# This checkout's app, even where the environment has another copy of the project installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import stats  # noqa: E402
from app.config import PROJECT_ROOT, Settings  # noqa: E402
from app.db import make_engine, make_session_factory  # noqa: E402
from app.importers.aclimdb import import_reviews  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Movie, MovieStats, Review, ReviewScore, User  # noqa: E402
from app.security import hash_password  # noqa: E402
from app.sentiment.registry import current_model_dir  # noqa: E402

ENDPOINTS = ["catalog", "movie", "post review", "sentiment", "healthz"]
PASSWORD = "bench-password-1"  # noqa: S105 (throwaway accounts of a throwaway database)
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--reviews", type=int, default=50_000, help="aclImdb reviews to import")
    parser.add_argument("--seconds", type=int, default=30, help="per user count")
    parser.add_argument("--users", default="1,8,32", help="comma-separated user counts")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--model", type=Path, default=None, help="a trained model folder")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="leave out posting and /api/sentiment (the requests that run the model)",
    )
    args = parser.parse_args()
    settings = Settings()
    archive = aclimdb_archive(settings)
    models_dir = models_dir_serving(args.model, settings)
    model = current_model_dir(models_dir) if models_dir else None
    version = model.name if model else "bench-no-model"

    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as workdir,
        temporary_database(args.db, args.postgres_url or DEFAULT_POSTGRES, Path(workdir)) as url,
    ):
        started = time.perf_counter()
        movie_ids = _fill(url, archive, args.reviews, version, users=max(_counts(args.users)))
        print(
            f"{args.db}: {args.reviews:,} reviews of {len(movie_ids):,} movies imported and "
            f"scored as {version} in {time.perf_counter() - started:.0f} s; model: "
            f"{model or 'none'}; {args.workers} uvicorn worker(s); {args.seconds} s per level"
            + ("; pages only" if args.pages_only else ""),
            flush=True,
        )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TEXTFLIX_SECRET_KEY": "bench",
            "TEXTFLIX_MODELS_DIR": str(models_dir or Path(workdir) / "no-models"),
            "BENCH_MOVIE_IDS": ",".join(map(str, movie_ids[:200])),
        }
        with _server(env, args.workers) as host:
            accounts = range(1, max(_counts(args.users)) + 1)
            env["BENCH_TOKENS"] = ",".join(_token(host, f"bench{i}") for i in accounts)
            rows = []
            for users in _counts(args.users):
                rows += _run_locust(
                    host, env, users, args.seconds, Path(workdir), pages_only=args.pages_only
                )
        _print_table(rows)


def aclimdb_archive(settings: Settings) -> Path:
    """The aclImdb archive in the data folder; exits saying where it looked if there is none."""
    archive: Path = settings.data_dir / "aclImdb_v1.tar.gz"
    if not archive.exists():
        sys.exit(f"no aclImdb archive at {archive}: set TEXTFLIX_DATA_DIR to its folder")
    return archive


def _counts(users: str) -> list[int]:
    return [int(n) for n in users.split(",") if n.strip()]


def models_dir_serving(model: Path | None, settings: Settings) -> Path | None:
    """A models folder whose current model is `model`, or the configured one."""
    if model is None:
        return settings.models_dir if current_model_dir(settings.models_dir) else None
    folder = Path(tempfile.mkdtemp(prefix="bench-models-"))
    (folder / model.name).symlink_to(model.resolve())
    (folder / "CURRENT").write_text(model.name + "\n")
    return folder


@contextmanager
def temporary_database(kind: str, postgres_url: str, workdir: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `workdir`, or a Postgres schema of its
    own (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _fill(url: str, archive: Path, n_reviews: int, version: str, *, users: int) -> list[int]:
    """Import, score (synthetically) and add accounts; the movie ids, most reviewed first."""
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    report = import_reviews(
        session_factory=factory, source=archive, limit=n_reviews, progress=False
    )
    rng = random.Random(0)  # noqa: S311 (synthetic scores)
    with factory() as session:
        rows = session.execute(select(Review.id, Review.gold_label)).all()
        scores = [
            {
                "review_id": review_id,
                "model_version": version,
                "p_positive": min(1.0, max(0.0, rng.gauss(0.8 if gold else 0.2, 0.2))),
            }
            for review_id, gold in rows
        ]
        for start in range(0, len(scores), 5000):
            session.execute(ReviewScore.__table__.insert(), scores[start : start + 5000])
        stats.rebuild(session)
        if session.get_bind().dialect.name == "postgresql":
            session.commit()
            session.execute(text("ANALYZE"))  # as autovacuum soon would after a bulk load
        password_hash = hash_password(PASSWORD)
        session.add_all(
            User(username=f"bench{i}", password_hash=password_hash) for i in range(1, users + 1)
        )
        session.commit()
        movie_ids = _most_reviewed(session)
    engine.dispose()
    print(f"aclImdb import: {report.summary()}", flush=True)
    if report.failed:
        sys.exit(f"the import failed: {report.failures}")
    return movie_ids


def _most_reviewed(session: Session) -> list[int]:
    counted = select(MovieStats.movie_id).where(MovieStats.model_version == "")
    ordered = counted.join(Movie, Movie.id == MovieStats.movie_id).order_by(
        MovieStats.n_reviews.desc(), Movie.id
    )
    return list(session.scalars(ordered))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _server(env: dict[str, str], workers: int) -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)  # noqa: S603
    host = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(host, server)
        yield host
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_until_up(host: str, server: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{host}/healthz", timeout=2):  # noqa: S310 (local)
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the server did not answer on {host} within {timeout:.0f} s")


def _token(host: str, username: str) -> str:
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD}).encode()
    with urllib.request.urlopen(f"{host}/api/token", data=form, timeout=60) as response:  # noqa: S310
        token: str = json.load(response)["access_token"]
        return token


def _run_locust(
    host: str, env: dict[str, str], users: int, seconds: int, workdir: Path, *, pages_only: bool
) -> list[dict[str, str]]:
    prefix = workdir / f"locust-{users}"
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    command = [
        locust,
        "-f",
        str(PROJECT_ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "ERROR",
        "--exit-code-on-error",
        "0",
        *(["--exclude-tags", "model"] if pages_only else []),
    ]
    subprocess.run(  # noqa: S603
        command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Name"] in ENDPOINTS]
    with open(f"{prefix}_failures.csv", newline="") as handle:
        for failure in csv.DictReader(handle):
            print(
                f"  {users} users: {failure['Occurrences']} x {failure['Method']} "
                f"{failure['Name']}: {failure['Error']}",
                flush=True,
            )
    for row in rows:
        row["users"] = str(users)
    return sorted(rows, key=lambda row: ENDPOINTS.index(row["Name"]))


def _print_table(rows: list[dict[str, str]]) -> None:
    print()
    print("| users | endpoint | requests | failures | p50 ms | p95 ms | p99 ms | requests/s |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['users']} | {row['Name']} | {row['Request Count']} | "
            f"{row['Failure Count']} | {row['50%']} | {row['95%']} | {row['99%']} | "
            f"{float(row['Requests/s']):.1f} |"
        )


if __name__ == "__main__":
    main()
