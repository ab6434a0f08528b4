"""Sign up, log in and log out; log-in and sign-up are throttled (app/throttle.py)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app import credentials, users
from app.deps import (
    ClientIp,
    CsrfChecked,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    UserSessionDep,
    get_optional_user,
)
from app.models import User, UserSession
from app.security import SESSION_KEY
from app.templating import render
from app.throttle import Throttled

router = APIRouter(dependencies=[Depends(get_optional_user)], include_in_schema=False)

Username = Annotated[str, Form(max_length=64)]
Password = Annotated[str, Form(max_length=1024)]
Next = Annotated[str, Form(max_length=2000)]

LOGIN_PARTIALS = {"login-form": "_login_form.html"}
SIGNUP_PARTIALS = {"signup-form": "_signup_form.html"}


def _safe_next(target: str) -> str:
    """`target` if it is a path on this site, else the home page (no open redirects)."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _signed_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    previous: UserSession | None,
    user: User,
    target: str,
) -> Response:
    # A fresh session, cookie and CSRF token on sign-in, so a token planted before it is
    # useless; the browser's previous session, if any, ends.
    if previous is not None:
        credentials.end_session(session=session, user=previous.user, session_id=previous.id)
    request.session.clear()
    request.session[SESSION_KEY] = credentials.start_session(
        session=session,
        user=user,
        user_agent=request.headers.get("user-agent", ""),
        max_age=settings.session_max_age,
    )
    return RedirectResponse(_safe_next(target), status_code=303)


def _refused(
    request: Request, page: str, partials: dict[str, str], next: str, username: str, exc: Exception
) -> Response:
    """The form again, saying why it was refused: 429 (with Retry-After) over a throttle, else
    422 for input it cannot take."""
    throttled = isinstance(exc, Throttled)
    return _form(
        request,
        page,
        partials,
        next=next,
        username=username,
        error=str(exc),
        status_code=429 if throttled else 422,
        headers=exc.headers if isinstance(exc, Throttled) else None,
    )


def _form(
    request: Request,
    page: str,
    partials: dict[str, str],
    *,
    next: str,
    username: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form page (or, for htmx, the form alone), with an error and its status if any."""
    context: dict[str, Any] = {"next": _safe_next(next), "error": error, "username": username}
    return render(
        request, page, context, partials=partials, status_code=status_code, headers=headers
    )


@router.get("/signup")
def signup_form(request: Request, next: str = "/") -> Response:
    return _form(request, "signup.html", SIGNUP_PARTIALS, next=next, username="")


@router.post("/signup", dependencies=[CsrfChecked])
def signup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    previous: UserSessionDep,
    username: Username = "",
    password: Password = "",
    next: Next = "/",
) -> Response:
    try:
        throttle.sign_up(ip=ip)
        user = users.sign_up(session=session, username=username, password=password)
    except (Throttled, users.SignupError) as exc:
        return _refused(request, "signup.html", SIGNUP_PARTIALS, next, username, exc)
    return _signed_in(request, session, settings, previous, user, next)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _form(request, "login.html", LOGIN_PARTIALS, next=next, username="")


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    previous: UserSessionDep,
    username: Username = "",
    password: Password = "",
    next: Next = "/",
) -> Response:
    try:
        user = users.log_in(
            session=session, throttle=throttle, ip=ip, username=username, password=password
        )
    except (Throttled, users.LoginError) as exc:
        return _refused(request, "login.html", LOGIN_PARTIALS, next, username, exc)
    if user is None:
        error = "Wrong username or password."
        return _form(
            request,
            "login.html",
            LOGIN_PARTIALS,
            next=next,
            username=username,
            error=error,
            status_code=401,
        )
    return _signed_in(request, session, settings, previous, user, next)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep, user_session: UserSessionDep) -> Response:
    """End this browser's session on the server, so a copy of its cookie is refused too."""
    if user_session is not None:
        credentials.end_session(session=session, user=user_session.user, session_id=user_session.id)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
