"""movie_stats: the maintained per-movie figures always equal a full recount of the reviews."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app import reviews, stats
from app.models import Movie, MovieStats, Review, ReviewScore, User
from app.movies import search_catalog, stats_for
from app.schemas import CatalogQuery, CatalogSort
from app.scoring import score_pending
from tests.factories import FakeClassifier, make_movie, make_review, make_user

WORDS = ["good", "great", "loved", "bad", "awful", "boring", "plot", "actors", "the", "film"]


def _body(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))) + "."


def _recount(session: Session) -> list[tuple[Any, ...]]:
    """The figures counted the slow way, in Python, independently of app/stats.py."""
    all_reviews = session.scalars(select(Review)).all()
    per_movie = Counter(review.movie_id for review in all_reviews)
    movie_of = {review.id: review.movie_id for review in all_reviews}
    rows: dict[tuple[int, str], list[int]] = {
        (movie_id, ""): [n, 0, 0] + [0] * 10 for movie_id, n in per_movie.items()
    }
    for score in session.scalars(select(ReviewScore)):
        movie_id = movie_of[score.review_id]
        row = rows.setdefault(
            (movie_id, score.model_version), [per_movie[movie_id], 0, 0] + [0] * 10
        )
        row[1] += 1
        row[2] += score.p_positive >= 0.5
        row[3 + min(int(score.p_positive * 10), 9)] += 1
    return sorted((*key, *values) for key, values in rows.items())


def test_figures_equal_a_full_recount_after_a_random_storm_of_writes(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    rng = random.Random(20261202)  # noqa: S311 (a reproducible storm)
    movies = [make_movie(session, title=f"Movie {i}") for i in range(4)]
    users = [make_user(session) for _ in range(3)]
    for _ in range(6):  # imported reviews, with no author on the site
        make_review(session, movie=rng.choice(movies), body=_body(rng))
    current = FakeClassifier("fake-v1")
    for step in range(150):
        own = session.scalars(select(Review).where(Review.user_id.is_not(None))).all()
        action = rng.choice(["post", "post", "edit", "delete", "score", "score", "batch"])
        if action == "post" or not own:
            user = rng.choice(users)
            review = reviews.post_review(
                session=session,
                movie=rng.choice(movies),
                user=user,
                body=_body(rng),
                max_chars=1000,
            )
            if rng.random() < 0.5:
                reviews.score_review(session=session, review=review, classifier=current)
        elif action == "edit":
            review = rng.choice(own)
            author = session.get(User, review.user_id)
            assert author is not None
            reviews.edit_review(
                session=session, review=review, user=author, body=_body(rng), max_chars=1000
            )
        elif action == "delete":
            review = rng.choice(own)
            author = session.get(User, review.user_id)
            assert author is not None
            reviews.delete_review(session=session, review=review, user=author)
        elif action == "score":  # scores written, or replaced by a re-score of one version
            everything = session.scalars(select(Review)).all()
            reviews.score_review(session=session, review=rng.choice(everything), classifier=current)
        else:
            score_pending(
                session_factory=session_factory,
                classifier=current,
                batch_size=rng.randint(1, 5),
                progress=False,
            )
        if step == 100:  # a promotion: the new version scores everything, then a rebuild
            current = FakeClassifier("fake-v2")
            score_pending(session_factory=session_factory, classifier=current, progress=False)
            stats.rebuild(session)
            session.commit()
        session.expire_all()
        assert stats.stored(session) == _recount(session), f"after step {step}: {action}"

    expected = _recount(session)
    assert stats.full_recount(session) == expected
    assert {row[1] for row in expected} == {"", "fake-v1", "fake-v2"}
    figures = stats_for(session=session, movie_ids=[m.id for m in movies], version="fake-v2")
    for movie_id, version, n_reviews, n_scored, n_positive, *histogram in expected:
        if version == "fake-v2":
            assert figures[movie_id].n_reviews == n_reviews
            assert (figures[movie_id].n_scored, figures[movie_id].n_positive) == (
                n_scored,
                n_positive,
            )
            assert list(figures[movie_id].histogram) == histogram


def test_concurrent_writers_of_the_same_movies_leave_exact_figures(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    movies = [make_movie(session, title=f"Busy {i}") for i in range(2)]
    users = [make_user(session) for _ in range(4)]
    classifier = FakeClassifier()
    start = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def write(user_id: int, seed: int) -> None:
        try:
            _write(user_id, seed)
        except BaseException as exc:  # a thread's exception would otherwise pass unseen
            errors.append(exc)
            raise

    def _write(user_id: int, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311
        with session_factory() as mine:
            user = mine.get(User, user_id)
            assert user is not None
            start.wait()
            for _ in range(25):
                try:
                    movie = mine.get(Movie, rng.choice(movies).id)
                    assert movie is not None
                    review = reviews.post_review(
                        session=mine, movie=movie, user=user, body=_body(rng), max_chars=1000
                    )
                    reviews.score_review(session=mine, review=review, classifier=classifier)
                    if rng.random() < 0.3:
                        reviews.delete_review(session=mine, review=review, user=user)
                except OperationalError:  # SQLite: "database is locked" under contention
                    mine.rollback()

    threads = [
        threading.Thread(target=write, args=(user.id, seed)) for seed, user in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    session.expire_all()
    assert session.scalar(select(Review.id).limit(1)) is not None
    assert stats.stored(session) == _recount(session)


def test_catalog_reads_the_maintained_figures(session: Session) -> None:
    movie = make_movie(session, title="Kept")
    make_review(session, movie=movie, body="great")
    make_review(session, movie=movie, body="awful")
    stats.rebuild(session)
    session.commit()

    [row] = search_catalog(
        session=session, version=None, query=CatalogQuery(sort=CatalogSort.most_reviewed)
    ).items
    assert row.sentiment.n_reviews == 2
    # A movie's figures come from movie_stats: a row changed behind the services' back shows.
    session.execute(update(MovieStats).values(n_reviews=99))
    [row] = search_catalog(session=session, version=None, query=CatalogQuery()).items
    assert row.sentiment.n_reviews == 99


def test_bins_follow_one_rule_in_python_and_sql(session: Session) -> None:
    movie = make_movie(session)
    review = make_review(session, movie=movie)
    edges = [0.0, 0.1, 0.19999999999999998, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0]
    for i, p in enumerate(edges):
        session.add(ReviewScore(review_id=review.id, model_version=f"v{i}", p_positive=p))
    session.flush()
    stats.refresh_movies(session, [movie.id])
    session.commit()
    for i, p in enumerate(edges):
        figures = stats_for(session=session, movie_ids=[movie.id], version=f"v{i}")[movie.id]
        assert figures.histogram.index(1) == stats.bin_of(p), p
