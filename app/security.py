"""Password hashing, CSRF tokens, and the random secrets behind sessions and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so that a login attempt takes
# as long for an unknown name as for a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")

CSRF_SESSION_KEY = "csrf"
SESSION_KEY = "sid"
"""Where the signed cookie keeps the key of the server-side session (app/credentials.py)."""
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether `password` matches; constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_valid(session: dict[str, Any], submitted: str | None) -> bool:
    """Whether `submitted` is this session's CSRF token."""
    expected = session.get(CSRF_SESSION_KEY)
    return (
        isinstance(expected, str)
        and submitted is not None
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


def new_secret(prefix: str = "") -> str:
    """A fresh random secret (256 bits) for a session cookie or an API token."""
    return prefix + secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """What is stored of a session key or API token: its SHA-256, hex.

    A fast hash is enough here, unlike for passwords: the secrets are 256 random bits, so
    nothing can be guessed from the digest, and every request checks one.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
