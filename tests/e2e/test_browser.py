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
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.scoring import score_pending
from tests.factories import PASSWORD, FakeClassifier, make_movie, make_review, make_user

CHROMIUM = Path(os.environ.get("TEXTFLIX_CHROMIUM", "/usr/bin/chromium"))
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]
# How long an expectation waits for the page to get there (Playwright's default is 5 s): CI's
# two cores also run the server and the database, and a busy moment is not a failure.
WAIT_MS = 20_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _htmx_settled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until htmx has finished swapping and settling: a control inside swapped content
    only answers once htmx has processed it, as a person (who reads before clicking) never
    notices but a script that acts within milliseconds would."""
    busy = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"
    # A function, not an expression: Playwright polls an expression with eval() in the page,
    # which the site's Content Security Policy (no 'unsafe-eval') rightly refuses.
    page.wait_for_function(f"() => document.querySelectorAll({busy!r}).length === 0")
    page.wait_for_timeout(100)


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


# Recorded in the page before any of its own scripts run: every Content-Security-Policy
# violation, which the browser also reports on the console.
RECORD_CSP_VIOLATIONS = """
window.__csp_violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp_violations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def browser_page(tmp_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm's "Delete this review?"
        yield page
        violations = [line for line in console if "Content Security Policy" in line]
        context.close()
        browser.close()
        assert violations == [], "the Content-Security-Policy blocked something"


def _no_csp_violations(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("window.__csp_violations") == []


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
    _no_csp_violations(page)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_form_and_htmx_work_under_the_content_security_policy(
    live_server: str,
    browser_page,
    session: Session,
    session_factory: sessionmaker[Session],  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import expect

    movie = make_movie(session, title="Heat", year=1995, genres=["Crime"])
    make_movie(session, title="Alien", year=1979, genres=["Horror"])
    make_review(session, movie=movie, body="Awful and boring, a waste of time.")
    make_review(session, movie=make_movie(session, title="Alien 2", genres=["Horror"]))
    admin = make_user(session, username="root", is_admin=True)
    make_review(session, movie=movie, body="A great film.")
    score_pending(session_factory=session_factory, classifier=FakeClassifier(), progress=False)
    page = browser_page
    response = page.goto(f"{live_server}/")
    assert response is not None
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.evaluate("window.__same_page = true")  # survives only while htmx swaps in place

    page.get_by_label("Genre").select_option("Horror")
    expect(page.locator(".movie-card h2")).to_have_text(["Alien 2"])
    _htmx_settled(page)
    page.get_by_label("Genre").select_option("")
    page.get_by_label("Sort").select_option("title")
    expect(page.locator(".movie-card h2").first).to_have_text("Alien 2")
    page.get_by_placeholder("Search titles").fill("hea")
    expect(page.locator(".movie-card h2")).to_have_text(["Heat"])
    assert page.evaluate("window.__same_page === true")
    _no_csp_violations(page)

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".site-header nav")).to_contain_text("root")

    page.goto(f"{live_server}/movies/{movie.id}")
    page.evaluate("window.__same_page = true")
    page.get_by_label("Your review").fill("Wonderful and brilliant.")
    page.get_by_role("button", name="Post review").click()
    mine = page.locator("#review-items .review").first
    expect(mine.locator(".verdict")).to_have_text("Positive")
    expect(page.get_by_label("Your review")).to_have_value("")

    mine.get_by_role("link", name="Edit").click()
    page.locator("textarea[id^=edit-body]").fill("Awful, dull and bad.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#review-items .review").first.locator(".verdict")).to_have_text("Negative")

    page.get_by_label("Show").select_option("negative")
    expect(page.locator("#review-items .review")).to_have_count(2)
    _htmx_settled(page)
    page.get_by_label("Show").select_option("all")
    expect(page.locator("#review-items .review")).to_have_count(3)

    mine = page.locator("#review-items .review").first
    mine.get_by_role("button", name="Sentiment wrong?").click()
    expect(page.locator("#review-items .review").first.locator(".flagged")).to_have_count(1)

    page.locator("#review-items .review").first.get_by_role("button", name="Delete").click()
    expect(page.locator("#review-items .review")).to_have_count(2)
    expect(page.locator("#movie-summary .figures")).to_contain_text("2 reviews")
    assert page.evaluate("window.__same_page === true")
    _no_csp_violations(page)

    page.goto(f"{live_server}/admin/labels")
    expect(page.locator("#label-item .label-review")).to_have_count(1)
    before = page.locator(".label-progress").inner_text()
    page.keyboard.press("p")  # static/js/site.js presses the "Positive (p)" button
    expect(page.locator(".label-progress")).not_to_have_text(before)
    expect(page.locator(".label-progress")).to_contain_text("1 labeled in all")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".site-header nav")).to_contain_text("Log in")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".site-header nav")).to_contain_text("bob")
    _no_csp_violations(page)
