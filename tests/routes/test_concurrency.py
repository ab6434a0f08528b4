"""Many clients posting, editing and deleting the same reviews at once: no server error, no
acknowledged write lost, and every stored score belongs to its review's stored text."""

from __future__ import annotations

import random
import threading
from collections import Counter

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import credentials
from app.models import Review
from app.sentiment.classifier import analyze
from tests.factories import FakeClassifier, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, log_in

THREADS = 6
REQUESTS_PER_THREAD = 25


def test_a_storm_of_posts_edits_and_deletes(app: FastAPI, session: Session) -> None:
    movie = make_movie(session)
    user = make_user(session, username="stormer")
    _, token = credentials.issue_token(session=session, user=user, name="storm", max_age=3600)
    bearer = {"Authorization": f"Bearer {token}"}
    known = [make_review(session, movie=movie, user=user, body=f"Seed {i}.").id for i in range(4)]
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    posted: dict[int, str] = {}
    edited: dict[int, set[str]] = {}
    deleted: set[int] = set()
    failures: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - test data
        client = TestClient(app, raise_server_exceptions=False)
        forms = seed % 2 == 0  # half the clients use the site's forms, half the JSON API
        csrf = ""
        if forms:
            log_in(client, "stormer")
            csrf = csrf_from(client, f"/movies/{movie.id}")
        try:
            for n in range(REQUESTS_PER_THREAD):
                with lock:
                    target = rng.choice(known)
                body = f"Take {seed}-{n}: " + rng.choice(["good, great.", "awful. Dull.", "ok."])
                action = rng.choice(["post", "edit", "edit", "edit", "delete"])
                if action == "post":
                    if forms:
                        response = client.post(
                            f"/movies/{movie.id}/reviews",
                            data={"body": body, "csrf_token": csrf},
                            headers={"HX-Request": "true"},
                        )
                    else:
                        response = client.post(
                            f"/api/movies/{movie.id}/reviews", json={"body": body}, headers=bearer
                        )
                    if response.status_code == 201:
                        new_id = (
                            int(response.json()["id"])
                            if not forms
                            else int(response.text.split('id="review-')[1].split('"')[0])
                        )
                        with lock:
                            posted[new_id] = body
                            known.append(new_id)
                elif action == "edit":
                    if forms:
                        response = client.post(
                            f"/reviews/{target}/edit",
                            data={"body": body, "csrf_token": csrf},
                            headers={"HX-Request": "true"},
                        )
                    else:
                        response = client.patch(
                            f"/api/reviews/{target}", json={"body": body}, headers=bearer
                        )
                    if response.status_code == 200:
                        with lock:
                            edited.setdefault(target, set()).add(body)
                else:
                    if forms:
                        response = client.post(
                            f"/reviews/{target}/delete",
                            data={"csrf_token": csrf},
                            headers={"HX-Request": "true"},
                        )
                        ok = response.status_code == 200
                    else:
                        response = client.delete(f"/api/reviews/{target}", headers=bearer)
                        ok = response.status_code == 204
                    if ok:
                        with lock:
                            deleted.add(target)
                with lock:
                    statuses[response.status_code] += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert set(statuses) <= {200, 201, 204, 404, 409}, statuses
    session.expire_all()
    stored = {review.id: review for review in session.scalars(select(Review))}
    assert deleted.isdisjoint(stored)
    assert set(posted) - deleted <= set(stored)
    for review_id, review in stored.items():
        if review_id in edited:
            assert review.body in edited[review_id]
        elif review_id in posted:
            assert review.body == posted[review_id]
        for score in review.scores:
            [expected] = analyze(FakeClassifier(), [review.body])
            assert score.text_revision == review.text_revision
            assert score.p_positive == expected.prediction.p_positive
