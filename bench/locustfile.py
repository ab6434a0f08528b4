"""The load of bench_load.py: visitors browse, call /api/sentiment and post reviews.

Run by bench_load.py (`locust --headless`), which passes BENCH_MOVIE_IDS and BENCH_TOKENS.
Each request is named for its row in the table (catalog, movie, post review, sentiment,
healthz).
"""

from __future__ import annotations

import itertools
import os
import random

from locust import HttpUser, between, tag, task

MOVIE_IDS = [int(i) for i in os.environ["BENCH_MOVIE_IDS"].split(",")]
# Bearer tokens of the accounts bench1..benchN, fetched once by bench_load.py: logging in costs
# a deliberately slow password hash, which is not what this measures.
TOKENS = os.environ["BENCH_TOKENS"].split(",")
_accounts = itertools.count()
_rng = random.Random(0)  # noqa: S311 (which movie to open, not a secret)

REVIEW = (
    "I went in expecting little and came out delighted. The lead is warm and funny, the "
    "script keeps its best jokes for the quiet moments, and the last twenty minutes are as "
    "moving as anything I saw this year. A couple of scenes drag, but I would watch it again."
)
SORTS = ["most_reviewed", "most_positive", "most_negative", "title"]


class Visitor(HttpUser):
    """Browses the catalog and movie pages, tries the sentiment demo, and, signed in with a
    bearer token, posts a review now and then (saved, then scored by the model on arrival)."""

    wait_time = between(0.0, 0.1)

    def on_start(self) -> None:
        self.token = TOKENS[next(_accounts) % len(TOKENS)]

    @task(4)
    def catalog(self) -> None:
        self.client.get(f"/?sort={_rng.choice(SORTS)}", name="catalog")

    @task(4)
    def movie(self) -> None:
        self.client.get(f"/movies/{_rng.choice(MOVIE_IDS)}", name="movie")

    @tag("model")
    @task(1)
    def post_review(self) -> None:
        self.client.post(
            f"/api/movies/{_rng.choice(MOVIE_IDS)}/reviews",
            json={"body": REVIEW},
            headers={"Authorization": f"Bearer {self.token}"},
            name="post review",
        )

    @tag("model")
    @task(1)
    def sentiment(self) -> None:
        self.client.post("/api/sentiment", json={"text": REVIEW}, name="sentiment")

    @task(2)
    def healthz(self) -> None:
        self.client.get("/healthz", name="healthz")
