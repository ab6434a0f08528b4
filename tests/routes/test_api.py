"""The JSON API: listing and detail, bearer-token writes, and scoring any text."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Review
from app.scoring import score_pending
from tests.factories import PASSWORD, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, sign_up


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_movies_list_search_and_detail(client: TestClient, session: Session, app: FastAPI) -> None:
    heat = make_movie(session, title="Heat", year=1995, genres=["Crime", "Drama"])
    for body in ["Great cast. I loved every minute.", "Awful and boring throughout."]:
        make_review(session, movie=heat, body=body, gold_label=1, stars=9)
    make_review(session, movie=make_movie(session, title="Other"), body="fine")
    score_pending(
        session_factory=app.state.session_factory, classifier=app.state.models.get(), progress=False
    )

    listing = client.get("/api/movies", params={"q": "hea"}).json()
    detail = client.get(f"/api/movies/{heat.id}").json()
    reviews = client.get(f"/api/movies/{heat.id}/reviews", params={"sort": "most_positive"}).json()

    assert listing["total"] == 1
    assert listing["items"][0] | {} == {
        "id": heat.id,
        "imdb_id": heat.imdb_id,
        "title": "Heat",
        "year": 1995,
        "genres": ["Crime", "Drama"],
        "n_reviews": 2,
        "n_scored": 2,
        "n_positive": 1,
        "percent_positive": 50.0,
    }
    assert detail["model_version"] == "fake-v1" and sum(detail["score_histogram"]) == 2
    assert detail["positive_highlights"][0]["text"] == "I loved every minute."
    assert detail["negative_highlights"][0]["author"] == "IMDb reviewer"
    assert [r["score"]["label"] for r in reviews["items"]] == ["positive", "negative"]
    assert reviews["items"][0]["gold_label"] == 1 and reviews["items"][0]["stars"] == 9


def test_write_with_a_bearer_token(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    movie = make_movie(session)
    auth = _token(client, "alice")

    created = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "Great!"}, headers=auth)
    review_id = created.json()["id"]
    edited = client.patch(f"/api/reviews/{review_id}", json={"body": "Awful."}, headers=auth)
    fetched = client.get(f"/api/reviews/{review_id}")
    deleted = client.delete(f"/api/reviews/{review_id}", headers=auth)

    assert created.status_code == 201 and created.json()["score"]["label"] == "positive"
    assert created.json()["author"] == "alice"
    assert edited.json()["score"]["label"] == "negative"
    assert fetched.json()["body"] == "Awful."
    assert deleted.status_code == 204
    assert client.get(f"/api/reviews/{review_id}").status_code == 404


def test_writes_need_authentication_and_ownership(client: TestClient, session: Session) -> None:
    owner = make_user(session, username="owner")
    make_user(session, username="mallory")
    movie = make_movie(session)
    review = make_review(session, movie=movie, user=owner, body="Great.")

    anonymous = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "x"})
    forged = client.post(
        f"/api/movies/{movie.id}/reviews",
        json={"body": "x"},
        headers={"Authorization": "Bearer nope"},
    )
    auth = _token(client, "mallory")
    edit = client.patch(f"/api/reviews/{review.id}", json={"body": "Awful."}, headers=auth)
    delete = client.delete(f"/api/reviews/{review.id}", headers=auth)

    assert anonymous.status_code == forged.status_code == 401
    assert edit.status_code == delete.status_code == 403
    session.expire_all()
    assert session.scalars(select(Review)).one().body == "Great."


def test_cookie_callers_need_the_csrf_header(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")

    without = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "Great!"})
    token = csrf_from(client, "/")
    with_header = client.post(
        f"/api/movies/{movie.id}/reviews", json={"body": "Great!"}, headers={"X-CSRF-Token": token}
    )

    assert without.status_code == 403
    assert with_header.status_code == 201


def test_bad_review_input(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    movie = make_movie(session)
    auth = _token(client, "alice")

    blank = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "   "}, headers=auth)
    huge = client.post(f"/api/movies/{movie.id}/reviews", json={"body": "x" * 5000}, headers=auth)
    unknown = client.post("/api/movies/999/reviews", json={"body": "Great"}, headers=auth)
    too_big = client.post(
        f"/api/movies/{movie.id}/reviews", json={"body": "x" * (2 << 20)}, headers=auth
    )

    assert blank.status_code == 422
    assert huge.status_code == 422 and "at most 2,000 characters" in huge.json()["detail"]
    assert unknown.status_code == 404
    assert too_big.status_code == 413
    assert session.scalar(select(Review)) is None


def test_wrong_password_gets_no_token(client: TestClient, session: Session) -> None:
    make_user(session, username="alice")
    response = client.post("/api/token", data={"username": "alice", "password": "wrong-one"})
    assert response.status_code == 401


def test_sentiment_of_any_text(client: TestClient) -> None:
    response = client.post(
        "/api/sentiment", json={"text": "A great film with a brilliant cast. The ending was dull."}
    )

    body = response.json()
    assert response.status_code == 200
    assert body["label"] == "positive" and body["model_version"] == "fake-v1"
    assert [s["text"] for s in body["sentences"]] == [
        "A great film with a brilliant cast.",
        "The ending was dull.",
    ]
    assert body["sentences"][1]["p_positive"] < 0.5
    assert client.post("/api/sentiment", json={"text": ""}).status_code == 422


def test_openapi_documents_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/movies", "/api/movies/{movie_id}", "/api/sentiment", "/api/token"} <= set(paths)
    assert not any(path.startswith("/movies") for path in paths)  # pages stay out of the API docs
    assert client.get("/docs").status_code == 200


def test_the_schema_documents_every_error_answer(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}

    def documented(path: str, method: str) -> dict[str, dict]:  # type: ignore[type-arg]
        return schema["paths"][path][method]["responses"]  # type: ignore[no-any-return]

    post = documented("/api/movies/{movie_id}/reviews", "post")
    assert {"400", "401", "403", "404", "413", "422", "429"} <= set(post)
    for code in ("401", "403", "404", "422"):
        assert post[code]["content"]["application/json"]["schema"] == problem, code
    assert {"404", "409", "422"} <= set(documented("/api/reviews/{review_id}", "patch"))
    assert {"401", "403", "404", "409"} <= set(documented("/api/reviews/{review_id}", "delete"))
    assert {"404", "422"} <= set(documented("/api/movies/{movie_id}", "get"))
    assert {"422", "429", "503"} <= set(documented("/api/sentiment", "post"))
    assert {"401", "429"} <= set(documented("/api/token", "post"))
    assert "Problem" in schema["components"]["schemas"]
