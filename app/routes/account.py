"""Your account: change your password, see and end your sessions, list and revoke API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request
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
from app.routes import found_or_404, page_router
from app.templating import render
from app.throttle import Throttled

router = page_router("/account")

Password = Annotated[str, Form(max_length=1024)]
PASSWORD_PARTIALS = {"password-form": "_password_form.html"}


@dataclass(frozen=True)
class AccountPage:
    """The signed-in user's account page for this request: their sessions (this browser's
    marked) and their API tokens, with a notice, an error or a new token when there is one."""

    request: Request
    session: SessionDep
    user: CurrentUser
    current: UserSessionDep

    def show(
        self, *, status_code: int = 200, headers: dict[str, str] | None = None, **extra: Any
    ) -> Response:
        context = {
            "sessions": credentials.list_sessions(session=self.session, user=self.user),
            "current_session_id": self.current.id if self.current else None,
            "tokens": credentials.list_tokens(session=self.session, user=self.user),
            "password_error": None,
            "new_token": None,
            "notice": None,
            **extra,
        }
        return render(
            self.request,
            "account.html",
            context,
            partials=PASSWORD_PARTIALS,
            status_code=status_code,
            headers=headers,
        )


AccountPageDep = Annotated[AccountPage, Depends()]


NOTICES = {
    "password": "Password changed. Your other sessions have ended and your API tokens are revoked.",
    "session": "That session has ended.",
    "token": "That token is revoked.",
}


@router.get("")
def account(page: AccountPageDep, done: str = "") -> Response:
    return page.show(notice=NOTICES.get(done))


@router.post("/password", dependencies=[CsrfChecked])
def change_password(
    page: AccountPageDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    current_password: Password = "",
    new_password: Password = "",
) -> Response:
    try:
        users.change_password(
            session=page.session,
            throttle=throttle,
            ip=ip,
            user=page.user,
            current=current_password,
            new=new_password,
            keep=page.current,
        )
    except Throttled as exc:
        return page.show(status_code=429, headers=exc.headers, password_error=str(exc))
    except users.PasswordChangeError as exc:
        return page.show(status_code=422, password_error=str(exc))
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/sessions/{session_id}/end", dependencies=[CsrfChecked])
def end_session(page: AccountPageDep, session_id: RowId) -> Response:
    ended = credentials.end_session(session=page.session, user=page.user, session_id=session_id)
    found_or_404(ended, "session")
    if page.current is not None and page.current.id == session_id:
        page.request.session.clear()
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
    page: AccountPageDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new API token, shown on this page once and never again."""
    _, token = credentials.issue_token(
        session=page.session, user=page.user, name=name, max_age=settings.session_max_age
    )
    return page.show(new_token=token)


@router.post("/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(session: SessionDep, user: CurrentUser, token_id: RowId) -> Response:
    found_or_404(credentials.revoke_token(session=session, user=user, token_id=token_id), "token")
    return RedirectResponse("/account?done=token", status_code=303)
