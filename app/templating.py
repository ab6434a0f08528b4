"""Jinja2 templates: the environment, filters, and the page-or-partial response helper."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.config import PROJECT_ROOT
from app.security import CSRF_FORM_FIELD, CSRF_HEADER, csrf_token
from app.sentiment.labels import is_positive


def _globals(request: Request) -> dict[str, Any]:
    return {
        "current_user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request.session),
        "csrf_field": CSRF_FORM_FIELD,
        "csrf_header": CSRF_HEADER,
        "model_version": getattr(request.app.state.models.get(), "version", None),
        "model_problem": request.app.state.models.problem,
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _certainty(value: float) -> str:
    """A verdict's certainty for people: "87%", and "over 99%" for a near-certainty, which a
    whole percent would round up to a certainty no model has ("100% certain")."""
    if 0.995 <= value < 1.0:
        return "over 99%"
    return f"{100 * value:.0f}%"


def _duration(seconds: float | None) -> str:
    """A rough time span for people: "under a minute", "12 minutes", "3 h 20 min"."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _date(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%d %b %Y")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=PROJECT_ROOT / "templates", context_processors=[_globals])
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    templates.env.filters["percent"] = _percent
    templates.env.filters["certainty"] = _certainty
    templates.env.filters["date"] = _date
    templates.env.filters["duration"] = _duration
    templates.env.tests["positive"] = is_positive  # {% if p is positive %}: the one label rule
    return templates


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    page: str,
    context: dict[str, Any],
    *,
    partials: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The full page, or, for an htmx request aimed at a known element id, just that partial."""
    templates: Jinja2Templates = request.app.state.templates
    name = page
    if partials and is_htmx(request):
        name = partials.get(request.headers.get("HX-Target", ""), page)
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
