""" "How it works": the current model's card, the measured learning curve, versions with
promotion for admins, and two versions compared on the same reviews."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.lifecycle import versions as promotion
from app.scoring import score_pending
from app.sentiment.calibration import Calibration, reliability, with_temperature
from app.sentiment.learning_curve import Run, append_result
from app.sentiment.registry import current_model_dir, set_current, write_card
from tests.factories import FakeClassifier, make_movie, make_review, make_user
from tests.lifecycle.test_versions import make_card
from tests.routes.conftest import csrf_from, log_in, page, text


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"learning_curve_dir": tmp_path / "curve"})


def test_page_shows_the_current_card_and_the_measured_curve(
    client: TestClient, settings: Settings, session: Session, app: FastAPI
) -> None:
    make_card(settings.models_dir, "fake-v1", accuracy=0.873)
    make_card(settings.models_dir, "older", accuracy=0.81)
    for model, accuracy in (("nbsvm", 0.82), ("finetune", 0.88)):
        for seed in (0, 1):
            append_result(
                results_path=settings.learning_curve_dir / "results.csv",
                run=Run(
                    model,
                    500,
                    seed,
                    accuracy + seed / 100,
                    8.0 + 1000 * seed * (model == "finetune"),
                    2000,
                    "2026-11-22T00:00",
                ),
            )
    movie = make_movie(session)
    make_review(session, movie=movie, body="great", gold_label=1)
    make_review(session, movie=movie, body="awful", gold_label=1)
    score_pending(
        session_factory=app.state.session_factory, classifier=FakeClassifier(), progress=False
    )

    doc = page(client.get("/how-it-works"))

    card = text(doc.select_one(".model-card"))
    assert "fake-v1" in card and "87.3% on 1,000 aclImdb test reviews" in card
    assert "123 s on CPU test" in card
    assert "right 50%" in text(doc.select_one(".card-section"))
    header = [text(th) for th in doc.select(".curve-table th")]
    assert header == ["labeled reviews", "NB-SVM (uni+bigrams)", "fine-tuned all-MiniLM-L6-v2"]
    assert [text(td) for td in doc.select(".curve-table tbody td")] == [
        "500",
        "82.5 ± 0.7 (2)",
        "88.5 ± 0.7 (2)",
        # The cost row: the median of each model's seeds' training seconds (8 and 8; 8 and 1,008)
        "training at 500",
        "8.0 s",
        "8 min",
    ]
    assert "the time each run spent training the model itself" in text(
        doc.select_one(".curve-table + p")
    )
    rows = [text(tr) for tr in doc.select(".versions tbody tr")]
    assert len(rows) == 2 and "current" in next(r for r in rows if "fake-v1" in r)
    assert doc.select(".versions form") == []  # promotion is for admins


def test_page_shows_the_recipe_and_the_teacher_of_a_best_recipe_model(
    client: TestClient, settings: Settings
) -> None:
    card = make_card(settings.models_dir, "fake-v1", accuracy=0.9)
    card = replace(
        card,
        hyperparameters={
            "recipe levers": "adapted + distilled",
            "teacher": "sentence-transformers/all-mpnet-base-v2 fine-tuned on the same labels",
        },
        metrics={**card.metrics, "teacher_accuracy": 0.925, "teacher_n_eval": 500},
    )
    write_card(settings.models_dir / "fake-v1", card)

    shown = text(page(client.get("/how-it-works")).select_one(".model-card"))

    assert "Recipe adapted + distilled" in shown
    assert "all-mpnet-base-v2 fine-tuned on the same labels: 92.5% on 500 of the same" in shown


def test_a_quick_recipe_model_shows_no_recipe_line(client: TestClient, settings: Settings) -> None:
    card = make_card(settings.models_dir, "fake-v1")
    write_card(
        settings.models_dir / "fake-v1",
        replace(card, hyperparameters={"recipe levers": "none"}),
    )

    shown = text(page(client.get("/how-it-works")).select_one(".model-card"))

    assert "Recipe" not in shown and "Teacher" not in shown


def test_a_cascade_shows_its_two_models_and_how_often_the_second_reads_again(
    client: TestClient, settings: Settings
) -> None:
    card = make_card(settings.models_dir, "fake-v1", accuracy=0.88)
    write_card(
        settings.models_dir / "fake-v1",
        replace(
            card,
            kind="cascade",
            hyperparameters={"first": "two-layers", "second": "three-layers", "certainty": 0.93},
            metrics={**card.metrics, "read_again": 0.214},
        ),
    )

    doc = page(client.get("/how-it-works"))

    shown = text(doc.select_one(".model-card"))
    assert (
        "two-layers reads every review; three-layers reads again those it is less than 93% "
        "sure of (21% of the held-out reviews)"
    ) in shown
    [row] = [text(tr) for tr in doc.select(".versions tbody tr")]
    assert "cascade of two fine-tuned encoders" in row


def test_page_shows_the_calibration_with_a_reliability_diagram(
    client: TestClient, settings: Settings
) -> None:
    make_card(settings.models_dir, "fake-v1", accuracy=0.873)
    scores, labels = [0.99] * 80 + [0.7] * 20, [1] * 70 + [0] * 10 + [1] * 14 + [0] * 6
    Calibration(
        temperature=2.5,
        n_fit=500,
        before=reliability(scores, labels),
        after=reliability([with_temperature(p, 2.5) for p in scores], labels),
    ).save(settings.models_dir / "fake-v1")

    doc = page(client.get("/how-it-works"))

    figure = doc.select_one("figure.reliability")
    assert figure is not None and "temperature 2.50" in text(figure)
    assert "fitted on 500 labeled reviews" in text(doc.select_one(".card-section"))
    # One point per non-empty bin, before and after.
    assert len(figure.select("circle.before")) == 2
    assert len(figure.select("circle.after")) == 2


def test_page_without_measurements_says_how_to_make_them(client: TestClient) -> None:
    doc = page(client.get("/how-it-works"))
    assert "textflix experiment" in text(doc.select_one("main"))
    assert client.get("/how-it-works/learning-curve.png").status_code == 404


def test_compare_two_versions(client: TestClient, session: Session, app: FastAPI) -> None:
    movie = make_movie(session, title="Heat")
    make_review(session, movie=movie, body="great film", gold_label=1)
    make_review(session, movie=movie, body="the plot was great", gold_label=0)
    factory = app.state.session_factory

    class Grumpy(FakeClassifier):
        def predict(self, texts):  # type: ignore[no-untyped-def]
            return [
                type(p)(0.1) if "plot" in t else p
                for p, t in zip(super().predict(texts), texts, strict=True)
            ]

    score_pending(session_factory=factory, classifier=FakeClassifier("a"), progress=False)
    score_pending(session_factory=factory, classifier=Grumpy("b"), progress=False)

    doc = page(client.get("/how-it-works/compare?a=a&b=b"))

    summary = text(doc.select_one("main"))
    assert "On the 2 reviews both have scored they agree on 50%" in summary
    assert "a 50%, b 100%" in summary
    cells = [text(td) for td in doc.select(".disagreements tbody td")]
    assert cells[0].startswith("Heat") and "the plot was great" in cells[0]
    assert cells[3] == "negative"
    assert client.get("/how-it-works/compare?a=a&b=nope").status_code == 404


def test_admin_promotes_a_version_in_the_background(
    client: TestClient,
    settings: Settings,
    session: Session,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_card(settings.models_dir, "fake-v1")
    make_card(settings.models_dir, "v2")
    set_current(settings.models_dir, "fake-v1")
    monkeypatch.setattr(promotion, "load_version", lambda *, settings, name: FakeClassifier(name))
    make_review(session, movie=make_movie(session), body="great")
    make_user(session, username="root", is_admin=True)
    log_in(client, "root")

    doc = page(client.get("/how-it-works"))
    form = doc.select_one(".versions form")
    response = client.post(
        form["action"], data={"csrf_token": csrf_from(client, "/")}, follow_redirects=False
    )

    assert form["action"] == "/admin/models/v2/promote"
    assert response.status_code == 303
    deadline = time.monotonic() + 20
    while current_model_dir(settings.models_dir) != settings.models_dir / "v2":
        assert time.monotonic() < deadline, "the promotion did not finish"
        time.sleep(0.05)


def test_admin_scores_a_version_to_compare_it_without_promoting_it(
    client: TestClient,
    settings: Settings,
    session: Session,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_card(settings.models_dir, "fake-v1")
    make_card(settings.models_dir, "nb")
    set_current(settings.models_dir, "fake-v1")
    monkeypatch.setattr(promotion, "load_version", lambda *, settings, name: FakeClassifier(name))
    movie = make_movie(session)
    for body in ("great", "awful", "fine"):
        make_review(session, movie=movie, body=body)
    score_pending(
        session_factory=app.state.session_factory, classifier=FakeClassifier(), progress=False
    )
    make_user(session, username="root", is_admin=True)
    log_in(client, "root")

    before = page(client.get("/how-it-works"))
    row = next(
        tr for tr in before.select(".versions tbody tr") if "nb" in text(tr.select_one("td"))
    )
    form = row.select("form")[-1]
    response = client.post(
        form["action"], data={"csrf_token": csrf_from(client, "/")}, follow_redirects=False
    )
    deadline = time.monotonic() + 20
    while app.state.promotions.running is not None:
        assert time.monotonic() < deadline, "the scoring did not finish"
        time.sleep(0.05)
    after = page(client.get("/how-it-works"))

    assert form["action"] == "/admin/models/nb/score" and "0 of 3" in text(row)
    assert response.status_code == 303
    scored_row = next(
        tr for tr in after.select(".versions tbody tr") if "nb" in text(tr.select_one("td"))
    )
    assert "3 of 3" in text(scored_row) and "Score to compare" not in text(scored_row)
    assert current_model_dir(settings.models_dir) == settings.models_dir / "fake-v1"
    options = [text(option) for option in after.select("select[name=b] option")]
    assert options == ["fake-v1", "nb"]
    compared = page(client.get("/how-it-works/compare?a=fake-v1&b=nb"))
    assert "On the 3 reviews both have scored" in text(compared.select_one("main"))


@pytest.mark.parametrize("action", ["promote", "score"])
def test_version_jobs_are_for_admins(
    client: TestClient, session: Session, settings: Settings, action: str
) -> None:
    make_card(settings.models_dir, "v2")
    make_user(session, username="alice")
    log_in(client, "alice")
    response = client.post(
        f"/admin/models/v2/{action}", data={"csrf_token": csrf_from(client, "/")}
    )
    assert response.status_code == 403
