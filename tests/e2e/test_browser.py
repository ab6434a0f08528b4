"""A person in a real browser (headless Chromium): sign up, post a review, see it scored."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.factories import FakeClassifier, make_movie, make_review

CHROMIUM = Path(os.environ.get("TEXTFLIX_CHROMIUM", "/usr/bin/chromium"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(database_url: str, engine, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        secret_key="e2e-secret",
        models_dir=tmp_path / "models",
        score_in_background=False,
    )
    app = create_app(settings, classifier=FakeClassifier(), load_model=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser_page(tmp_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sign_up_post_a_review_and_see_its_sentiment(
    live_server: str,
    browser_page,
    session: Session,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import expect

    movie = make_movie(session, title="Heat", year=1995, genres=["Crime"])
    make_review(session, movie=movie, body="Awful and boring, a waste of time.")
    page = browser_page

    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".site-header nav")).to_contain_text("alice")

    page.get_by_placeholder("Search titles").fill("hea")
    expect(page.locator(".movie-card h2")).to_have_text(["Heat"])
    page.get_by_role("link", name="Heat").click()
    expect(page.locator("#movie-summary .figures")).to_contain_text("1 review")

    page.evaluate("window.__same_page = true")  # survives only if htmx posts without a reload
    page.get_by_label("Your review").fill("A great film with a brilliant cast. I loved it.")
    page.get_by_role("button", name="Post review").click()

    new_review = page.locator("#review-items .review").first
    expect(new_review.locator(".verdict")).to_have_text("Positive")
    expect(new_review).to_contain_text("alice")
    expect(page.locator("#movie-summary .figures")).to_contain_text("2 reviews")
    expect(page.get_by_label("Your review")).to_have_value("")
    assert page.evaluate("window.__same_page === true")
    page.screenshot(path=str(tmp_path / "movie.png"), full_page=True)

    page.reload()
    expect(page.locator("#review-items .review").first.locator(".verdict")).to_have_text("Positive")
