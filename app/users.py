"""Accounts: sign up, log in (throttled), change a password."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import credentials
from app.models import User, UserSession
from app.schemas import USERNAME_PATTERN, storable_text
from app.security import hash_password, verify_password
from app.throttle import Throttle

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class SignupError(ValueError):
    """A sign-up that cannot go ahead; the message is safe to show."""


class PasswordChangeError(ValueError):
    """A password change that cannot go ahead; the message is safe to show."""


class LoginError(ValueError):
    """Credentials that cannot even be looked up; the message is safe to show."""


def _password_problem(password: str) -> str | None:
    """What is wrong with `password` as a new password, or None: the one rule for it."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long."
    try:
        storable_text(password)
    except ValueError as exc:
        return str(exc)
    return None


def find_user(*, session: Session, username: str) -> User | None:
    """The user with this name, ignoring case."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def sign_up(*, session: Session, username: str, password: str, is_admin: bool = False) -> User:
    """Create an account with a hashed password."""
    username = username.strip()
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise SignupError("Usernames are 3-32 letters, digits, dots, dashes or underscores.")
    if problem := _password_problem(password):
        raise SignupError(problem)
    if find_user(session=session, username=username) is not None:
        raise SignupError("That username is taken.")
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent sign-up took the name first
        session.rollback()
        raise SignupError("That username is taken.") from exc
    return user


def authenticate(*, session: Session, username: str, password: str) -> User | None:
    """The user whose name and password these are, or None; LoginError for text no account
    can hold."""
    try:
        storable_text(username)
        storable_text(password)
    except ValueError as exc:
        raise LoginError(str(exc)) from exc
    if len(password) > MAX_PASSWORD:
        return None
    user = find_user(session=session, username=username.strip())
    if not verify_password(password, user.password_hash if user else None):
        return None
    return user


def log_in(
    *, session: Session, throttle: Throttle, ip: str, username: str, password: str
) -> User | None:
    """`authenticate` under the log-in throttles: raises Throttled, without checking the
    password, once this IP or this account name has failed too often; counts each failure."""
    throttle.check_login(ip=ip, username=username)
    user = authenticate(session=session, username=username, password=password)
    if user is None:
        throttle.login_failed(ip=ip, username=username)
    return user


def change_password(
    *,
    session: Session,
    throttle: Throttle,
    ip: str,
    user: User,
    current: str,
    new: str,
    keep: UserSession | None,
) -> None:
    """Set a new password, given the current one; every other session ends and every API
    token is revoked, so whoever learnt the old password or stole a token is shut out."""
    if (
        log_in(session=session, throttle=throttle, ip=ip, username=user.username, password=current)
        is None
    ):
        raise PasswordChangeError("Your current password is not right.")
    if problem := _password_problem(new):
        raise PasswordChangeError(problem)
    user.password_hash = hash_password(new)
    credentials.end_everywhere(session=session, user=user, keep=keep)
