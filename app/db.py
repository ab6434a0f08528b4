"""Engine, session factory and the declarative base."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

_SURROGATE = re.compile("[\ud800-\udfff]")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware in UTC.

    Postgres keeps the zone (timestamptz); SQLite keeps none, so without this its values
    would come back naive and leave the API without a timezone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored in a text column of both databases, or None if it can."""
    if "\x00" in text:
        return "contains a NUL character, which PostgreSQL cannot store"
    if _SURROGATE.search(text):
        return "contains a lone surrogate (U+D800..U+DFFF), which is not valid Unicode text"
    return None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every `Mapped[datetime]` column is a UTCDateTime unless it says otherwise.
    type_annotation_map = {datetime: UTCDateTime}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that is closed on exit; callers commit what they mean to keep."""
    session = factory()
    try:
        yield session
    finally:
        session.close()


MAX_ROW_ID = 2**31 - 1
"""The largest id an INTEGER column holds on Postgres (SQLite's are wider)."""


def is_row_id(value: int) -> bool:
    """Whether `value` can name a row: ids outside 1..MAX_ROW_ID name none, and are answered
    as missing before they reach the database (where Postgres would refuse them)."""
    return 1 <= value <= MAX_ROW_ID
