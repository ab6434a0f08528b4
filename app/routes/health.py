"""A liveness check for load balancers and benchmarks: answers without touching the database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

router = APIRouter(include_in_schema=False)


@router.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    """The process is up and serving requests."""
    return "ok"
