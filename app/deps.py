"""Request dependencies as Annotated aliases, so handler signatures describe themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, HTTPException, Path, Request, status
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Base
from app.lifecycle.serving import ModelHolder
from app.models import Movie, Review, User
from app.security import CSRF_FORM_FIELD, CSRF_HEADER, TokenSigner, csrf_valid
from app.sentiment.classifier import Classifier

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """Raised when a page or API call needs a signed-in user; handled in main.py."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


def get_classifier(request: Request) -> Classifier | None:
    models: ModelHolder = request.app.state.models
    return models.get()


def get_model_version(
    classifier: Annotated[Classifier | None, Depends(get_classifier)],
) -> str | None:
    """The model version whose scores the site shows: the one loaded."""
    return classifier.version if classifier is not None else None


def get_token_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.token_signer
    return signer


TokenSignerDep = Annotated[TokenSigner, Depends(get_token_signer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ClassifierDep = Annotated[Classifier | None, Depends(get_classifier)]
ModelVersion = Annotated[str | None, Depends(get_model_version)]


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user from the session cookie, also left on request.state for templates."""
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    request.state.user = user
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_user(user: OptionalUser) -> User:
    if user is None:
        raise LoginRequired
    return user


CurrentUser = Annotated[User, Depends(require_user)]


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only admins can do this.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that lacks this session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FORM_FIELD)
        submitted = value if isinstance(value, str) else None
    if not csrf_valid(request.session, submitted):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "The form's security token is missing or stale: reload the page and try again.",
        )


CsrfChecked = Depends(check_csrf)


def get_api_user(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The API caller: a bearer token, or the site's session cookie plus its CSRF header."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        signer: TokenSigner = request.app.state.token_signer
        user_id = signer.user_id(token.strip()) if scheme.lower() == "bearer" else None
        user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Invalid or expired token: get a new one from POST /api/token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return user
    user = get_optional_user(request, session)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in: send 'Authorization: Bearer <token>' from POST /api/token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in SAFE_METHODS and not csrf_valid(
        request.session, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"Cookie-authenticated API calls need the {CSRF_HEADER} header.",
        )
    return user


ApiUser = Annotated[User, Depends(get_api_user)]


MAX_ROW_ID = 2**31 - 1
"""The largest id an INTEGER column holds on Postgres (SQLite's are wider): any id outside
1..MAX_ROW_ID names no row, and is answered 404 before it reaches the database."""

RowId = Annotated[int, Path(description="A row id; one that names no row is answered 404.")]


RowT = TypeVar("RowT", bound=Base)


def _row_or_404(session: Session, table: type[RowT], row_id: int, what: str) -> RowT:
    row = session.get(table, row_id) if 1 <= row_id <= MAX_ROW_ID else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no {what} {row_id}.")
    return row


def get_movie(movie_id: RowId, session: SessionDep) -> Movie:
    return _row_or_404(session, Movie, movie_id, "movie")


def get_review(review_id: RowId, session: SessionDep) -> Review:
    return _row_or_404(session, Review, review_id, "review")


MovieDep = Annotated[Movie, Depends(get_movie)]
ReviewDep = Annotated[Review, Depends(get_review)]
