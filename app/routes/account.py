"""Your account: change your password, see and end your sessions, list and revoke API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app import credentials, users
from app.deps import (
    ClientIp,
    CsrfChecked,
    CurrentUser,
    RowId,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    UserSessionDep,
)
from app.models import User, UserSession
from app.routes import page_router
from app.templating import render
from app.throttle import Throttled

router = page_router("/account")

Password = Annotated[str, Form(max_length=1024)]
PASSWORD_PARTIALS = {"password-form": "_password_form.html"}


def _page(
    request: Request,
    session: SessionDep,
    user: User,
    current: UserSession | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    context = {
        "sessions": credentials.list_sessions(session=session, user=user),
        "current_session_id": current.id if current else None,
        "tokens": credentials.list_tokens(session=session, user=user),
        "password_error": None,
        "new_token": None,
        "notice": None,
        **extra,
    }
    return render(
        request,
        "account.html",
        context,
        partials=PASSWORD_PARTIALS,
        status_code=status_code,
        headers=headers,
    )


NOTICES = {
    "password": "Password changed. Your other sessions have ended and your API tokens are revoked.",
    "session": "That session has ended.",
    "token": "That token is revoked.",
}


@router.get("")
def account(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    current: UserSessionDep,
    done: str = "",
) -> Response:
    return _page(request, session, user, current, notice=NOTICES.get(done))


@router.post("/password", dependencies=[CsrfChecked])
def change_password(
    request: Request,
    session: SessionDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    user: CurrentUser,
    current: UserSessionDep,
    current_password: Password = "",
    new_password: Password = "",
) -> Response:
    try:
        users.change_password(
            session=session,
            throttle=throttle,
            ip=ip,
            user=user,
            current=current_password,
            new=new_password,
            keep=current,
        )
    except Throttled as exc:
        return _page(
            request,
            session,
            user,
            current,
            status_code=429,
            headers=exc.headers,
            password_error=str(exc),
        )
    except users.PasswordChangeError as exc:
        return _page(request, session, user, current, status_code=422, password_error=str(exc))
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/sessions/{session_id}/end", dependencies=[CsrfChecked])
def end_session(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    current: UserSessionDep,
    session_id: RowId,
) -> Response:
    if not credentials.end_session(session=session, user=user, session_id=session_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "You have no such session.")
    if current is not None and current.id == session_id:
        request.session.clear()
        return RedirectResponse("/", status_code=303)
    return RedirectResponse("/account?done=session", status_code=303)


@router.post("/logout-everywhere", dependencies=[CsrfChecked])
def log_out_everywhere(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """End every session of this user, this one too, and revoke every API token."""
    credentials.end_everywhere(session=session, user=user)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.post("/tokens", dependencies=[CsrfChecked])
def create_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    current: UserSessionDep,
    name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new API token, shown on this page once and never again."""
    _, token = credentials.issue_token(
        session=session, user=user, name=name, max_age=settings.session_max_age
    )
    return _page(request, session, user, current, new_token=token)


@router.post("/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(session: SessionDep, user: CurrentUser, token_id: RowId) -> Response:
    if not credentials.revoke_token(session=session, user=user, token_id=token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "You have no such token.")
    return RedirectResponse("/account?done=token", status_code=303)
