"""Scoring every review with a model version: workers claim batches of unscored reviews from
the database, score them, and write each batch in one transaction.

Any number of workers (the web process's thread, `textflix worker` processes, other machines)
share the work:

- A claim (`ScoringClaim`) is a lease on one review for one model version. A live claim keeps
  other workers off; one past its expiry (its worker died or stalled) may be taken over.
- On Postgres, claiming locks the candidate rows with `FOR UPDATE SKIP LOCKED`, so workers take
  different reviews without waiting for each other. SQLite has one writer at a time: claims
  stay correct there, but a second worker adds no speed, so run one (the web process's).
- A score is written only while its worker still holds the claim and the review still has the
  text revision that was scored; otherwise it is dropped and the review stays queued, so no
  review is scored twice and none is skipped, and stored scores always belong to stored text.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    DateTime,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import FromClause
from tqdm import tqdm

from app import stats
from app.lifecycle.serving import ModelHolder
from app.models import Movie, Review, ReviewScore, ScoringClaim, ScoringJob, SentenceScore, utcnow
from app.movies import most_reviewed_first, movie_counts
from app.sentiment.classifier import Analysis, Classifier, analyze

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_BATCH_SIZE = 128
"""Reviews a worker claims and scores at a time. The engine sorts a call's windows by length,
so larger calls pad less: on an AMD host without AMX (onnx-int8, 3,000 reviews, runs
interleaved) the model scored 42.0-44.9 reviews/s in claims of 128 against 37.4-41.2 in
claims of 32. A page someone opens waits for the batch in flight (about 3 s there)."""
CANDIDATES_PER_CLAIM = 4
"""A claim looks at this many times the batch size, so that workers claiming at the same
moment find enough reviews the others have not locked."""
RATE_WINDOW = timedelta(minutes=2)
"""How far back the banner looks to measure the scoring rate."""


def new_worker_id() -> str:
    """A name for one worker, unique across processes and machines."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


class Claimed(NamedTuple):
    """A review handed to one worker, with the text revision it is to score: a row of
    (id, text_revision, body)."""

    review_id: int
    text_revision: int
    body: str


@dataclass
class StepTimes:
    """Seconds one worker spent on each step of its batches, summed: claiming reviews, the
    model, and writing the scores (sentence scores and movie figures included)."""

    claim: float = 0.0
    model: float = 0.0
    write: float = 0.0

    def add(self, other: StepTimes) -> StepTimes:
        return StepTimes(
            self.claim + other.claim, self.model + other.model, self.write + other.write
        )


@dataclass(frozen=True)
class Scored:
    """A review's analysis, for the text revision it was computed from."""

    review_id: int
    text_revision: int
    analysis: Analysis


def _unscored(version: str) -> ColumnElement[bool]:
    return ~exists().where(ReviewScore.review_id == Review.id, ReviewScore.model_version == version)


def count_unscored(*, session: Session, version: str) -> int:
    """How many reviews have no score from `version`."""
    return session.scalar(select(func.count(Review.id)).where(_unscored(version))) or 0


FIRST_AGAIN_AFTER = timedelta(seconds=30)
"""A movie opened again within this time is not written to the queue again."""


def put_first_if_unscored(*, session: Session, movie: Movie, complete: bool) -> None:
    """Someone opened `movie`: if it is not fully scored, its reviews go to the front of the
    scoring queue (after people's own reviews)."""
    now = utcnow()
    if complete or (
        movie.score_first_at is not None and _as_utc(movie.score_first_at) > now - FIRST_AGAIN_AFTER
    ):
        return
    session.execute(update(Movie).where(Movie.id == movie.id).values(score_first_at=now))
    session.commit()


