"""Posting, editing and deleting reviews through the site's forms, with and without htmx."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Review, ReviewScore
from tests.factories import BrokenClassifier, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, log_in, page, sign_up, text

HTMX = {"HX-Request": "true"}


def _post(client: TestClient, movie_id: int, body: str, **headers: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client, "/login")
    return client.post(
        f"/movies/{movie_id}/reviews",
        data={"body": body, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def test_posting_needs_a_signed_in_user(client: TestClient, session: Session) -> None:
    movie = make_movie(session)

    doc = page(client.get(f"/movies/{movie.id}"))
    response = _post(client, movie.id, "A great film.")
    htmx = _post(client, movie.id, "A great film.", **HTMX)

    assert doc.select_one("form#review-form") is None
    assert "Log in" in text(doc.select_one("#review-form"))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login?next=")
    assert session.scalar(select(func.count(Review.id))) == 0


def test_plain_form_post_saves_scores_and_redirects(client: TestClient, session: Session) -> None:
    movie = make_movie(session, title="Heat")
    sign_up(client, "alice")

    response = _post(client, movie.id, "  A great film, I loved it.  ")

    review = session.scalars(select(Review)).one()
    assert response.status_code == 303
    assert response.headers["location"] == f"/movies/{movie.id}#review-{review.id}"
    assert review.body == "A great film, I loved it." and review.author_name == "alice"
    assert review.source == "textflix" and review.user_id is not None
    score = session.scalars(select(ReviewScore)).one()
    assert score.model_version == "fake-v1" and score.p_positive > 0.5
    doc = page(client.get(f"/movies/{movie.id}"))
    assert text(doc.select_one(f"#review-{review.id} .verdict")) == "Positive"
    assert text(doc.select_one("#movie-summary .big")) == "100% positive"


def test_htmx_post_returns_the_review_partial_and_the_new_figures(
    client: TestClient, session: Session
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="awful")
    sign_up(client, "alice")

    response = _post(client, movie.id, "Great, great, great.", **HTMX)

    assert response.status_code == 201
    doc = page(response)
    articles = doc.select("article.review")
    assert len(articles) == 1 and text(articles[0].select_one(".verdict")) == "Positive"
    summary = doc.select_one("#movie-summary[hx-swap-oob=true]")
    # The imported review is not scored yet: 1 of 2 scored, too few to show a share.
    assert summary is not None
    assert text(summary.select_one(".figures")) == "2 reviews · 1 of 2 reviews scored"
    assert text(summary.select_one(".big")) == "Being scored"
    assert doc.select_one("header.site-header") is None


def test_empty_and_oversized_reviews_are_refused_with_a_reason(
    client: TestClient, session: Session
) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")

    empty = _post(client, movie.id, "   ", **HTMX)
    huge = _post(client, movie.id, "word " * 1000, **HTMX)

    assert empty.status_code == 422 and empty.headers["HX-Retarget"] == "#review-form"
    assert "needs some text" in text(page(empty).select_one(".error"))
    assert huge.status_code == 422 and "at most 2,000 characters" in text(
        page(huge).select_one(".error")
    )
    # The text is handed back so nothing the user typed is lost.
    assert page(huge).select_one("textarea").get_text().startswith("word word")
    assert session.scalar(select(func.count(Review.id))) == 0


def test_review_for_unknown_movie_is_404(client: TestClient) -> None:
    sign_up(client, "alice")
    token = csrf_from(client, "/")
    response = client.post("/movies/999/reviews", data={"body": "great", "csrf_token": token})
    assert response.status_code == 404


def test_post_without_csrf_is_refused(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")
    response = client.post(f"/movies/{movie.id}/reviews", data={"body": "great"})
    assert response.status_code == 403
    assert session.scalar(select(func.count(Review.id))) == 0


def test_edit_own_review_is_scored_again(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")
    _post(client, movie.id, "Great film.")
    review = session.scalars(select(Review)).one()
    token = csrf_from(client, f"/reviews/{review.id}/edit")

    response = client.post(
        f"/reviews/{review.id}/edit",
        data={"body": "On reflection: awful, boring, a waste.", "csrf_token": token},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert text(page(response).select_one("article .verdict")) == "Negative"
    session.expire_all()
    scores = session.scalars(select(ReviewScore).where(ReviewScore.review_id == review.id)).all()
    assert len(scores) == 1 and scores[0].p_positive < 0.5
    assert "0 positive (0%)" in text(page(response).select_one("#movie-summary .figures"))


def test_edit_form_partial_for_htmx(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")
    _post(client, movie.id, "Great film.")
    review = session.scalars(select(Review)).one()

    response = client.get(
        f"/reviews/{review.id}/edit", headers={**HTMX, "HX-Target": f"review-{review.id}"}
    )

    doc = page(response)
    assert doc.select_one("header.site-header") is None
    assert doc.select_one(f"form#review-{review.id} textarea").get_text() == "Great film."


def test_others_cannot_edit_or_delete(client: TestClient, session: Session) -> None:
    owner = make_user(session, username="owner")
    movie = make_movie(session)
    review = make_review(session, movie=movie, body="Great.", user=owner)
    sign_up(client, "mallory")
    token = csrf_from(client, "/")

    edit = client.post(f"/reviews/{review.id}/edit", data={"body": "awful", "csrf_token": token})
    delete = client.post(f"/reviews/{review.id}/delete", data={"csrf_token": token})
    edit_page = client.get(f"/reviews/{review.id}/edit")

    assert edit.status_code == delete.status_code == edit_page.status_code == 403
    session.expire_all()
    assert session.get(Review, review.id).body == "Great."


def test_delete_own_review_and_the_figures_follow(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    sign_up(client, "alice")
    _post(client, movie.id, "Great film.")
    review = session.scalars(select(Review)).one()
    token = csrf_from(client, f"/movies/{movie.id}")

    response = client.post(f"/reviews/{review.id}/delete", data={"csrf_token": token}, headers=HTMX)

    assert response.status_code == 200
    doc = page(response)
    assert doc.select_one("article") is None
    assert text(doc.select_one("#movie-summary[hx-swap-oob=true] .big")) == "Not yet scored"
    session.expire_all()
    assert session.scalar(select(func.count(Review.id))) == 0
    assert session.scalar(select(func.count(ReviewScore.id))) == 0


def test_admin_may_delete_any_review(client: TestClient, session: Session) -> None:
    make_user(session, username="root", is_admin=True)
    movie = make_movie(session)
    review = make_review(session, movie=movie, body="spam")
    log_in(client, "root")
    token = csrf_from(client, "/")

    response = client.post(
        f"/reviews/{review.id}/delete", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 303
    assert session.scalar(select(Review).where(Review.id == review.id)) is None


def test_a_failing_model_loses_nothing(
    session: Session,
    settings,
    engine,  # type: ignore[no-untyped-def]
) -> None:
    from app.main import create_app

    movie = make_movie(session)
    app: FastAPI = create_app(settings, classifier=BrokenClassifier(), load_model=False)
    with TestClient(app) as client:
        sign_up(client, "alice")
        response = _post(client, movie.id, "Great film.", **HTMX)

    assert response.status_code == 201
    assert text(page(response).select_one(".verdict")) == "Not yet scored"
    assert session.scalars(select(Review)).one().body == "Great film."
