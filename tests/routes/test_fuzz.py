"""Fuzzing, on SQLite and Postgres: schemathesis throws what the OpenAPI schema allows (and
what it does not) at the JSON API, and hypothesis throws arbitrary text (NUL, surrogates, huge
ids) at the HTML forms and pages. Never a server error; the API keeps to its documented shapes.
Examples are bounded so that each database takes well under a minute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from app.security import CSRF_HEADER
from tests.factories import PASSWORD, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, sign_up

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Arbitrary text, leaning on what broke before: NUL, lone surrogates, invisible characters.
NASTY = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x00", "\u200b", "\ufeff", "%", "_", "\\", "'", "<", "/"]),
    ),
    max_size=40,
)
WITH_SURROGATES = st.one_of(NASTY, st.text(st.characters(categories=["Cs"]), min_size=1))
ANY_ID = st.integers(min_value=-(2**70), max_value=2**70)


@pytest.fixture
def api_auth(client: TestClient, session: Session) -> dict[str, str]:
    """A user with a movie and a review to work on, and their bearer token."""
    user = make_user(session, username="fuzzer")
    movie = make_movie(session, title="Heat", genres=["Crime"])
    make_review(session, movie=movie, user=user, body="A good film.")
    make_review(session, movie=movie, body="An awful film.")
    response = client.post("/api/token", data={"username": "fuzzer", "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_api_never_fails_and_answers_as_documented(
    app: FastAPI, api_auth: dict[str, str]
) -> None:
    # Each operation of the schema in turn, with data that fits it and data that does not.
    # (Driven by hand: schemathesis's pytest plugin does not run under pytest 9 yet.)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @FUZZ
        @given(case=cases)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=api_auth, checks=CHECKS)

        call()


@pytest.fixture
def signed_in(client: TestClient, session: Session) -> Iterator[tuple[TestClient, str, int, int]]:
    """`client` signed in as alice, her CSRF token, a movie and her review on it."""
    movie = make_movie(session, title="Heat", genres=["Crime"])
    sign_up(client, "alice")
    token = csrf_from(client, "/")
    response = client.post(
        f"/movies/{movie.id}/reviews", data={"body": "A good film.", "csrf_token": token}
    )
    review_id = int(response.url.fragment.removeprefix("review-"))
    yield client, token, movie.id, review_id


def _no_server_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, (response.request.method, response.request.url)


@FUZZ
@given(q=NASTY, genre=NASTY, sort=NASTY, page=NASTY)
@example(q="\x00", genre="\x00", sort="title", page="1")
@example(q="x", genre="y", sort="title", page=str(2**64))
def test_search_and_genre_filters_never_fail(
    client: TestClient, q: str, genre: str, sort: str, page: str
) -> None:
    params = {"q": q, "genre": genre, "sort": sort, "page": page}
    for headers in ({}, {"HX-Request": "true", "HX-Target": "catalog"}):
        _no_server_error(client.get("/", params=params, headers=headers))
    _no_server_error(client.get("/api/movies", params=params))
    _no_server_error(client.get("/how-it-works/compare", params={"a": q, "b": genre}))


@FUZZ
@given(name=NASTY)
@example(name="a\x00b")
def test_user_pages_never_fail(client: TestClient, name: str) -> None:
    _no_server_error(client.get(f"/users/{quote(name, safe='')}"))


@FUZZ
@given(movie_id=ANY_ID, review_id=ANY_ID)
@example(movie_id=2**63, review_id=2**31)
def test_any_id_on_any_route_is_never_a_server_error(
    signed_in: tuple[TestClient, str, int, int], movie_id: int, review_id: int
) -> None:
    client, token, _, _ = signed_in
    form = {"csrf_token": token, "body": "Fine.", "label": "positive"}
    for response in (
        client.get(f"/movies/{movie_id}"),
        client.get(f"/reviews/{review_id}"),
        client.get(f"/reviews/{review_id}/edit"),
        client.post(f"/reviews/{review_id}/edit", data=form),
        client.post(f"/reviews/{review_id}/feedback", data=form),
        client.post(f"/movies/{movie_id}/reviews", data=form),
        client.post(f"/admin/labels/{review_id}", data=form),
    ):
        _no_server_error(response)


@settings(FUZZ, max_examples=12)  # each example hashes or verifies an argon2 password
@given(username=NASTY, password=NASTY, next_url=NASTY)
@example(username="bob\x00", password="long enough\x00", next_url="/")
def test_log_in_and_sign_up_never_fail(
    client: TestClient, username: str, password: str, next_url: str
) -> None:
    token = csrf_from(client, "/login")
    fields = {"username": username, "password": password, "next": next_url, "csrf_token": token}
    for path in ("/login", "/signup"):
        _no_server_error(client.post(path, data=fields, follow_redirects=False))
        client.cookies.clear()  # a successful sign-up must not leave the next one signed in
        token = csrf_from(client, "/login")
        fields["csrf_token"] = token
    _no_server_error(client.post("/api/token", data={"username": username, "password": password}))


@FUZZ
@given(body=NASTY)
@example(body="\x00")
@example(body="\u200b\ufeff \u2060")
def test_posting_and_editing_reviews_never_fail(
    signed_in: tuple[TestClient, str, int, int], body: str
) -> None:
    client, token, movie_id, review_id = signed_in
    form = {"body": body, "csrf_token": token}
    for headers in ({}, {"HX-Request": "true", "HX-Target": "review-form"}):
        _no_server_error(client.post(f"/movies/{movie_id}/reviews", data=form, headers=headers))
        _no_server_error(client.post(f"/reviews/{review_id}/edit", data=form, headers=headers))


@FUZZ
@given(text=WITH_SURROGATES)
@example(text="\ud800")
def test_json_text_with_surrogates_never_fails(
    signed_in: tuple[TestClient, str, int, int], text: str
) -> None:
    client, token, movie_id, review_id = signed_in
    headers = {CSRF_HEADER: token, "Content-Type": "application/json"}

    def escaped(value: object) -> bytes:  # JSON's \uXXXX escapes carry a lone surrogate
        return json.dumps(value).encode()

    for response in (
        client.post(
            f"/api/movies/{movie_id}/reviews", content=escaped({"body": text}), headers=headers
        ),
        client.patch(f"/api/reviews/{review_id}", content=escaped({"body": text}), headers=headers),
        client.post("/api/sentiment", content=escaped({"text": text}), headers=headers),
        client.post("/api/sentiment", content=escaped(text), headers=headers),
    ):
        _no_server_error(response)
