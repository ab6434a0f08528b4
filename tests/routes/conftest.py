"""An app per test with its own database and a fake classifier, and a signed-in browser helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.config import Settings
from app.main import create_app
from tests.factories import PASSWORD, FakeClassifier


@pytest.fixture
def classifier() -> FakeClassifier | None:
    return FakeClassifier()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        secret_key="test-secret",
        models_dir=tmp_path / "models",
        page_size=5,
        max_review_chars=2000,
        score_in_background=False,  # tests score when they mean to
    )


@pytest.fixture
def app(settings: Settings, engine: Engine, classifier: FakeClassifier | None) -> FastAPI:
    return create_app(settings, classifier=classifier, load_model=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def page(response) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    return BeautifulSoup(response.text, "html.parser")


def csrf_from(client: TestClient, path: str = "/login") -> str:
    field = page(client.get(path)).select_one("input[name=csrf_token]")
    assert field is not None, f"no CSRF field on {path}"
    return str(field["value"])


def sign_up(client: TestClient, username: str = "alice", password: str = PASSWORD) -> None:
    token = csrf_from(client, "/signup")
    response = client.post(
        "/signup",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_from(client, "/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def text(element) -> str:  # type: ignore[no-untyped-def]
    """An element's text with white space folded, as a reader sees it."""
    assert element is not None, "element not found"
    return " ".join(element.get_text(" ").split())
