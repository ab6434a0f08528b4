"""Labels from people: readers flag wrong verdicts, admins label the least certain reviews,
and accuracy mode compares the model with the dataset's gold labels."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import labeling
from app.models import Feedback, HumanLabel
from app.scoring import score_pending
from tests.factories import make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, log_in, page, sign_up, text

HTMX = {"HX-Request": "true"}


def _score_all(app: FastAPI) -> None:
    score_pending(
        session_factory=app.state.session_factory, classifier=app.state.models.get(), progress=False
    )


def test_reader_flags_a_wrong_verdict(client: TestClient, session: Session, app: FastAPI) -> None:
    movie = make_movie(session)
    review = make_review(session, movie=movie, body="Great? No. I wanted my money back.")
    _score_all(app)
    sign_up(client, "alice")
    token = csrf_from(client, f"/movies/{movie.id}")

    response = client.post(
        f"/reviews/{review.id}/feedback", data={"csrf_token": token}, headers=HTMX
    )
    again = client.post(
        f"/reviews/{review.id}/feedback", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 200
    assert "flagged this sentiment as wrong" in text(page(response).select_one(".review"))
    assert again.status_code == 303
    flags = session.scalars(select(Feedback)).all()
    assert len(flags) == 1  # once per reader
    assert flags[0].label == 0 and flags[0].model_version == "fake-v1"  # the model said positive
    doc = page(client.get(f"/movies/{movie.id}"))
    assert doc.select_one(f"#review-{review.id} .flagged") is not None


def test_flagging_needs_a_reader_and_a_score(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    review = make_review(session, movie=movie, body="great")
    token = csrf_from(client, "/login")

    anonymous = client.post(
        f"/reviews/{review.id}/feedback", data={"csrf_token": token}, follow_redirects=False
    )
    sign_up(client, "alice")
    token = csrf_from(client, "/login")
    unscored = client.post(f"/reviews/{review.id}/feedback", data={"csrf_token": token})

    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    assert unscored.status_code == 409


def test_queue_puts_flagged_then_peoples_then_least_certain_first(
    session: Session, app: FastAPI
) -> None:
    movie = make_movie(session)
    sure = make_review(session, movie=movie, body="great great great great", gold_label=1)
    unsure_imported = make_review(session, movie=movie, body="great awful", gold_label=0)
    person = make_user(session)
    by_person = make_review(session, movie=movie, body="great great", user=person)
    _score_all(app)
    score = labeling.queue(session=session, version="fake-v1", limit=5)
    assert [i.review.id for i in score] == [by_person.id, unsure_imported.id, sure.id]

    sure_score = next(i.score for i in score if i.review.id == sure.id)
    labeling.flag_wrong(session=session, review=sure, user=person, score=sure_score)
    assert labeling.queue(session=session, version="fake-v1", limit=1)[0].review.id == sure.id

    labeling.record_label(session=session, review=sure, label=0, admin=person)
    remaining = [i.review.id for i in labeling.queue(session=session, version="fake-v1", limit=5)]
    assert remaining == [by_person.id, unsure_imported.id]
    assert labeling.human_labeled_examples(session=session) == [("great great great great", 0)]


def test_admin_labels_with_htmx_and_gets_the_next_one(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    make_user(session, username="root", is_admin=True)
    movie = make_movie(session)
    first = make_review(session, movie=movie, body="great awful")
    make_review(session, movie=movie, body="great great great")
    _score_all(app)
    log_in(client, "root")

    doc = page(client.get("/admin/labels"))
    button = doc.select_one("#label-item button[data-key=p]")
    form = button.find_parent("form")
    token = form.select_one("input[name=csrf_token]")["value"]
    response = client.post(
        form["action"], data={"csrf_token": token, "label": "positive"}, headers=HTMX
    )

    assert form["action"] == f"/admin/labels/{first.id}"
    label = session.get(HumanLabel, first.id)
    assert label is not None and label.label == 1
    following = page(response)
    assert "1 labeled in all · 1 today" in text(following.select_one(".label-progress"))
    assert following.select_one("form")["action"] != f"/admin/labels/{first.id}"


def test_labeling_queue_is_for_admins_only(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    review = make_review(session, movie=movie)
    sign_up(client, "alice")
    token = csrf_from(client, "/")

    assert client.get("/admin/labels").status_code == 403
    response = client.post(
        f"/admin/labels/{review.id}", data={"csrf_token": token, "label": "positive"}
    )
    assert response.status_code == 403
    assert session.get(HumanLabel, review.id) is None


def test_accuracy_mode_marks_each_review_against_its_gold_label(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="great film", gold_label=1)
    make_review(session, movie=movie, body="awful film", gold_label=0)
    make_review(session, movie=movie, body="great, they said; I disagree", gold_label=0)
    make_review(session, movie=movie, body="no label here")
    _score_all(app)

    plain = page(client.get(f"/movies/{movie.id}"))
    marked = page(client.get(f"/movies/{movie.id}?accuracy=1"))

    line = text(plain.select_one(".accuracy-line"))
    assert "accuracy on the 3 reviews with IMDb labels: 67%" in line
    assert plain.select(".review .accuracy") == []
    marks = [text(m) for m in marked.select("#review-items .review .accuracy")]
    assert sorted(mark[0] for mark in marks) == ["✓", "✓", "✗"]
    assert "✗ disagrees with the IMDb label (negative)" in marks
    next_page_filters = marked.select_one("#reviews form input[name=accuracy]")
    assert next_page_filters is not None  # sorting keeps accuracy mode on
