"""`make demo` on a fresh clone, timed as a newcomer lives it: from the command to every
imported review scored.

    python bench/bench_demo.py CHECKOUT [--every 15] [--keep-running]

CHECKOUT is a fresh clone of the project (beside `shared/`, so that it imports from
`../shared/data`), never set up before. Runs `make demo` there, and from this process watches
what a visitor would see, every `--every` seconds: when the site answers (/healthz), when the
catalog's first page (the 24 most-reviewed movies) is fully scored by the served model, and
when every review is; the scoring rate the banner shows; the resident memory of the demo's
process tree. Then stops the demo (SIGINT, as Ctrl-C does) and prints the timeline. Prints
figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

# This checkout's app reads the clone's database (the schema is the same).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.movies import search_catalog  # noqa: E402
from app.schemas import CatalogQuery  # noqa: E402
from app.scoring import progress  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a fresh clone of the project")
    parser.add_argument("--port", type=int, default=8000, help="where `make demo` serves")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between looks")
    parser.add_argument("--keep-running", action="store_true", help="leave the demo serving")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    log = checkout / "bench-demo.log"

    started = time.monotonic()
    with log.open("w") as output:
        demo = subprocess.Popen(  # noqa: S603 (the project's own Makefile)
            [shutil.which("make") or "make", "demo"],
            cwd=checkout,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    events: dict[str, float] = {}
    peak_rss = 0
    rates: list[float] = []
    scored, total = 0, 0
    database = create_engine(f"sqlite:///{checkout / 'textflix.db'}")
    try:
        while demo.poll() is None:
            time.sleep(args.every)
            now = time.monotonic() - started
            peak_rss = max(peak_rss, _tree_rss(demo.pid))
            if "site answers" not in events and _answers(args.port):
                events["site answers"] = now
            current = checkout / "models" / "CURRENT"
            if "site answers" not in events or not current.is_file():
                continue
            version = current.read_text().strip()
            with Session(database) as session:
                state = progress(session=session, version=version)
                first_page = search_catalog(session=session, version=version, query=CatalogQuery())
            scored, total = state.n_scored, state.n_total
            if state.per_second:
                rates.append(state.per_second)
            complete = all(row.sentiment.complete for row in first_page.items)
            if complete and "first page scored" not in events:
                events["first page scored"] = now
            print(
                f"{now / 60:6.1f} min: {scored:,} of {total:,} scored"
                f" ({state.per_second or 0:.1f}/s), RSS {peak_rss / 2**20:,.0f} MiB peak",
                flush=True,
            )
            if total and scored >= total:
                events["every review scored"] = now
                break
    finally:
        if not args.keep_running and demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(60)
    print(f"\n`make demo` in {checkout} ({os.cpu_count()} cores); log in {log}")
    print(f"{'event':<24} {'minutes after the command':>26}")
    for name, seconds in events.items():
        print(f"{name:<24} {seconds / 60:>26.1f}")
    if "site answers" in events and "first page scored" in events:
        after = events["first page scored"] - events["site answers"]
        print(f"first page scored {after / 60:.1f} min after the site came up")
    print(f"scored {scored:,} of {total:,} reviews")
    if rates:
        median = sorted(rates)[len(rates) // 2]
        print(f"scoring rate (the banner's, over 2 minutes): median {median:.1f}/s")
    print(f"peak RSS of the demo's processes (sampled): {peak_rss / 2**20:,.0f} MiB")


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, now."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


if __name__ == "__main__":
    main()
