"""Accounts: sign up and authenticate."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import User
from app.schemas import USERNAME_PATTERN, storable_text
from app.security import hash_password, verify_password

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class SignupError(ValueError):
    """A sign-up that cannot go ahead; the message is safe to show."""


class LoginError(ValueError):
    """Credentials that cannot even be looked up; the message is safe to show."""


def find_user(*, session: Session, username: str) -> User | None:
    """The user with this name, ignoring case."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def sign_up(*, session: Session, username: str, password: str, is_admin: bool = False) -> User:
    """Create an account with a hashed password."""
    username = username.strip()
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise SignupError("Usernames are 3-32 letters, digits, dots, dashes or underscores.")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise SignupError(f"Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters long.")
    try:
        storable_text(password)
    except ValueError as exc:
        raise SignupError(str(exc)) from exc
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
