""" "How it works": the measured learning curve, the model cards, and model comparison."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from app import accuracy, scoring
from app.deps import ModelVersion, SessionDep, SettingsDep
from app.lifecycle import comparison
from app.routes import page_router
from app.schemas import UserText
from app.sentiment import learning_curve, registry
from app.sentiment.calibration import Calibration
from app.templating import render

router = page_router()

VersionName = Annotated[UserText, Query(max_length=128)]


@router.get("/how-it-works")
def how_it_works(
    request: Request, session: SessionDep, settings: SettingsDep, version: ModelVersion
) -> Response:
    results = settings.learning_curve_dir / "results.csv"
    cards = registry.list_models(settings.models_dir)
    current = next((card for card in cards if card.name == version), None)
    context = {
        "cards": cards,
        "current": current,
        "calibration": (
            Calibration.load(settings.models_dir / current.name) if current is not None else None
        ),
        "curve": learning_curve.curve_table(results_path=results) if results.exists() else None,
        "has_plot": (settings.learning_curve_dir / "learning_curve.png").exists(),
        "cost_caption": learning_curve.COST_CAPTION,
        "site_accuracy": accuracy.accuracy(session=session, version=version),
        "versions": comparison.scored_versions(session=session),
        "n_reviews": comparison.review_count(session=session),
        "scoring_version": request.app.state.promotions.running,
        "job": scoring.latest_job(session=session),
    }
    return render(request, "how_it_works.html", context)


@router.get("/how-it-works/learning-curve.png")
def learning_curve_plot(settings: SettingsDep) -> Response:
    path = settings.learning_curve_dir / "learning_curve.png"
    if not path.exists():
        raise HTTPException(404, "No learning curve yet: run `textflix experiment`.")
    return FileResponse(path, media_type="image/png")


@router.get("/how-it-works/compare")
def compare_versions(
    request: Request, session: SessionDep, a: VersionName, b: VersionName
) -> Response:
    result = comparison.compare(session=session, version_a=a, version_b=b)
    return render(request, "compare.html", {"result": result})
