"""Security headers on every response, pages with nothing inline for the CSP to forbid, and
OPTIONS / Allow that agree with the routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_movie, make_review, make_user
from tests.routes.conftest import csrf_from, page, sign_up


def _signed_in_admin(client: TestClient, session: Session) -> None:
    make_user(session, username="root", is_admin=True)
    client.post(
        "/login",
        data={"username": "root", "password": PASSWORD, "csrf_token": csrf_from(client)},
    )


def test_every_kind_of_response_carries_the_security_headers(
    client: TestClient, session: Session
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie)

    responses = {
        "page": client.get(f"/movies/{movie.id}"),
        "api": client.get("/api/movies"),
        "404": client.get("/movies/999999"),
        "422": client.get("/?page=0"),
        "redirect": client.get("/reviews/1/edit", follow_redirects=False),
        "static": client.get("/static/css/site.css"),
        "options": client.options("/api/movies"),
        "405": client.put("/api/movies"),
    }

    for kind, response in responses.items():
        csp = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, kind
        assert "script-src 'self';" in csp and "unsafe" not in csp, kind
        assert "style-src 'self';" in csp, kind
        assert response.headers.get("x-frame-options") == "DENY", kind
        assert response.headers.get("x-content-type-options") == "nosniff", kind
        assert response.headers.get("referrer-policy") == "strict-origin-when-cross-origin", kind


def test_the_api_docs_get_a_policy_that_lets_them_load(client: TestClient) -> None:
    response = client.get("/docs")

    csp = response.headers["content-security-policy"]
    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"


def test_pages_hold_no_inline_script_style_or_event_handler(
    client: TestClient, session: Session
) -> None:
    movie = make_movie(session)
    make_review(session, movie=movie, body="A good film.")
    _signed_in_admin(client, session)
    client.post(
        f"/movies/{movie.id}/reviews",
        data={"body": "Great.", "csrf_token": csrf_from(client, "/")},
    )
    paths = ["/", f"/movies/{movie.id}", "/reviews/1", "/users/root", "/admin/labels"]
    paths += ["/how-it-works", "/login", "/signup", "/reviews/2/edit"]

    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        doc = page(response)
        assert [s for s in doc.select("script") if not s.get("src")] == [], path
        assert doc.select("[style]") == [] and doc.select("style") == [], path
        handlers = [
            (el.name, attr)
            for el in doc.find_all(True)
            for attr in el.attrs
            if attr.startswith(("on", "hx-on", "data-hx-on"))
        ]
        assert handlers == [], path
    config = page(client.get("/")).select_one("meta[name=htmx-config]")
    assert config is not None and '"includeIndicatorStyles": false' in str(config["content"])


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/reviews/1/edit", "GET, OPTIONS, POST"),
        ("/api/reviews/1", "DELETE, GET, OPTIONS, PATCH"),
        ("/api/movies/1/reviews", "GET, OPTIONS, POST"),
        ("/api/token", "OPTIONS, POST"),
        ("/static/css/site.css", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_and_405_name_every_method_the_path_takes(
    client: TestClient, session: Session, path: str, methods: str
) -> None:
    sign_up(client, "alice")
    options = client.options(path)
    refused = client.put(path, json={})

    assert options.status_code == 204 and options.headers["allow"] == methods
    assert refused.status_code == 405 and refused.headers["allow"] == methods


def test_options_on_an_unknown_path_is_404(client: TestClient) -> None:
    assert client.options("/no/such/page").status_code == 404
