"""Background scoring: every review without a score from the current model gets one."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from app import stats
from app.lifecycle.serving import ModelHolder
from app.models import Movie, Review, ReviewScore, ScoringJob, utcnow
from app.reviews import store_analysis
from app.sentiment.classifier import Classifier, analyze

log = logging.getLogger(__name__)


def count_unscored(*, session: Session, version: str) -> int:
    """How many reviews have no score from `version`."""
    stmt = select(func.count(Review.id)).where(
        ~exists().where(ReviewScore.review_id == Review.id, ReviewScore.model_version == version)
    )
    return session.scalar(stmt) or 0


def next_unscored(*, session: Session, version: str, limit: int) -> list[Review]:
    """The next reviews to score: people's own first, then titled movies, movie by movie."""
    stmt = (
        select(Review)
        .join(Movie, Movie.id == Review.movie_id)
        .where(
            ~exists().where(
                ReviewScore.review_id == Review.id, ReviewScore.model_version == version
            )
        )
        .order_by(
            Review.user_id.is_(None),
            Movie.title.is_(None),
            Review.movie_id,
            Review.id,
        )
        .limit(limit)
    )
    return list(session.scalars(stmt))


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


def score_pending(
    *,
    session_factory: sessionmaker[Session],
    classifier: Classifier,
    batch_size: int = 32,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> ScoringJob | None:
    """Score every review lacking a current score, recording progress in a ScoringJob row."""
    version = classifier.version
    with session_factory() as session:
        total = count_unscored(session=session, version=version)
        if total == 0:
            return None
        job = ScoringJob(model_version=version, total=total)
        session.add(job)
        session.commit()
        bar = tqdm(total=total, desc=f"scoring with {version}", unit="review", disable=not progress)
        finished = False
        try:
            while not (stop and stop.is_set()):
                batch = next_unscored(session=session, version=version, limit=batch_size)
                if not batch:
                    finished = True
                    break
                analyses = analyze(classifier, [review.body for review in batch])
                for review, analysis in zip(batch, analyses, strict=True):
                    store_analysis(
                        session=session, review=review, version=version, analysis=analysis
                    )
                job.done = min(job.total, job.done + len(batch))
                try:
                    session.flush()
                    stats.refresh_reviews(session, [review.id for review in batch])
                    session.commit()
                except IntegrityError:
                    # Someone else (the web process, another `textflix score`) scored one of
                    # these meanwhile; theirs stands, and the next query skips them.
                    session.rollback()
                bar.update(len(batch))
            job.status = "done" if finished else "stopped"
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
        return job


class ScoringWorker:
    """A daemon thread in the web process that keeps scoring new and imported reviews."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        models: ModelHolder,
        idle_seconds: float = 5.0,
    ) -> None:
        self._session_factory = session_factory
        self._models = models
        self._idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scoring-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            classifier = self._models.get()  # follows promotions
            try:
                if classifier is not None:
                    score_pending(
                        session_factory=self._session_factory,
                        classifier=classifier,
                        progress=False,
                        stop=self._stop,
                    )
            except Exception:
                log.exception("background scoring failed; retrying in a while")
            self._stop.wait(self._idle_seconds)
