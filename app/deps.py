"""Request dependencies as Annotated aliases, so handler signatures describe themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Form, Header, HTTPException, Path, Query, Request, status
from sqlalchemy.orm import Session

from app import credentials, reviews
from app.config import Settings
from app.db import Base, is_row_id
from app.lifecycle.serving import InteractiveModels
from app.models import Movie, Review, User, UserSession
from app.schemas import CatalogQuery, Paging, ReviewForm, ReviewQuery
from app.security import CSRF_FORM_FIELD, CSRF_HEADER, SESSION_KEY, csrf_valid
from app.sentiment.classifier import Classifier
from app.throttle import Throttle

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
    """The current model, behind the dynamic batcher when it is on."""
    models: InteractiveModels = request.app.state.interactive
    return models.get()


def get_model_version(
    classifier: Annotated[Classifier | None, Depends(get_classifier)],
) -> str | None:
    """The model version whose scores the site shows: the one loaded."""
    return classifier.version if classifier is not None else None


def get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


def get_client_ip(request: Request) -> str:
    """The caller's address; behind a proxy, uvicorn --proxy-headers makes it the real one."""
    return request.client.host if request.client else "unknown"


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]
ClientIp = Annotated[str, Depends(get_client_ip)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ClassifierDep = Annotated[Classifier | None, Depends(get_classifier)]
ModelVersion = Annotated[str | None, Depends(get_model_version)]


def get_user_session(request: Request, session: SessionDep) -> UserSession | None:
    """The live server-side session the cookie names; its user is left on request.state."""
    key = request.session.get(SESSION_KEY)
    found = credentials.find_session(session=session, key=key) if isinstance(key, str) else None
    if found is None and key is not None:
        del request.session[SESSION_KEY]  # ended or expired: the cookie forgets it too
    request.state.user = found.user if found else None
    return found


UserSessionDep = Annotated[UserSession | None, Depends(get_user_session)]


def get_optional_user(user_session: UserSessionDep) -> User | None:
    """The signed-in user from the session cookie, or None."""
    return user_session.user if user_session else None


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


def get_optional_api_user(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    authorization: Annotated[str | None, Header()] = None,
) -> User | None:
    """The API caller: a bearer token's owner (401 if the token is not live), else the cookie's
    user, else None. The token row is left on request.state.api_token."""
    request.state.api_token = None
    if not authorization:
        return user
    scheme, _, token = authorization.partition(" ")
    found = (
        credentials.find_token(session=session, token=token.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Invalid, expired or revoked token: get a new one from POST /api/token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.api_token = found
    return found.user


OptionalApiUser = Annotated[User | None, Depends(get_optional_api_user)]


def get_api_user(request: Request, user: OptionalApiUser) -> User:
    """The signed-in API caller; cookie callers must also send the CSRF header to write."""
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in: send 'Authorization: Bearer <token>' from POST /api/token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if (
        request.state.api_token is None
        and request.method not in SAFE_METHODS
        and not csrf_valid(request.session, request.headers.get(CSRF_HEADER))
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"Cookie-authenticated API calls need the {CSRF_HEADER} header.",
        )
    return user


ApiUser = Annotated[User, Depends(get_api_user)]


RowId = Annotated[int, Path(description="A row id; one that names no row is answered 404.")]


RowT = TypeVar("RowT", bound=Base)


def _row_or_404(session: Session, table: type[RowT], row_id: int, what: str) -> RowT:
    row = session.get(table, row_id) if is_row_id(row_id) else None
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no {what} {row_id}.")
    return row


def get_movie(movie_id: RowId, session: SessionDep) -> Movie:
    return _row_or_404(session, Movie, movie_id, "movie")


def get_review(review_id: RowId, session: SessionDep) -> Review:
    return _row_or_404(session, Review, review_id, "review")


MovieDep = Annotated[Movie, Depends(get_movie)]
ReviewDep = Annotated[Review, Depends(get_review)]


CatalogQueryDep = Annotated[CatalogQuery, Query()]
ReviewQueryDep = Annotated[ReviewQuery, Query()]
PagingDep = Annotated[Paging, Query()]
ReviewFormDep = Annotated[ReviewForm, Form()]


def get_review_writer(
    session: SessionDep, settings: SettingsDep, classifier: ClassifierDep
) -> reviews.ReviewWriter:
    return reviews.ReviewWriter(
        session=session, classifier=classifier, max_chars=settings.max_review_chars
    )


ReviewWriterDep = Annotated[reviews.ReviewWriter, Depends(get_review_writer)]