def claim_batch(
    *,
    session: Session,
    version: str,
    worker: str,
    limit: int,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> list[Claimed]:
    """Claim up to `limit` unscored reviews for `worker`, in scoring order: people's own reviews
    first, then movies someone opened while they were not fully scored (the latest first), then
    movies by number of reviews, as the catalog lists them. Commits; [] when none is left."""
    while True:
        now = utcnow()
        counts = movie_counts(version=version).alias("claim_counts")
        live_claim = exists().where(
            ScoringClaim.review_id == Review.id,
            ScoringClaim.model_version == version,
            ScoringClaim.expires_at > now,
        )
        # The order is found without locks (a top-N sort), then the first rows no other
        # worker is claiming are locked: locking while sorting would sort every review.
        queue = (
            select(Review.id)
            .join(Movie, Movie.id == Review.movie_id)
            # Outer: the counts only order the queue; a review is never skipped for them.
            .outerjoin(counts, counts.c.movie_id == Review.movie_id)
            .where(_unscored(version), ~live_claim)
            .order_by(Review.user_id.is_(None), *_movies_in_queue_order(counts), Review.id)
            .limit(limit * CANDIDATES_PER_CLAIM)
        )
        # Sorting every unscored review costs 0.15 s a claim at 50,000 (SQLite): look first
        # among people's reviews and the next movies in the queue, and at all of them only
        # when those do not fill a batch (near the end of the queue, or if the movies'
        # counts are behind).
        nearest = _reviews_near_the_front(
            session, version=version, counts=counts, now=now, limit=limit
        )
        candidates = list(session.scalars(queue.where(Review.id.in_(nearest))))
        if len(candidates) < limit:
            candidates = list(session.scalars(queue))
        if not candidates:
            session.rollback()
            return []
        lockable = select(Review.id).where(Review.id.in_(candidates))
        locked = set(session.scalars(lockable.with_for_update(skip_locked=True)))
        ids = [review_id for review_id in candidates if review_id in locked][:limit]
        expires = now + timedelta(seconds=lease_seconds)
        taken = set(_take(session, ids=ids, version=version, worker=worker, now=now, until=expires))
        rows = session.execute(
            select(Review.id, Review.text_revision, Review.body).where(Review.id.in_(taken))
        ).all()
        session.commit()
        if taken:
            by_id = {row.id: Claimed(*row) for row in rows}
            return [by_id[review_id] for review_id in ids if review_id in by_id]
        # Other workers are claiming these very reviews: look again.


def _movies_in_queue_order(counts: FromClause) -> list[ColumnElement[Any]]:
    """The scoring queue's order of movies (`counts` from `movie_counts`): those opened while
    not fully scored (the latest first), then the catalog's order."""
    return [Movie.score_first_at.desc().nulls_last(), *most_reviewed_first(counts)]


def _reviews_near_the_front(
    session: Session, *, version: str, counts: FromClause, now: datetime, limit: int
) -> CompoundSelect[tuple[int]]:
    """A query of the ids of people's reviews and of the reviews of the first movies in queue
    order that have, by their counts, enough unscored reviews for a claim, besides those other
    workers hold claims on."""
    claimed = session.scalar(
        select(func.count())
        .select_from(ScoringClaim)
        .where(ScoringClaim.model_version == version, ScoringClaim.expires_at > now)
    )
    wanted = limit * CANDIDATES_PER_CLAIM + (claimed or 0)
    movies: list[int] = []
    unscored_in_movies = 0
    rows = session.execute(
        select(Movie.id, counts.c.n_reviews - counts.c.n_scored)
        .join(counts, counts.c.movie_id == Movie.id)
        .where(counts.c.n_scored < counts.c.n_reviews)
        .order_by(*_movies_in_queue_order(counts))
    )
    for movie_id, unscored in rows:
        movies.append(movie_id)
        unscored_in_movies += unscored
        if unscored_in_movies >= wanted:
            break
    rows.close()
    # A union of two index lookups: an OR of the two conditions would scan every review.
    return union(
        select(Review.id).where(Review.user_id.is_not(None)),
        select(Review.id).where(Review.movie_id.in_(movies)),
    )


def _take(
    session: Session,
    *,
    ids: Sequence[int],
    version: str,
    worker: str,
    now: datetime,
    until: datetime,
) -> list[int]:
    """Insert claims on `ids` still unscored, or take over expired ones; the ids now ours.
    The conflict check sees claims committed after our first look, so two workers never
    both take a review."""
    dialect = session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    source = select(
        Review.id,
        literal(version),
        literal(worker),
        literal(until, DateTime(timezone=True)),
    ).where(Review.id.in_(ids), _unscored(version))
    stmt = make_insert(ScoringClaim).from_select(
        ["review_id", "model_version", "worker", "expires_at"], source
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ScoringClaim.review_id, ScoringClaim.model_version],
        set_={"worker": stmt.excluded.worker, "expires_at": stmt.excluded.expires_at},
        where=ScoringClaim.expires_at <= now,
    )
    return list(session.scalars(stmt.returning(ScoringClaim.review_id)))


def release_claims(*, session_factory: sessionmaker[Session], worker: str) -> int:
    """Hand back every claim `worker` holds, so other workers can take those reviews now."""
    with session_factory() as session:
        released = session.execute(delete(ScoringClaim).where(ScoringClaim.worker == worker))
        session.commit()
    return int(getattr(released, "rowcount", 0) or 0)


