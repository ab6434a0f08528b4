"""Admin only: the labeling queue (one review at a time, least certain first, keyboard-driven)
and background jobs on model versions (promote one, or score every review with it to compare)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app import labeling
from app.deps import (
    AdminUser,
    CsrfChecked,
    ModelVersion,
    ReviewDep,
    SessionDep,
)
from app.lifecycle.versions import PromotionRunner
from app.routes import page_router
from app.schemas import UserText
from app.templating import is_htmx, render

router = page_router("/admin")


def _queue_context(session: SessionDep, version: str | None) -> dict[str, object]:
    items = labeling.queue(session=session, version=version, limit=1)
    return {
        "item": items[0] if items else None,
        "progress": labeling.progress(session=session),
        "version": version,
    }


@router.get("/labels")
def labeling_queue(
    request: Request, session: SessionDep, version: ModelVersion, admin: AdminUser
) -> Response:
    context = _queue_context(session, version)
    return render(request, "labels.html", context, partials={"label-item": "_label_item.html"})


@router.post("/labels/{review_id}", dependencies=[CsrfChecked])
def record_label(
    request: Request,
    session: SessionDep,
    version: ModelVersion,
    review: ReviewDep,
    admin: AdminUser,
    label: Annotated[str, Form(pattern="^(positive|negative)$")],
) -> Response:
    labeling.record_label(
        session=session, review=review, label=1 if label == "positive" else 0, admin=admin
    )
    if not is_htmx(request):
        return RedirectResponse("/admin/labels", status_code=303)
    return render(request, "_label_item.html", _queue_context(session, version))


@router.post("/models/{name}/promote", dependencies=[CsrfChecked])
def promote_model(request: Request, admin: AdminUser, name: UserText) -> Response:
    """Re-score every review with version `name` in the background, then make it current."""
    return _start_version_job(request, name, make_current=True)


@router.post("/models/{name}/score", dependencies=[CsrfChecked])
def score_with_model(request: Request, admin: AdminUser, name: UserText) -> Response:
    """Score every review with version `name` in the background, to compare it with the
    current one; the site keeps showing the current version's scores."""
    return _start_version_job(request, name, make_current=False)


def _start_version_job(request: Request, name: str, *, make_current: bool) -> Response:
    runner: PromotionRunner = request.app.state.promotions
    if not runner.start(name, make_current=make_current):
        raise HTTPException(409, f"Already scoring with {runner.running}; wait for it to finish.")
    return RedirectResponse("/how-it-works", status_code=303)
