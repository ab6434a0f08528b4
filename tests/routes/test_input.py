"""Input no database can hold, ids out of any column's range, invisible reviews and timestamps:
every one a clear 4xx, never a server error, on SQLite and Postgres alike."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Movie, Review, User
from tests.factories import PASSWORD, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, page, sign_up, text

HUGE_IDS = [2**63, 2**63 + 1, 2**31, 10**30, 0, -1]
NUL = "nul\x00here"
INVISIBLE = " \u200b\u200c\u200d\u2060\ufeff\t\n "


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _setup(client: TestClient, session: Session) -> tuple[Movie, Review, dict[str, str]]:
    """A movie with alice's review, alice signed in on `client`, and her API token."""
    movie = make_movie(session)
    sign_up(client, "alice")
    alice = session.scalars(select(User).where(User.username == "alice")).one()
    review = make_review(session, movie=movie, user=alice, body="A good film.")
    return movie, review, _token(client, "alice")


@pytest.mark.parametrize("bad_id", HUGE_IDS)
def test_ids_outside_the_column_range_are_404_on_every_route(
    client: TestClient, session: Session, bad_id: int
) -> None:
    _, _, auth = _setup(client, session)
    form = {"csrf_token": csrf_from(client, "/"), "body": "Great.", "label": "positive"}

    answers = {
        f"GET /movies/{bad_id}": client.get(f"/movies/{bad_id}"),
        f"GET /reviews/{bad_id}": client.get(f"/reviews/{bad_id}"),
        f"GET /reviews/{bad_id}/edit": client.get(f"/reviews/{bad_id}/edit"),
        f"POST /reviews/{bad_id}/edit": client.post(f"/reviews/{bad_id}/edit", data=form),
        f"POST /reviews/{bad_id}/delete": client.post(f"/reviews/{bad_id}/delete", data=form),
        f"POST /reviews/{bad_id}/feedback": client.post(f"/reviews/{bad_id}/feedback", data=form),
        f"POST /movies/{bad_id}/reviews": client.post(f"/movies/{bad_id}/reviews", data=form),
        f"GET /api/movies/{bad_id}": client.get(f"/api/movies/{bad_id}"),
        f"GET /api/movies/{bad_id}/reviews": client.get(f"/api/movies/{bad_id}/reviews"),
        f"GET /api/reviews/{bad_id}": client.get(f"/api/reviews/{bad_id}"),
        f"POST /api/movies/{bad_id}/reviews": client.post(
            f"/api/movies/{bad_id}/reviews", json={"body": "Great."}, headers=auth
        ),
        f"PATCH /api/reviews/{bad_id}": client.patch(
            f"/api/reviews/{bad_id}", json={"body": "Great."}, headers=auth
        ),
        f"DELETE /api/reviews/{bad_id}": client.delete(f"/api/reviews/{bad_id}", headers=auth),
    }

    assert {route: r.status_code for route, r in answers.items()} == dict.fromkeys(answers, 404)
    assert answers[f"GET /api/reviews/{bad_id}"].json() == {
        "detail": f"There is no review {bad_id}."
    }


def test_an_admin_route_with_a_huge_id_is_404_too(client: TestClient, session: Session) -> None:
    make_user(session, username="root", is_admin=True)
    client.post(
        "/login",
        data={"username": "root", "password": PASSWORD, "csrf_token": csrf_from(client)},
    )
    token = csrf_from(client, "/")

    response = client.post(
        f"/admin/labels/{2**63}", data={"csrf_token": token, "label": "positive"}
    )

    assert response.status_code == 404


@pytest.mark.parametrize("bad", [NUL, "\x00"])
def test_nul_in_query_strings_and_paths_is_a_clear_422(
    client: TestClient, session: Session, bad: str
) -> None:
    make_review(session, movie=make_movie(session, title="Heat"))

    answers = [
        client.get("/", params={"q": bad}),
        client.get("/", params={"genre": bad}),
        client.get("/api/movies", params={"q": bad}),
        client.get("/api/movies", params={"genre": bad}),
        client.get(f"/users/{quote(bad)}"),
        client.get("/how-it-works/compare", params={"a": bad, "b": "x"}),
    ]

    assert [r.status_code for r in answers] == [422] * len(answers)
    assert "NUL" in text(page(answers[0]).select_one("main"))
    assert "NUL" in answers[2].json()["detail"][0]["msg"]


def test_nul_in_a_review_form_is_shown_in_the_form(client: TestClient, session: Session) -> None:
    movie, review, _ = _setup(client, session)
    token = csrf_from(client, "/")

    posted = client.post(f"/movies/{movie.id}/reviews", data={"body": NUL, "csrf_token": token})
    edited = client.post(f"/reviews/{review.id}/edit", data={"body": NUL, "csrf_token": token})

    for response in (posted, edited):
        assert response.status_code == 422
        assert "NUL" in text(page(response).select_one("form .error"))
    session.expire_all()
    assert session.get(Review, review.id).body == "A good film."  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["username", "password"])
