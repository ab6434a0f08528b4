"""Throttles: failed log-ins per account and per IP, sign-ups per IP, anonymous /api/sentiment per
IP with a shorter text cap; 429 with Retry-After, in the form on pages and as JSON in the API."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import security
from app.config import Settings
from app.main import create_app
from app.models import User
from tests.factories import PASSWORD, make_user
from tests.routes.conftest import csrf_from, log_in, page, text


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The web tests' settings, with small limits to reach."""
    return settings.model_copy(
        update={
            "login_failures_per_account": "3 per 15 minutes",
            "login_failures_per_ip": "5 per 15 minutes",
            "signups_per_ip": "2 per hour",
            "anonymous_sentiment_per_ip": "2 per minute",
            "anonymous_max_sentiment_chars": 100,
        }
    )


def _from(app: FastAPI, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000))


WRONG = "wrong password"  # noqa: S105


def _log_in(client: TestClient, username: str, password: str = WRONG) -> Response:
    data = {"username": username, "password": password, "csrf_token": csrf_from(client, "/login")}
    return client.post("/login", data=data, follow_redirects=False)


def _retry_after(response: Response, window: int = 15 * 60) -> int:
    """The Retry-After header's seconds, checked to lie within the limit's window."""
    seconds = int(response.headers["retry-after"])
    assert 0 < seconds <= window
    return seconds


def test_failed_log_ins_are_throttled_per_account(app: FastAPI, session: Session) -> None:
    make_user(session, username="dave")
    make_user(session, username="erin")
    client = _from(app, "10.0.0.1")

    assert [_log_in(client, "dave").status_code for _ in range(3)] == [401, 401, 401]
    blocked = _log_in(client, "DAVE", PASSWORD)  # even the right password, in any case

    assert blocked.status_code == 429 and _retry_after(blocked)
    message = text(page(blocked).select_one("#login-form .error"))
    assert "Too many failed log-ins for this account" in message and "try again in" in message
    assert _log_in(_from(app, "10.0.0.2"), "dave", PASSWORD).status_code == 429
    assert _log_in(client, "erin", PASSWORD).status_code == 303  # other accounts are unaffected


def test_failed_log_ins_are_throttled_per_ip(app: FastAPI, session: Session) -> None:
    for name in ("u1", "u2", "u3", "u4", "u5", "zed"):
        make_user(session, username=name)
    attacker = _from(app, "10.0.0.66")

    assert {_log_in(attacker, f"u{n}").status_code for n in range(1, 6)} == {401}
    blocked = _log_in(attacker, "zed", PASSWORD)

    assert blocked.status_code == 429 and _retry_after(blocked)
    assert "from your network" in text(page(blocked).select_one("#login-form .error"))
    # Someone else, elsewhere, logs in to an account the attacker tried once.
    assert _log_in(_from(app, "10.0.0.7"), "u1", PASSWORD).status_code == 303


def test_unknown_names_count_like_known_ones(app: FastAPI) -> None:
    client = _from(app, "10.0.0.1")
    assert [_log_in(client, "nobody").status_code for _ in range(4)] == [401, 401, 401, 429]


def test_an_htmx_log_in_gets_the_form_back_with_the_message(app: FastAPI, session: Session) -> None:
    make_user(session, username="dave")
    client = _from(app, "10.0.0.1")
    for _ in range(3):
        _log_in(client, "dave")

    blocked = client.post(
        "/login",
        data={"username": "dave", "password": PASSWORD, "csrf_token": csrf_from(client, "/login")},
        headers={"HX-Request": "true", "HX-Target": "login-form"},
    )

    assert blocked.status_code == 429 and _retry_after(blocked)
    html = page(blocked)
    assert html.select_one("html") is None and html.select_one("form#login-form") is not None
    assert "Too many failed log-ins" in text(html.select_one(".error"))


def test_api_tokens_share_the_log_in_throttle(app: FastAPI, session: Session) -> None:
    make_user(session, username="dave")
    client = _from(app, "10.0.0.1")
    for _ in range(3):
        _log_in(client, "dave")

    blocked = client.post("/api/token", data={"username": "dave", "password": PASSWORD})

    assert blocked.status_code == 429 and _retry_after(blocked)
    assert "Too many failed log-ins" in blocked.json()["detail"]


