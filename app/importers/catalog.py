"""Merging what a metadata source says about movies into the Movie table, by IMDb id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sqlalchemy import String, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.db import Base, unstorable
from app.importers.bulk import batched, store_isolating
from app.importers.report import ImportReport
from app.models import Movie, MovieGenre

BATCH_SIZE = 500
_TEXT_FIELDS = ("title", "director", "actors", "runtime", "rated")


@dataclass(frozen=True)
class MovieFacts:
    """What one source record says about one title; None (or no genres) means it is silent."""

    imdb_id: str  # "tt0114709"
    location: str  # where the record was read, for problems
    title: str | None = None
    year: int | None = None
    director: str | None = None
    actors: str | None = None
    runtime: str | None = None
    rated: str | None = None
    genres: tuple[str, ...] = ()


class FactsImporter(ABC):
    """One dataset's movie facts, merged into the catalog. A source that cannot be read fails
    the report, after keeping what was merged before; a bad record only rejects itself."""

    overwrite: ClassVar[bool]
    """Whether the dataset's facts replace what is there, or only fill what is missing."""
    unreadable: ClassVar[tuple[type[Exception], ...]]
    """The errors that mean the source itself cannot be read."""
    unreadable_note: ClassVar[str]

    @abstractmethod
    def facts(
        self, source: Path, report: ImportReport, *, progress: bool
    ) -> AbstractContextManager[Iterable[MovieFacts]]:
        """The source's facts, open while they are merged; bad records go to `report`."""

    def __call__(
        self,
        *,
        session_factory: sessionmaker[Session],
        source: Path,
        only_existing: bool = True,
        progress: bool = True,
    ) -> ImportReport:
        """Apply the facts to movies: overwrite, or only fill empty fields; create movies
        unless `only_existing`."""
        report = ImportReport()
        try:
            with (
                self.facts(source, report, progress=progress) as facts,
                session_factory() as session,
            ):
                for batch in batched(facts, BATCH_SIZE):
                    store_isolating(
                        session,
                        batch,
                        lambda records: _merge_batch(
                            session,
                            records,
                            overwrite=self.overwrite,
                            only_existing=only_existing,
                            report=report,
                        ),
                        report=report,
                        location=lambda record: record.location,
                    )
                    session.commit()
        except self.unreadable as exc:
            report.fail(str(source), f"{self.unreadable_note}: {exc}")
        return report


def _merge_batch(
    session: Session,
    batch: list[MovieFacts],
    *,
    overwrite: bool,
    only_existing: bool,
    report: ImportReport,
) -> None:
    wanted = (
        select(Movie)
        .where(Movie.imdb_id.in_({facts.imdb_id for facts in batch}))
        # Locked now, in id order, as app.stats locks movies: writers of reviews and scores
        # and this import then wait for each other instead of deadlocking.
        .order_by(Movie.id)
        .with_for_update(key_share=True, of=Movie)
    )
    movies = {
        movie.imdb_id: movie
        for movie in session.scalars(wanted.options(selectinload(Movie.genres)))
    }
    for facts in batch:
        problem = _unstorable(facts)
        if problem is not None:
            report.reject(facts.location, problem)
            continue
        movie = movies.get(facts.imdb_id)
        if movie is None:
            if only_existing:
                report.ignored += 1
                continue
            movie = movies[facts.imdb_id] = Movie(imdb_id=facts.imdb_id)
            session.add(movie)
            _apply(movie, facts, overwrite=True, report=report)
            report.added += 1
        elif _apply(movie, facts, overwrite=overwrite, report=report):
            report.updated += 1
        else:
            report.skipped += 1


def _unstorable(facts: MovieFacts) -> str | None:
    """Why the database cannot store one of the record's texts; the record is left out whole
    rather than stored with a changed title or name."""
    texts = [(name, getattr(facts, name)) for name in _TEXT_FIELDS]
    texts += [("genre", name) for name in facts.genres]
    for name, value in texts:
        reason = None if value is None else unstorable(value)
        if reason is not None:
            return f"{name} {reason}"
    return None


def _apply(movie: Movie, facts: MovieFacts, *, overwrite: bool, report: ImportReport) -> bool:
    """Copy `facts` onto `movie`; whether anything changed."""
    changed = False
    for name in _TEXT_FIELDS:
        value = getattr(facts, name)
        if value is None:
            continue
        value = _fit(value, name=name, location=facts.location, report=report)
        current = getattr(movie, name)
        if current != value and (overwrite or current is None):
            setattr(movie, name, value)
            changed = True
    if facts.year is not None and movie.year != facts.year and (overwrite or movie.year is None):
        movie.year = facts.year
        changed = True
    if facts.genres and (overwrite or not movie.genres):
        changed |= _set_genres(movie, facts, report)
    return changed


def _set_genres(movie: Movie, facts: MovieFacts, report: ImportReport) -> bool:
    limit = _max_length(MovieGenre, "name")
    names = []
    for name in facts.genres:
        if limit is not None and len(name) > limit:
            report.warn(facts.location, f"genre {name[:40]!r}... is longer than {limit} characters")
        else:
            names.append(name)
    if not names or set(names) == set(movie.genre_names):
        return False
    movie.genres = [MovieGenre(name=name) for name in names]
    return True


def _fit(value: str, *, name: str, location: str, report: ImportReport) -> str:
    """`value` cut to the length of the Movie column `name`, keeping whole list items."""
    limit = _max_length(Movie, name)
    if limit is None or len(value) <= limit:
        return value
    head = value[:limit]
    cut = head.rfind(", ")
    shortened = head[:cut] if cut > 0 else head
    report.warn(location, f"{name} cut to {len(shortened)} of its {len(value)} characters")
    return shortened


def _max_length(model: type[Base], column: str) -> int | None:
    column_type = model.__table__.c[column].type
    return column_type.length if isinstance(column_type, String) else None
