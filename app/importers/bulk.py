"""Batching and conflict-tolerant INSERTs shared by the importers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import Base

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