def test_password_changes_share_the_log_in_throttle(app: FastAPI, session: Session) -> None:
    make_user(session, username="dave")
    client = _from(app, "10.0.0.1")
    log_in(client, "dave")

    def change(current: str) -> int:
        data = {
            "csrf_token": csrf_from(client, "/account"),
            "current_password": current,
            "new_password": "a brand new passphrase",
        }
        return client.post("/account/password", data=data, follow_redirects=False).status_code

    assert [change("guess") for _ in range(3)] == [422, 422, 422]
    assert change(PASSWORD) == 429


def test_sign_ups_are_throttled_per_ip(app: FastAPI, session: Session) -> None:
    client = _from(app, "10.0.0.1")

    def sign_up(name: str) -> Response:
        data = {"username": name, "password": PASSWORD, "csrf_token": csrf_from(client, "/signup")}
        return client.post("/signup", data=data, follow_redirects=False)

    assert [sign_up("ann").status_code, sign_up("ben").status_code] == [303, 303]
    blocked = sign_up("cat")

    assert blocked.status_code == 429 and _retry_after(blocked, window=3600)
    assert "Too many sign-ups" in text(page(blocked).select_one("#signup-form .error"))
    assert session.scalar(select(User).where(User.username == "cat")) is None
    elsewhere = _from(app, "10.0.0.2")
    data = {"username": "cat", "password": PASSWORD, "csrf_token": csrf_from(elsewhere, "/signup")}
    assert elsewhere.post("/signup", data=data, follow_redirects=False).status_code == 303


def test_anonymous_sentiment_is_throttled_per_ip_and_capped(app: FastAPI, session: Session) -> None:
    make_user(session, username="alice")
    anonymous = _from(app, "10.0.0.1")
    token = anonymous.post("/api/token", data={"username": "alice", "password": PASSWORD}).json()
    signed_in = {"Authorization": f"Bearer {token['access_token']}"}
    long_text = "A great film. " * 10  # 140 characters: over the anonymous cap of 100

    too_long = anonymous.post("/api/sentiment", json={"text": long_text})
    assert too_long.status_code == 422 and "without signing in" in too_long.json()["detail"]
    assert anonymous.post("/api/sentiment", json={"text": "Great."}).status_code == 200
    blocked = anonymous.post("/api/sentiment", json={"text": "Great."})

    assert blocked.status_code == 429 and _retry_after(blocked, window=60)
    assert "Too many texts" in blocked.json()["detail"]
    assert _from(app, "10.0.0.2").post("/api/sentiment", json={"text": "Great."}).is_success
    for _ in range(3):  # signed-in callers are not throttled, and get the longer cap
        response = anonymous.post("/api/sentiment", json={"text": long_text}, headers=signed_in)
        assert response.status_code == 200

    app.state.throttle.storage.reset()  # the window passing, without waiting for it
    assert anonymous.post("/api/sentiment", json={"text": "Great."}).status_code == 200


def test_log_in_does_the_same_hashing_work_for_unknown_users(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(session, username="dave")
    verified: list[str] = []
    real = security._hasher

    class Spy:
        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash)
            return real.verify(password_hash, password)

    monkeypatch.setattr(security, "_hasher", Spy())
    for name in ("dave", "nobody"):
        assert _log_in(client, name).status_code == 401

    assert len(verified) == 2 and all(h.startswith("$argon2id$") for h in verified)


def test_limits_are_validated_at_start_up(database_url: str) -> None:
    with pytest.raises(ValidationError, match="5 per 15 minutes"):
        Settings(_env_file=None, signups_per_ip="lots")  # type: ignore[call-arg]
    bad_storage = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        rate_limit_storage="carrier-pigeon://loft",
    )
    with pytest.raises(RuntimeError, match="TEXTFLIX_RATE_LIMIT_STORAGE"):
        create_app(bad_storage, load_model=False)


def test_the_api_documents_its_throttles(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/token", "/api/sentiment"):
        assert "Retry-After" in paths[path]["post"]["responses"]["429"]["headers"]