def store_scores(
    *, session: Session, version: str, scored: Sequence[Scored], worker: str | None = None
) -> list[int]:
    """Write a batch of scores and their sentence scores in bulk, in the caller's transaction;
    the ids of the reviews written. A score is written only if its review still has the text
    revision that was scored (and, for a worker, is still claimed by it); others are dropped
    and their reviews stay queued. Replaces an earlier score of `version`."""
    ids = [item.review_id for item in scored]
    if not ids:
        return []
    # Postgres: lock the reviews, so an edit either came first (and we see its revision) or
    # waits for this commit (and then deletes these scores).
    session.execute(select(Review.id).where(Review.id.in_(ids)).with_for_update())
    # Releasing the claims is also the first write, which on SQLite takes the write lock.
    release = delete(ScoringClaim).where(
        ScoringClaim.review_id.in_(ids), ScoringClaim.model_version == version
    )
    if worker is not None:
        release = release.where(ScoringClaim.worker == worker)
    held = set(session.scalars(release.returning(ScoringClaim.review_id)))
    current = select(Review.id, Review.text_revision).where(Review.id.in_(ids))
    revisions: dict[int, int] = dict(session.execute(current).all())
    fresh = [
        item
        for item in scored
        if revisions.get(item.review_id) == item.text_revision
        and (worker is None or item.review_id in held)
    ]
    if not fresh:
        return []
    fresh_ids = [item.review_id for item in fresh]
    session.execute(
        delete(ReviewScore).where(
            ReviewScore.review_id.in_(fresh_ids), ReviewScore.model_version == version
        )
    )
    now = utcnow()
    score_ids = session.scalars(
        insert(ReviewScore).returning(ReviewScore.id, sort_by_parameter_order=True),
        [
            {
                "review_id": item.review_id,
                "model_version": version,
                "text_revision": item.text_revision,
                "p_positive": item.analysis.prediction.p_positive,
                "scored_at": now,
            }
            for item in fresh
        ],
    ).all()
    sentences = [
        {"score_id": score_id, "position": i, "text": s.text, "p_positive": s.p_positive}
        for score_id, item in zip(score_ids, fresh, strict=True)
        for i, s in enumerate(item.analysis.sentences)
    ]
    if sentences:
        session.execute(insert(SentenceScore), sentences)
    stats.refresh_reviews(session, fresh_ids)
    return fresh_ids


def latest_job(*, session: Session, version: str | None = None) -> ScoringJob | None:
    """The most recent scoring job (of `version`, if given), for the progress display."""
    stmt = select(ScoringJob).order_by(ScoringJob.id.desc()).limit(1)
    if version is not None:
        stmt = stmt.where(ScoringJob.model_version == version)
    return session.scalar(stmt)


def running_jobs(*, session: Session, version: str | None) -> list[ScoringJob]:
    """What the progress banner shows: the current version's job if it is running, and the
    latest running job of another version (one being promoted or scored to compare)."""
    jobs = []
    if version is not None:
        own = latest_job(session=session, version=version)
        if own is not None and own.status == "running":
            jobs.append(own)
    stmt = (
        select(ScoringJob)
        .where(ScoringJob.status == "running")
        .order_by(ScoringJob.id.desc())
        .limit(1)
    )
    if version is not None:
        stmt = stmt.where(ScoringJob.model_version != version)
    other = session.scalar(stmt)
    return [*jobs, other] if other is not None else jobs


@dataclass(frozen=True)
class Progress:
    """How far scoring with one version has got, counted in the database (so it holds for
    any number of workers), and the rate measured over the last few minutes."""

    model_version: str
    n_scored: int
    n_total: int
    per_second: float | None

    @property
    def remaining(self) -> int:
        return max(0, self.n_total - self.n_scored)

    @property
    def seconds_left(self) -> float | None:
        """An estimate from the measured rate; None until there is one."""
        if not self.per_second:
            return None
        return self.remaining / self.per_second


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def progress(*, session: Session, version: str) -> Progress:
    """Scored and total reviews for `version`, and the recent scoring rate."""
    n_total = session.scalar(select(func.count(Review.id))) or 0
    n_scored = (
        session.scalar(
            select(func.count(ReviewScore.id)).where(ReviewScore.model_version == version)
        )
        or 0
    )
    now = utcnow()
    recent, first = session.execute(
        select(func.count(ReviewScore.id), func.min(ReviewScore.scored_at)).where(
            ReviewScore.model_version == version, ReviewScore.scored_at >= now - RATE_WINDOW
        )
    ).one()
    per_second = None
    if recent and first is not None:
        elapsed = (now - _as_utc(first)).total_seconds()
        per_second = recent / max(elapsed, 1.0)
    return Progress(version, n_scored, n_total, per_second)


