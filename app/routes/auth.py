"""Sign up, log in and log out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app import users
from app.deps import CsrfChecked, SessionDep, get_optional_user
from app.templating import render

router = APIRouter(dependencies=[Depends(get_optional_user)], include_in_schema=False)

Username = Annotated[str, Form(max_length=64)]
Password = Annotated[str, Form(max_length=1024)]
Next = Annotated[str, Form(max_length=2000)]


def _safe_next(target: str) -> str:
    """`target` if it is a path on this site, else the home page (no open redirects)."""
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _signed_in(request: Request, user_id: int, target: str) -> Response:
    # A fresh session (and CSRF token) on sign-in, so a token planted before it is useless.
    request.session.clear()
    request.session["user_id"] = user_id
    return RedirectResponse(_safe_next(target), status_code=303)


@router.get("/signup")
def signup_form(request: Request, next: str = "/") -> Response:
    return render(request, "signup.html", {"next": _safe_next(next), "error": None, "username": ""})


@router.post("/signup", dependencies=[CsrfChecked])
def signup(
    request: Request,
    session: SessionDep,
    username: Username = "",
    password: Password = "",
    next: Next = "/",
) -> Response:
    try:
        user = users.sign_up(session=session, username=username, password=password)
    except users.SignupError as exc:
        context = {"next": _safe_next(next), "error": str(exc), "username": username}
        return render(request, "signup.html", context, status_code=422)
    return _signed_in(request, user.id, next)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "username": ""})


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    username: Username = "",
    password: Password = "",
    next: Next = "/",
) -> Response:
    try:
        user = users.authenticate(session=session, username=username, password=password)
    except users.LoginError as exc:
        context = {"next": _safe_next(next), "error": str(exc), "username": username}
        return render(request, "login.html", context, status_code=422)
    if user is None:
        context = {
            "next": _safe_next(next),
            "error": "Wrong username or password.",
            "username": username,
        }
        return render(request, "login.html", context, status_code=401)
    return _signed_in(request, user.id, next)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)
