"""Settings: one object, validated at start-up, with messages that say what to set."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.config import Settings


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


def test_the_backend_setting_offers_auto_and_every_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.sentiment.backends import BACKENDS

    for backend in ("auto", *BACKENDS):
        monkeypatch.setenv("TEXTFLIX_MODEL_BACKEND", backend)
        assert Settings(_env_file=None).model_backend == backend  # type: ignore[call-arg]
    monkeypatch.setenv("TEXTFLIX_MODEL_BACKEND", "int4")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_reading_settings_loads_no_torch() -> None:
    """The web side's settings and the backends' names stay light: no model runtime."""
    code = "import sys, app.config; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0  # noqa: S603
