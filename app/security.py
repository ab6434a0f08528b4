"""Password hashing, CSRF tokens and signed API tokens."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so that a login attempt takes
# as long for an unknown name as for a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")

CSRF_SESSION_KEY = "csrf"
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


class TokenSigner:
    """Bearer tokens for the JSON API: a signed user id that expires."""

    def __init__(self, secret_key: str, *, max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="textflix-api-token")
        self.max_age = max_age

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"uid": user_id})

    def user_id(self, token: str) -> int | None:
        """The user id in a valid, unexpired token; None otherwise."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except BadSignature:
            return None
        uid = data.get("uid") if isinstance(data, dict) else None
        return uid if isinstance(uid, int) else None