def test_nul_in_login_and_sign_up_fields_is_shown_in_the_form(
    client: TestClient, session: Session, field: str
) -> None:
    make_user(session, username="bob")
    fields = {"username": "bob", "password": PASSWORD} | {field: NUL + "long enough"}

    answers = {
        path: client.post(path, data=fields | {"csrf_token": csrf_from(client, path)})
        for path in ("/login", "/signup")
    }
    api = client.post("/api/token", data=fields)

    for path, response in answers.items():
        assert response.status_code == 422, path
        assert text(page(response).select_one("form .error")), path
    assert api.status_code == 422


def test_nul_and_lone_surrogates_in_json_are_a_clear_422(
    client: TestClient, session: Session
) -> None:
    movie, review, auth = _setup(client, session)
    json_headers = auth | {"Content-Type": "application/json"}

    answers = [
        client.post(f"/api/movies/{movie.id}/reviews", json={"body": NUL}, headers=auth),
        client.patch(f"/api/reviews/{review.id}", json={"body": NUL}, headers=auth),
        client.post(
            f"/api/movies/{movie.id}/reviews",
            content=b'{"body": "lone \\ud800 surrogate"}',
            headers=json_headers,
        ),
        client.post("/api/sentiment", json={"text": NUL}),
        client.post("/api/sentiment", content=b'{"text": "\\udfff"}', headers=json_headers),
        # The validation-error handler itself must survive echoing a surrogate back.
        client.post("/api/sentiment", content=b'"\\ud800"', headers=json_headers),
        client.post("/api/sentiment", content=b'{"text": ["\\ud800"]}', headers=json_headers),
    ]

    assert [r.status_code for r in answers] == [422] * len(answers)
    for response in answers:
        assert response.json()["detail"]
    session.expire_all()
    assert session.get(Review, review.id).body == "A good film."  # type: ignore[union-attr]


def test_a_review_of_only_spaces_and_zero_width_characters_is_refused(
    client: TestClient, session: Session
) -> None:
    movie, review, auth = _setup(client, session)
    token = csrf_from(client, "/")

    form = client.post(f"/movies/{movie.id}/reviews", data={"body": INVISIBLE, "csrf_token": token})
    api = client.post(f"/api/movies/{movie.id}/reviews", json={"body": INVISIBLE}, headers=auth)
    edit = client.patch(f"/api/reviews/{review.id}", json={"body": "\u200b"}, headers=auth)

    assert form.status_code == 422
    assert "invisible" in text(page(form).select_one("form .error"))
    assert api.status_code == 422 and "invisible" in api.json()["detail"]
    assert edit.status_code == 422
    assert session.query(Review).count() == 1


def test_ids_of_deleted_reviews_are_never_given_again(client: TestClient, session: Session) -> None:
    movie, _, auth = _setup(client, session)

    first = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "One."}, headers=auth)
    client.delete(f"/api/reviews/{first.json()['id']}", headers=auth)
    second = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "Two."}, headers=auth)

    assert second.json()["id"] > first.json()["id"]
    assert client.get(f"/api/reviews/{first.json()['id']}").status_code == 404


def test_api_timestamps_carry_their_timezone(client: TestClient, session: Session) -> None:
    movie, review, auth = _setup(client, session)
    created = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "Fine."}, headers=auth)

    fetched = client.get(f"/api/reviews/{review.id}").json()
    listed = client.get(f"/api/movies/{movie.id}/reviews").json()["items"]

    stamps = [fetched["created_at"], fetched["updated_at"], created.json()["created_at"]]
    stamps += [item["created_at"] for item in listed]
    for stamp in stamps:
        moment = datetime.fromisoformat(stamp)
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0, stamp


def test_unknown_or_unstorable_model_versions_are_clear_4xx(
    client: TestClient, session: Session
) -> None:
    make_user(session, username="root", is_admin=True)
    client.post(
        "/login",
        data={"username": "root", "password": PASSWORD, "csrf_token": csrf_from(client)},
    )
    form = {"csrf_token": csrf_from(client, "/")}

    unknown = client.post("/admin/models/nope/promote", data=form)
    nul = client.post("/admin/models/" + quote(NUL) + "/score", data=form)
    compared = client.get("/how-it-works/compare", params={"a": "x", "b": "y"})

    assert unknown.status_code == 404 and "nope" in text(page(unknown).select_one("main"))
    assert nul.status_code == 422
    assert compared.status_code == 404 and text(page(compared).select_one("main p")).endswith(".")
