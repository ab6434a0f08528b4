"""Browsing: the catalog with search, filters, sorting and pages; a movie page; a user page."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.scoring import score_pending
from tests.factories import FakeClassifier, make_movie, make_review, make_user, score_some
from tests.routes.conftest import page, text


def _score_all(app: FastAPI) -> None:
    score_pending(
        session_factory=app.state.session_factory, classifier=app.state.models.get(), progress=False
    )


def _titles(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.get_text(strip=True) for h in page(response).select(".movie-card h2")]


def test_catalog_lists_movies_with_reviews_and_their_sentiment_bar(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    heat = make_movie(session, title="Heat", year=1995, genres=["Crime", "Drama"])
    make_movie(session, title="No Reviews Yet")
    for body in ["Great film, loved it.", "Great cast.", "Awful and boring."]:
        make_review(session, movie=heat, body=body)
    _score_all(app)

    doc = page(client.get("/"))

    cards = doc.select(".movie-card")
    assert [c.select_one("h2").get_text(strip=True) for c in cards] == ["Heat"]
    assert "1995 · Crime, Drama" in text(cards[0].select_one(".meta"))
    figures = text(cards[0].select_one(".sentiment-bar .figures"))
    assert figures.startswith("3 reviews · 2 positive (67%)")


def test_unscored_reviews_are_counted_but_not_called_positive(
    client: TestClient, session: Session
) -> None:
    movie = make_movie(session, title="Fresh")
    make_review(session, movie=movie, body="Great.")

    figures = text(page(client.get("/")).select_one(".movie-card .figures"))

    assert figures == "1 review · not yet scored"


def test_search_genre_sort_and_pages(client: TestClient, session: Session, app: FastAPI) -> None:
    for i in range(7):
        movie = make_movie(session, title=f"Alpha {i}", genres=["Comedy" if i % 2 else "Horror"])
        for _ in range(i + 1):
            make_review(session, movie=movie, body="great" if i < 3 else "awful")
    beta = make_movie(session, title="Beta 100%_x", genres=["Comedy"])
    make_review(session, movie=beta, body="great")
    _score_all(app)

    assert _titles(client.get("/?q=beta")) == ["Beta 100%_x"]
    assert _titles(client.get("/?q=100%25_")) == ["Beta 100%_x"]  # LIKE wildcards are literal
    assert _titles(client.get("/?q=zzz")) == []
    assert set(_titles(client.get("/?genre=Horror"))) == {
        "Alpha 0",
        "Alpha 2",
        "Alpha 4",
        "Alpha 6",
    }
    most_reviewed = _titles(client.get("/?sort=most_reviewed"))
    assert most_reviewed[:3] == ["Alpha 6", "Alpha 5", "Alpha 4"]
    assert len(most_reviewed) == 5  # page_size in the test settings
    assert _titles(client.get("/?sort=most_reviewed&page=2")) == [
        "Alpha 1",
        "Alpha 0",
        "Beta 100%_x",
    ]
    assert _titles(client.get("/?sort=most_positive"))[0] == "Alpha 2"  # 100%, most reviews
    assert _titles(client.get("/?sort=most_negative"))[0] == "Alpha 6"
    assert _titles(client.get("/?sort=title"))[:2] == ["Alpha 0", "Alpha 1"]
    pager = page(client.get("/?sort=title")).select_one(".pagination a[rel=next]")
    assert pager is not None and "page=2" in pager["href"] and "sort=title" in pager["href"]


def test_catalog_htmx_request_gets_only_the_partial(client: TestClient, session: Session) -> None:
    make_review(session, movie=make_movie(session, title="Heat"), body="great")

    response = client.get("/?q=heat", headers={"HX-Request": "true", "HX-Target": "catalog"})

    doc = page(response)
    assert doc.select_one("html") is None and doc.select_one("header.site-header") is None
    assert [h.get_text(strip=True) for h in doc.select(".movie-card h2")] == ["Heat"]


def test_bad_query_parameters_get_a_clear_error(client: TestClient) -> None:
    assert client.get("/?sort=loudest").status_code == 422
    assert client.get("/?page=0").status_code == 422


def test_movie_page_shows_figures_histogram_highlights_and_reviews(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    movie = make_movie(session, title="Heat", genres=["Crime"])
    make_review(session, movie=movie, body="A great, great film. The plot is dull.")
    make_review(session, movie=movie, body="Loved it. Brilliant acting throughout.")
    make_review(session, movie=movie, body="Awful and boring, a waste. Terrible script.")
    _score_all(app)

    doc = page(client.get(f"/movies/{movie.id}"))

    assert text(doc.select_one("h1")).startswith("Heat")
    assert doc.select_one("#movie-summary .big").get_text(strip=True) == "67% positive"
    assert len(doc.select("#movie-summary .histogram rect")) == 10
    positive = [q.get_text(strip=True) for q in doc.select(".highlights .positive blockquote")]
    negative = [q.get_text(strip=True) for q in doc.select(".highlights .negative blockquote")]
    assert positive[0] == "“A great, great film.”"
    assert "“Awful and boring, a waste.”" in negative and "“The plot is dull.”" in negative
    links = doc.select(".highlights a")
    assert all(a["href"].startswith("/reviews/") for a in links)
    verdicts = [v.get_text(strip=True) for v in doc.select("#review-items .review .verdict")]
    assert sorted(verdicts) == ["Negative", "Positive", "Positive"]
    assert text(doc.select_one(".review .meta")).startswith("IMDb reviewer")


def test_movie_reviews_sort_and_filter(client: TestClient, session: Session, app: FastAPI) -> None:
    movie = make_movie(session)
    for body in ["good", "great great great", "awful awful", "dull"]:
        make_review(session, movie=movie, body=body)
    _score_all(app)

    def bodies(query: str) -> list[str]:
        doc = page(client.get(f"/movies/{movie.id}?{query}"))
        return [b.get_text(strip=True) for b in doc.select("#review-items .review .body")]

    assert bodies("sort=most_positive")[0] == "great great great"
    assert bodies("sort=most_negative")[0] == "awful awful"
    assert sorted(bodies("sentiment=negative")) == ["awful awful", "dull"]
    assert sorted(bodies("sentiment=positive")) == ["good", "great great great"]
    assert bodies("sentiment=unscored") == []


def test_movie_page_htmx_reviews_partial(client: TestClient, session: Session) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="good")

    doc = page(
        client.get(f"/movies/{movie.id}", headers={"HX-Request": "true", "HX-Target": "reviews"})
    )

    assert doc.select_one("#movie-summary") is None
    assert len(doc.select("#review-items .review")) == 1


def test_unknown_movie_is_a_404_page(client: TestClient) -> None:
    response = client.get("/movies/12345")
    assert response.status_code == 404
    assert "There is no movie 12345." in page(response).select_one("main").get_text()


def test_review_markup_is_escaped(client: TestClient, session: Session) -> None:
    movie = make_movie(session, title="<script>alert(1)</script>")
    make_review(session, movie=movie, body="<img src=x onerror=alert(1)> good<br /><br />Second.")

    response = client.get(f"/movies/{movie.id}")

    doc = page(response)
    assert doc.select_one("main script") is None and doc.select_one("main img") is None
    assert "&lt;script&gt;" in response.text
    paragraphs = [p.get_text() for p in doc.select(".review .body p")]
    assert paragraphs == ["<img src=x onerror=alert(1)> good", "Second."]


def test_user_page_lists_their_reviews(client: TestClient, session: Session, app: FastAPI) -> None:
    bob = make_user(session, username="bob")
    movie = make_movie(session, title="Heat")
    make_review(session, movie=movie, body="great", user=bob)
    make_review(session, movie=movie, body="someone else's")
    _score_all(app)

    doc = page(client.get("/users/bob"))

    reviews = doc.select(".review")
    assert len(reviews) == 1
    assert reviews[0].select_one(".verdict").get_text(strip=True) == "Positive"
    assert "Heat" in reviews[0].get_text()
    assert client.get("/users/nobody").status_code == 404


def test_site_without_a_model_says_how_to_train(
    session: Session,
    settings,
    engine,  # type: ignore[no-untyped-def]
) -> None:
    from app.main import create_app

    make_review(session, movie=make_movie(session, title="Heat"), body="great")
    app = create_app(settings.model_copy(update={"models_dir": settings.models_dir}))
    with TestClient(app) as client:
        doc = page(client.get("/"))
    assert "textflix train" in doc.select_one(".notice").get_text()
    assert text(doc.select_one(".movie-card .figures")).endswith("not yet scored")


def test_scoring_progress_banner_counts_in_the_database_and_estimates_the_time_left(
    client: TestClient, session: Session, session_factory: sessionmaker[Session]
) -> None:
    from app.models import ScoringJob

    movie = make_movie(session)
    for i in range(10):
        make_review(session, movie=movie, body=f"review {i}")
    session.add(ScoringJob(model_version=FakeClassifier().version, total=10, done=0))
    session.commit()
    score_some(session_factory, limit=4)

    doc = page(client.get("/status"))

    bar = doc.select_one("#scoring-status progress")
    assert bar is not None and bar["value"] == "4" and bar["max"] == "10"
    status = text(doc.select_one("#scoring-status"))
    assert "Scoring reviews with fake-v1 : 4 of 10 reviews scored" in status
    assert text(doc.select_one("#scoring-status .eta")).endswith(" left")


def test_banner_shows_the_current_versions_job_and_one_for_comparing(
    client: TestClient, session: Session, app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    from app.models import ScoringJob

    movie = make_movie(session)
    for i in range(10):
        make_review(session, movie=movie, body=f"review {i}")
    score_some(session_factory, limit=4)
    score_some(session_factory, limit=9, classifier=FakeClassifier("nb"))
    session.add(ScoringJob(model_version=FakeClassifier().version, total=10, done=4))
    session.add(ScoringJob(model_version="crashed-long-ago", total=5, done=1))
    session.add(ScoringJob(model_version="nb", total=10, done=9))
    session.add(ScoringJob(model_version="finished", total=3, done=3, status="done"))
    session.commit()
    app.state.promotions.running, app.state.promotions.make_current = "nb", False

    lines = [
        text(p.select_one(".figures"))
        for p in page(client.get("/status")).select("#scoring-status p")
    ]

    assert lines == ["4 of 10 reviews scored", "9 of 10 reviews scored"]
    first, second = (text(p) for p in page(client.get("/status")).select("#scoring-status p"))
    assert first.startswith("Scoring reviews with fake-v1 :")
    assert second.startswith("Scoring every review with nb to compare it with the current model:")


def test_no_banner_when_nothing_is_running(client: TestClient, session: Session) -> None:
    from app.models import ScoringJob

    session.add(ScoringJob(model_version="v0", total=3, done=3, status="done"))
    session.commit()

    status = page(client.get("/status")).select_one("#scoring-status")

    assert status is not None and status.has_attr("hidden")


def test_no_banner_for_a_killed_workers_job_once_everything_is_scored(
    client: TestClient, session: Session, session_factory: sessionmaker[Session]
) -> None:
    from app.models import ScoringJob

    make_review(session, movie=make_movie(session), body="good")
    session.add(ScoringJob(model_version=FakeClassifier().version, total=1, done=0))
    session.commit()
    score_some(session_factory, limit=1)

    status = page(client.get("/status")).select_one("#scoring-status")

    assert status is not None and status.has_attr("hidden")


def test_healthz_answers_without_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
