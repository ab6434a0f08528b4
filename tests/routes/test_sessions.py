"""Sessions that end: log-out, password change and "log out everywhere" refuse old cookies and
tokens; a user lists and revokes their own API tokens, and nobody else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ApiToken, UserSession, utcnow
from app.security import secret_digest
from tests.factories import PASSWORD, make_movie, make_user
from tests.routes.conftest import csrf_from, log_in, page, text

COOKIE = "textflix_session"
NEW_PASSWORD = "a brand new passphrase"


def _signed_in(client: TestClient) -> bool:
    """Whether the site treats this client as signed in (its nav offers "Log out")."""
    return "Log out" in text(page(client.get("/")).select_one(".site-header nav"))


def _replay(client: TestClient, cookie: str) -> None:
    """Send an old copy of the session cookie, as whoever stole it would."""
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)


def _token(client: TestClient, username: str, name: str = "", password: str = PASSWORD) -> str:
    response = client.post(
        "/api/token", data={"username": username, "password": password, "name": name}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_works(client: TestClient, token: str) -> bool:
    status = client.get("/api/tokens", headers=_bearer(token)).status_code
    assert status in (200, 401)
    return status == 200


def _post(client: TestClient, path: str, **data: str) -> int:
    token = csrf_from(client, "/")
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False).status_code


def test_log_out_ends_the_session_so_a_copy_of_its_cookie_is_refused(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="carol")
    log_in(client, "carol")
    stolen = client.cookies[COOKIE]
    assert _signed_in(client)

    assert _post(client, "/logout") == 303
    _replay(client, stolen)

    assert not _signed_in(client)
    assert client.get("/account", follow_redirects=False).status_code == 303  # to /login
    assert session.scalar(select(UserSession)) is None


def test_api_log_out_revokes_the_token_it_carries(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    movie = make_movie(session)
    token, other = _token(client, "alice"), _token(client, "alice")

    assert client.post("/api/logout", headers=_bearer(token)).status_code == 204

    refused = client.post(
        f"/api/movies/{movie.id}/reviews", json={"body": "Great!"}, headers=_bearer(token)
    )
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert _token_works(client, other)  # other tokens of the same user live on


def test_tokens_are_stored_only_as_hashes(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    token = _token(client, "alice", name="laptop")

    row = session.scalars(select(ApiToken)).one()
    assert token.startswith("tfx_") and row.name == "laptop"
    assert row.token_hash == secret_digest(token) and token not in row.token_hash


def test_password_change_ends_other_sessions_and_revokes_tokens(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="dave")
    elsewhere = TestClient(app)
    log_in(elsewhere, "dave")
    token = _token(client, "dave")
    log_in(client, "dave")

    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_from(client, "/account"),
            "current_password": "not my password",
            "new_password": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 422
    assert "current password" in text(page(wrong).select_one("#password-form .error"))
    assert _signed_in(elsewhere) and _token_works(client, token)  # nothing changed yet

    changed = _post(
        client, "/account/password", current_password=PASSWORD, new_password=NEW_PASSWORD
    )

    assert changed == 303
    assert _signed_in(client)  # the session that changed it stays
    assert not _signed_in(elsewhere)
    assert not _token_works(client, token)
    assert client.post("/api/token", data={"username": "dave", "password": PASSWORD}).is_error
    assert _token_works(client, _token(client, "dave", password=NEW_PASSWORD))


def test_new_password_follows_the_sign_up_rule(client: TestClient, session: Session) -> None:
    make_user(session, username="dave")
    log_in(client, "dave")

    short = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_from(client, "/account"),
            "current_password": PASSWORD,
            "new_password": "short",
        },
    )

    assert short.status_code == 422
    assert "8 to 256" in text(page(short).select_one("#password-form .error"))


def test_log_out_everywhere_ends_every_session_and_token(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="erin")
    elsewhere = TestClient(app)
    log_in(elsewhere, "erin")
    token = _token(client, "erin")
    log_in(client, "erin")

    assert _post(client, "/account/logout-everywhere") == 303

    assert not _signed_in(client) and not _signed_in(elsewhere)
    assert not _token_works(client, token)


def test_account_page_lists_sessions_and_tokens_and_revokes_them(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    make_user(session, username="fay")
    laptop, phone = _token(client, "fay", "laptop"), _token(client, "fay", "phone")
    elsewhere = TestClient(app, headers={"User-Agent": "Phone browser"})
    log_in(elsewhere, "fay")
    log_in(client, "fay")

    html = page(client.get("/account"))
    assert [text(row.select_one("td")) for row in html.select("#tokens tr[data-token-id]")] == [
        "phone",
        "laptop",
    ]
    sessions = [text(row) for row in html.select("#sessions tr[data-session-id]")]
    assert len(sessions) == 2 and any("Phone browser" in row for row in sessions)
    assert sum("(this one)" in row for row in sessions) == 1

    laptop_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "laptop"))
    assert _post(client, f"/account/tokens/{laptop_id}/revoke") == 303
    phone_session = session.scalar(
        select(UserSession.id).where(UserSession.user_agent == "Phone browser")
    )
    assert _post(client, f"/account/sessions/{phone_session}/end") == 303

    assert not _token_works(client, laptop) and _token_works(client, phone)
    assert [t["name"] for t in client.get("/api/tokens", headers=_bearer(phone)).json()] == [
        "phone"
    ]
    assert not _signed_in(elsewhere) and _signed_in(client)


def test_a_token_made_on_the_account_page_is_shown_once_and_works(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="gus")
    log_in(client, "gus")

    response = client.post(
        "/account/tokens", data={"csrf_token": csrf_from(client, "/account"), "name": "script"}
    )

    token = text(page(response).select_one("#new-token"))
    assert _token_works(client, token)
    assert page(client.get("/account")).select_one("#new-token") is None


def test_nobody_revokes_anothers_token_or_session(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    make_user(session, username="mallory")
    alices = _token(client, "alice")
    alices_id = session.scalars(select(ApiToken.id)).one()
    log_in(client, "alice")
    alices_session = session.scalars(select(UserSession.id)).one()
    client.cookies.clear()
    mallorys = _token(client, "mallory")
    log_in(client, "mallory")

    assert client.delete(f"/api/tokens/{alices_id}", headers=_bearer(mallorys)).status_code == 404
    assert _post(client, f"/account/tokens/{alices_id}/revoke") == 404
    assert _post(client, f"/account/sessions/{alices_session}/end") == 404
    assert _token_works(client, alices)
    assert session.get(UserSession, alices_session) is not None


def test_api_lists_and_revokes_your_tokens(client: TestClient, session: Session) -> None:
    make_user(session, username="hal")
    first, second = _token(client, "hal", "first"), _token(client, "hal", "second")
    listed = client.get("/api/tokens", headers=_bearer(first)).json()
    first_id = next(t["id"] for t in listed if t["name"] == "first")
    assert {"id", "name", "created_at", "last_used_at", "expires_at"} == set(listed[0])
    assert all(first not in str(t) and second not in str(t) for t in listed)

    assert client.delete(f"/api/tokens/{first_id}", headers=_bearer(second)).status_code == 204
    assert client.delete(f"/api/tokens/{first_id}", headers=_bearer(second)).status_code == 404
    assert not _token_works(client, first) and _token_works(client, second)


def test_expired_sessions_and_tokens_are_refused(client: TestClient, session: Session) -> None:
    make_user(session, username="ivy")
    token = _token(client, "ivy")
    log_in(client, "ivy")

    past = utcnow() - timedelta(seconds=1)
    session.execute(update(UserSession).values(expires_at=past))
    session.execute(update(ApiToken).values(expires_at=past))
    session.commit()

    assert not _signed_in(client) and not _token_works(client, token)


@pytest.mark.parametrize(
    "path",
    [
        "/account/password",
        "/account/logout-everywhere",
        "/account/tokens",
        "/account/tokens/1/revoke",
        "/account/sessions/1/end",
    ],
)
def test_account_forms_need_the_csrf_token(client: TestClient, session: Session, path: str) -> None:
    make_user(session, username="jay")
    token = _token(client, "jay")
    log_in(client, "jay")

    no_token = client.post(path, data={"current_password": PASSWORD, "new_password": "x" * 10})
    forged = client.post(path, data={"csrf_token": "forged"})

    assert no_token.status_code == forged.status_code == 403
    assert _signed_in(client) and _token_works(client, token)
    assert len(session.scalars(select(ApiToken)).all()) == 1


def test_account_page_needs_a_signed_in_user(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_signing_in_again_ends_the_browsers_previous_session(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="kim")
    make_user(session, username="lee")
    log_in(client, "kim")
    old = client.cookies[COOKIE]

    log_in(client, "lee")
    _replay(client, old)

    assert not _signed_in(client)
    assert len(session.scalars(select(UserSession)).all()) == 1


def test_last_seen_is_recorded_at_most_every_few_minutes(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="max")
    log_in(client, "max")
    long_ago = utcnow() - timedelta(hours=1)
    session.execute(update(UserSession).values(last_seen_at=long_ago))
    session.commit()

    client.get("/")
    first = session.scalars(select(UserSession.last_seen_at)).one()
    client.get("/")
    session.expire_all()
    second = session.scalars(select(UserSession.last_seen_at)).one()

    assert first.replace(tzinfo=None) > long_ago.replace(tzinfo=None)
    assert second == first


def test_token_names_keep_only_printable_characters(client: TestClient, session: Session) -> None:
    make_user(session, username="ned")

    token = _token(client, "ned", name="lap\ttop\n")
    refused = client.post(
        "/api/token", data={"username": "ned", "password": PASSWORD, "name": "lap\x00top"}
    )

    assert _token_works(client, token)
    assert session.scalars(select(ApiToken.name)).one() == "laptop"
    # NUL is text no database can store: refused, as everywhere user text enters.
    assert refused.status_code == 422
