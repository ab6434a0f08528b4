"""Create or upgrade the database schema with the Alembic migrations in migrations/."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(toml_file=PROJECT_ROOT / "pyproject.toml")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` up to `revision` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)
