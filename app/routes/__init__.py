"""HTTP routes: pages (HTML and htmx partials), review forms, sign-in, and the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from app.deps import get_optional_user


def page_router(prefix: str = "") -> APIRouter:
    """A router of HTML pages: each knows who is signed in (every page's header shows it),
    and none is part of the JSON API's documentation."""
    return APIRouter(
        prefix=prefix, dependencies=[Depends(get_optional_user)], include_in_schema=False
    )


def found_or_404(found: bool, what: str) -> None:
    """Answer 404 when the user's own session or token named in the URL was not there."""
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"You have no such {what}.")
