"""Settings: one object, validated at start-up, with messages that say what to set."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from app.config import ModelBackend, Settings


def test_database_url_comes_from_DATABASE_URL(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://textflix@db:5432/textflix")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg://textflix@db:5432/textflix"


def test_default_is_an_sqlite_file_in_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TEXTFLIX_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url.endswith("/textflix.db")  # type: ignore[call-arg]


def test_unknown_database_is_refused_with_advice() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must be sqlite"):
        Settings(_env_file=None, database_url="mysql://x")  # type: ignore[call-arg]


def test_device_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTFLIX_DEVICE", "tpu")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_backend_setting_offers_exactly_the_model_sides_backends() -> None:
    from app.sentiment.backends import BackendSetting

    assert set(get_args(ModelBackend)) == set(get_args(BackendSetting))
