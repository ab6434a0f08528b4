"""While reviews are still being scored: honest summaries, sorting that does not trust partial
shares, and the movie someone opens scored next."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.movies import MIN_SCORED_FOR_SHARE
from app.scoring import claim_batch
from tests.factories import make_movie, make_review, score_some
from tests.routes.conftest import page, text


def _summary(client: TestClient, movie_id: int) -> tuple[str, str]:
    doc = page(client.get(f"/movies/{movie_id}"))
    return text(doc.select_one("#movie-summary .big")), text(
        doc.select_one("#movie-summary .figures")
    )


def test_a_movie_being_scored_says_how_far_and_hides_a_share_of_too_few(
    client: TestClient, session: Session, session_factory: sessionmaker[Session]
) -> None:
    movie = make_movie(session, title="Heat")
    for i in range(14):
        make_review(session, movie=movie, body="Great." if i % 2 else "Awful.")
    assert MIN_SCORED_FOR_SHARE == 10

    score_some(session_factory, limit=9)
    nine = _summary(client, movie.id)
    score_some(session_factory, limit=3)
    twelve = _summary(client, movie.id)
    score_some(session_factory, limit=2)
    done = _summary(client, movie.id)

    assert nine == ("Being scored", "14 reviews · 9 of 14 reviews scored")
    assert twelve[0].endswith("% positive")
    assert twelve[1].endswith("· 12 of 14 reviews scored")
    assert done == ("50% positive", "14 reviews · 7 positive (50%)")


def test_most_positive_and_negative_list_movies_still_being_scored_last(
    client: TestClient, session: Session, session_factory: sessionmaker[Session]
) -> None:
    partial = make_movie(session, title="Partial")
    for _ in range(3):
        make_review(session, movie=partial, body="Great, great.")
    scored = make_movie(session, title="Scored")
    make_review(session, movie=scored, body="Awful.")
    score_some(session_factory, limit=2)  # the bigger movie first: 2 of Partial's 3
    with session_factory() as other:  # its third is in another worker's hands
        claim_batch(session=other, version="fake-v1", worker="busy", limit=1)
    score_some(session_factory, limit=1)  # Scored's one review

    positive = [
        h.get_text(strip=True)
        for h in page(client.get("/?sort=most_positive")).select(".movie-card h2")
    ]
    negative = [
        h.get_text(strip=True)
        for h in page(client.get("/?sort=most_negative")).select(".movie-card h2")
    ]

    assert positive == negative == ["Scored", "Partial"]


def test_opening_a_movie_that_is_not_fully_scored_puts_it_next_in_the_queue(
    client: TestClient, session: Session, session_factory: sessionmaker[Session]
) -> None:
    big = make_movie(session, title="Big")
    for _ in range(5):
        make_review(session, movie=big, body="x")
    small = make_movie(session, title="Small")
    small_reviews = {make_review(session, movie=small, body="x").id for _ in range(2)}

    before = score_some(session_factory, limit=1)
    client.get(f"/movies/{small.id}")
    after = score_some(session_factory, limit=2)

    assert before[0] not in small_reviews  # most reviews first, until someone looks
    assert set(after) == small_reviews
