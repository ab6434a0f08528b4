"""Sign up, log in, log out: hashed passwords, CSRF on every form, no open redirects."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User
from tests.factories import PASSWORD, make_user
from tests.routes.conftest import csrf_from, log_in, page, sign_up, text


def test_sign_up_stores_an_argon2_hash_and_signs_in(client: TestClient, session: Session) -> None:
    sign_up(client, "alice", "a long passphrase")

    user = session.scalars(select(User).where(User.username == "alice")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in user.password_hash
    nav = text(page(client.get("/")).select_one(".site-header nav"))
    assert "alice" in nav and "Log out" in nav


def test_sign_up_refuses_taken_names_in_any_case_and_short_passwords(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="Alice")
    token = csrf_from(client, "/signup")

    taken = client.post(
        "/signup", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    short = client.post(
        "/signup", data={"username": "bob", "password": "short", "csrf_token": token}
    )
    bad_name = client.post(
        "/signup", data={"username": "b b", "password": PASSWORD, "csrf_token": token}
    )

    assert taken.status_code == 422 and "taken" in text(page(taken).select_one(".error"))
    assert short.status_code == 422 and "8 to 256" in text(page(short).select_one(".error"))
    assert bad_name.status_code == 422
    assert page(taken).select_one("input[name=username]")["value"] == "alice"  # kept for a retry
    assert session.scalar(select(User).where(User.username == "bob")) is None


def test_log_in_and_out(client: TestClient, session: Session) -> None:
    make_user(session, username="carol")

    log_in(client, "carol")
    assert "carol" in text(page(client.get("/")).select_one("nav"))

    token = csrf_from(client, "/")
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert "Log in" in text(page(client.get("/")).select_one("nav"))


def test_wrong_password_or_unknown_user_get_the_same_answer(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="dave")
    token = csrf_from(client, "/login")

    wrong = client.post(
        "/login", data={"username": "dave", "password": "nope-nope", "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"username": "erin", "password": "nope-nope", "csrf_token": token}
    )

    assert wrong.status_code == unknown.status_code == 401
    assert text(page(wrong).select_one(".error")) == text(page(unknown).select_one(".error"))


def test_forms_without_the_csrf_token_are_refused(client: TestClient, session: Session) -> None:
    make_user(session, username="frank")
    client.get("/login")

    no_token = client.post("/login", data={"username": "frank", "password": PASSWORD})
    wrong_token = client.post(
        "/login", data={"username": "frank", "password": PASSWORD, "csrf_token": "forged"}
    )
    signup = client.post("/signup", data={"username": "mallory", "password": PASSWORD})

    assert no_token.status_code == wrong_token.status_code == signup.status_code == 403
    assert session.scalar(select(User).where(User.username == "mallory")) is None


def test_login_redirect_stays_on_site(client: TestClient, session: Session) -> None:
    make_user(session, username="gina")

    def target(next_url: str) -> str:
        token = csrf_from(client, "/login")  # signing in starts a new session and token
        response = client.post(
            "/login",
            data={"username": "gina", "password": PASSWORD, "csrf_token": token, "next": next_url},
            follow_redirects=False,
        )
        return response.headers["location"]

    assert target("/movies/3") == "/movies/3"
    assert target("https://evil.example/") == "/"
    assert target("//evil.example/") == "/"


def test_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
