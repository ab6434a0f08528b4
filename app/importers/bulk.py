"""Batching and conflict-tolerant INSERTs shared by the importers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm import Session

from app.db import Base
from app.importers.report import ImportReport

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` consecutive items (itertools.batched arrived in Python 3.12)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def insert_or_ignore(session: Session, model: type[Base]) -> Insert:
    """An INSERT into `model` that silently drops rows clashing with a unique constraint."""
    # A pre-check finds what is already there, but another import running at the same time
    # can insert the same rows between that check and this INSERT.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing()
    raise NotImplementedError(f"importers support SQLite and PostgreSQL, not {dialect}")


def store_isolating(
    session: Session,
    batch: list[T],
    store: Callable[[list[T]], None],
    *,
    report: ImportReport,
    location: Callable[[T], str],
    on_rollback: Callable[[], None] = lambda: None,
) -> None:
    """`store(batch)` in a savepoint; if the database refuses it, each record in a savepoint
    of its own, so that only the records it refuses are lost, each reported at `location`."""
    checkpoint = report.checkpoint()
    try:
        with session.begin_nested():
            store(batch)
        return
    except OperationalError:
        raise  # the database itself is in trouble (gone, locked): no record is to blame
    except (StatementError, ValueError) as exc:  # ValueError: text the driver cannot encode
        report.restore(checkpoint)
        on_rollback()
        if len(batch) == 1:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            report.reject(location(batch[0]), f"the database refused it: {reason}")
            return
    for record in batch:
        store_isolating(
            session, [record], store, report=report, location=location, on_rollback=on_rollback
        )