def score_pending(
    *,
    session_factory: sessionmaker[Session],
    classifier: Classifier,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    stop: threading.Event | None = None,
    worker: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    times: StepTimes | None = None,
) -> ScoringJob | None:
    """Score every review lacking a score from the classifier's version that no other worker
    has claimed, batch by batch, recording progress in a ScoringJob row. Between batches it
    checks `stop`; the batch in flight is finished, and any claim left is handed back. Adds
    the seconds of each step to `times`, if given.

    The database work overlaps the model's: while the model scores one batch (in a thread of
    its own; the runtimes release the GIL), this thread writes the batch before and claims
    the next, so a worker's rate is the model's rather than the model's plus the database's."""
    version = classifier.version
    times = times if times is not None else StepTimes()
    worker = worker or new_worker_id()
    with session_factory() as session:
        total = count_unscored(session=session, version=version)
        if total == 0:
            return None
        job = ScoringJob(model_version=version, total=total)
        session.add(job)
        session.commit()
        bar = tqdm(total=total, desc=f"scoring with {version}", unit="review", disable=not progress)

        def claim() -> list[Claimed]:
            started = time.perf_counter()
            claimed = claim_batch(
                session=session,
                version=version,
                worker=worker,
                limit=batch_size,
                lease_seconds=lease_seconds,
            )
            times.claim += time.perf_counter() - started
            return claimed

        def score(texts: list[str]) -> list[Analysis]:  # in the model's thread
            started = time.perf_counter()
            analyses = analyze(classifier, texts)
            times.model += time.perf_counter() - started
            return analyses

        def write(batch: list[Claimed], analyses: list[Analysis]) -> None:
            started = time.perf_counter()
            written = store_scores(
                session=session,
                version=version,
                scored=[
                    Scored(claimed.review_id, claimed.text_revision, analysis)
                    for claimed, analysis in zip(batch, analyses, strict=True)
                ],
                worker=worker,
            )
            job.done = min(job.total, job.done + len(written))
            session.commit()  # the batch's scores, sentences, released claims and progress
            times.write += time.perf_counter() - started
            bar.update(len(written))

        def next_batch() -> list[Claimed] | None:
            """The next claim: [] when nothing is left, None once `stop` is set."""
            return None if stop is not None and stop.is_set() else claim()

        try:
            with ThreadPoolExecutor(1, thread_name_prefix=f"model-{worker}") as model:
                batch = next_batch()
                scored: tuple[list[Claimed], list[Analysis]] | None = None
                while batch and not (stop is not None and stop.is_set()):
                    in_flight = model.submit(score, [claimed.body for claimed in batch])
                    if scored is not None:
                        write(*scored)
                    following = next_batch()
                    scored = (batch, in_flight.result())
                    batch = following
                if scored is not None:
                    write(*scored)
            # Stopped with a batch claimed but not scored: it is handed back below.
            job.status = "done" if batch == [] else "stopped"
        except Exception as exc:
            session.rollback()
            job.status = "failed"
            job.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            bar.close()
            job.finished_at = utcnow()
            session.merge(job)
            session.commit()
            release_claims(session_factory=session_factory, worker=worker)
        return job


class ScoringWorker:
    """Keeps scoring new and imported reviews with the current model, in a thread of the web
    process or as the main loop of `textflix worker`; follows promotions."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        models: ModelHolder,
        idle_seconds: float = 5.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._models = models
        self._idle_seconds = idle_seconds
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self.worker_id = new_worker_id()
        self.times = StepTimes()
        """Seconds spent claiming, in the model and writing, over this worker's life."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="scoring-worker", daemon=True)

    def start(self) -> None:
        """Score in a background thread."""
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the batch in flight (safe to call from a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread: it finishes the batch in flight if it can within `timeout`;
        otherwise its claims are handed back now and its late write will be dropped."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("scoring did not stop within %.0f s: handing its batch back", timeout)
            release_claims(session_factory=self._session_factory, worker=self.worker_id)

    def run(self, *, until_done: bool = False) -> None:
        """Score until stopped (or, with `until_done`, until nothing is left to claim)."""
        while not self._stop.is_set():
            classifier = self._models.get()  # follows promotions
            job = None
            try:
                if classifier is not None:
                    job = score_pending(
                        session_factory=self._session_factory,
                        classifier=classifier,
                        batch_size=self._batch_size,
                        progress=False,
                        stop=self._stop,
                        worker=self.worker_id,
                        lease_seconds=self._lease_seconds,
                        times=self.times,
                    )
            except Exception:
                log.exception("background scoring failed; retrying in a while")
            if until_done and (job is None or job.status == "done"):
                return
            self._stop.wait(self._idle_seconds)
