"""Shared fixtures: an isolated database per test (SQLite always, Postgres when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import Base, make_engine, make_session_factory

POSTGRES_URL = os.environ.get("TEXTFLIX_TEST_POSTGRES_URL", "")
DATA_DIR = Settings(_env_file=None).data_dir  # type: ignore[call-arg]


def pytest_configure(config: pytest.Config) -> None:
    # Model code must never reach a hub from the tests.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _postgres_url(schema: str) -> str:
    url = POSTGRES_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a fresh Postgres schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TEXTFLIX_TEST_POSTGRES_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's own database, with every table created."""
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


def needs_data(*names: str) -> pytest.MarkDecorator:
    """Skip unless the shared data files `names` are present."""
    missing = [name for name in names if not (DATA_DIR / name).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"shared data missing: {missing} in {DATA_DIR}")


@pytest.fixture(scope="session")
def aclimdb_archive() -> Path:
    """The real aclImdb archive in the shared data folder."""
    archive = DATA_DIR / "aclImdb_v1.tar.gz"
    if not archive.exists():
        pytest.skip(f"no aclImdb archive at {archive}: set TEXTFLIX_DATA_DIR to its folder")
    return archive
