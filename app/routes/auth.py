"""Sign up, log in and log out; log-in and sign-up are throttled (app/throttle.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import Depends, Form, Request
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
)
from app.models import User
from app.routes import page_router
from app.schemas import Credentials
from app.security import SESSION_KEY
from app.templating import render
from app.throttle import Throttled

router = page_router()


@dataclass(frozen=True)
class FormPage:
    """A sign-in form's page, and the partial htmx asks for by its target."""

    template: str
    partials: dict[str, str]


LOGIN = FormPage("login.html", {"login-form": "_login_form.html"})
SIGNUP = FormPage("signup.html", {"signup-form": "_signup_form.html"})


def _safe_next(target: str) -> str:
    """`target` if it is a path on this site, else the home page (no open redirects)."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _form(
    request: Request,
    page: FormPage,
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
        request,
        page.template,
        context,
        partials=page.partials,
        status_code=status_code,
        headers=headers,
    )


@dataclass(frozen=True)
class SignInAttempt:
    """A posted sign-up or log-in form, and the two ways to answer it: the form again with
    what was wrong, or this browser signed in and sent on to `next`."""

    request: Request
    session: SessionDep
    settings: SettingsDep
    previous: UserSessionDep
    form: Annotated[Credentials, Form()]

    def refused(
        self,
        page: FormPage,
        error: str,
        *,
        status_code: int = 422,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The form again, with the username typed and why it was refused."""
        return _form(
            self.request,
            page,
            next=self.form.next,
            username=self.form.username,
            error=error,
            status_code=status_code,
            headers=headers,
        )

    def failed(self, page: FormPage, exc: Exception) -> Response:
        """Refused over `exc`: 429 (with Retry-After) over a throttle, else 422 for input it
        cannot take."""
        if isinstance(exc, Throttled):
            return self.refused(page, str(exc), status_code=429, headers=exc.headers)
        return self.refused(page, str(exc))

    def signed_in(self, user: User) -> Response:
        """Sign `user` in on this browser and send it on to `next`."""
        # A fresh session, cookie and CSRF token on sign-in, so a token planted before it is
        # useless; the browser's previous session, if any, ends.
        if self.previous is not None:
            credentials.end_session(
                session=self.session, user=self.previous.user, session_id=self.previous.id
            )
        self.request.session.clear()
        self.request.session[SESSION_KEY] = credentials.start_session(
            session=self.session,
            user=user,
            user_agent=self.request.headers.get("user-agent", ""),
            max_age=self.settings.session_max_age,
        )
        return RedirectResponse(_safe_next(self.form.next), status_code=303)


SignInDep = Annotated[SignInAttempt, Depends()]


@router.get("/signup")
def signup_form(request: Request, next: str = "/") -> Response:
    return _form(request, SIGNUP, next=next, username="")


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return _form(request, LOGIN, next=next, username="")


@router.post("/signup", dependencies=[CsrfChecked])
def signup(attempt: SignInDep, throttle: ThrottleDep, ip: ClientIp) -> Response:
    form = attempt.form
    try:
        throttle.sign_up(ip=ip)
        user = users.sign_up(
            session=attempt.session, username=form.username, password=form.password
        )
    except (Throttled, users.SignupError) as exc:
        return attempt.failed(SIGNUP, exc)
    return attempt.signed_in(user)


@router.post("/login", dependencies=[CsrfChecked])
def login(attempt: SignInDep, throttle: ThrottleDep, ip: ClientIp) -> Response:
    form = attempt.form
    try:
        user = users.log_in(
            session=attempt.session,
            throttle=throttle,
            ip=ip,
            username=form.username,
            password=form.password,
        )
    except (Throttled, users.LoginError) as exc:
        return attempt.failed(LOGIN, exc)
    if user is None:
        return attempt.refused(LOGIN, "Wrong username or password.", status_code=401)
    return attempt.signed_in(user)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep, user_session: UserSessionDep) -> Response:
    """End this browser's session on the server, so a copy of its cookie is refused too."""
    if user_session is not None:
        credentials.end_session(session=session, user=user_session.user, session_id=user_session.id)
    request.session.clear()
    return RedirectResponse("/", status_code=303)
