"""Sessions and API tokens: the credentials a signed-in user holds, kept server-side so they end.

A session cookie or a bearer token is only a random key; the server keeps its SHA-256 in
`user_sessions` or `api_tokens`, and a credential is good while its row says so. Logging out
deletes the session's row, so a copy of the old cookie is refused afterwards; a password
change or "log out everywhere" ends every session and revokes every token at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, Update, delete, select, update
from sqlalchemy.orm import Session, joinedload

from app.db import is_row_id
from app.models import ApiToken, User, UserSession, utcnow
from app.security import new_secret, secret_digest

TOKEN_PREFIX = "tfx_"  # noqa: S105 (a public marker, not a secret)
"""Marks Textflix tokens, so secret scanners and people can tell what a leaked string is."""

TOUCH_EVERY = timedelta(minutes=5)
"""How stale last_seen_at / last_used_at may get: one write per credential per 5 minutes, not
one per request."""

MAX_USER_AGENT = 200


def _aware(moment: datetime) -> datetime:
    """`moment` in UTC; SQLite hands timestamps back without their zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _label(name: str) -> str:
    """A token's name as stored: printable characters only (no NUL, no lone surrogates)."""
    return "".join(char for char in name if char.isprintable()).strip()[:64]


def _change_own(session: Session, row_id: int, statement: Delete | Update) -> bool:
    """Run and commit a DELETE or UPDATE of the user's own row `row_id`; whether it matched
    one. An id outside the column's range matches none, without asking the database."""
    if not is_row_id(row_id):
        return False
    changed = cast(CursorResult[Any], session.execute(statement)).rowcount
    session.commit()
    return bool(changed)


Credential = TypeVar("Credential", UserSession, ApiToken)


def _find_live(
    session: Session,
    table: type[Credential],
    secret_matches: ColumnElement[bool],
    live: ColumnElement[bool],
    used_column: Literal["last_seen_at", "last_used_at"],
) -> Credential | None:
    """The live credential the secret matches, its user loaded, with its use recorded."""
    found = session.scalar(
        select(table).options(joinedload(table.user)).where(secret_matches, live)
    )
    if found is not None:
        _record_use(session, found, used_column)
    return found


def _list_live(
    session: Session,
    table: type[Credential],
    user: User,
    live: ColumnElement[bool],
    newest: Literal["last_seen_at", "created_at"],
) -> list[Credential]:
    """The user's live credentials, the highest `newest` first."""
    order = getattr(table, newest)
    return list(
        session.scalars(
            select(table)
            .where(table.user_id == user.id, live)
            .order_by(order.desc(), table.id.desc())
        )
    )


def _record_use(
    session: Session, row: UserSession | ApiToken, column: Literal["last_seen_at", "last_used_at"]
) -> None:
    """Record that `row` was used now, in `column`, unless it was within TOUCH_EVERY. A plain
    UPDATE, so a row ended meanwhile by another request (a log-out) is simply not matched
    rather than an ORM stale-data error."""
    now = utcnow()
    last: datetime | None = getattr(row, column)
    if last is not None and now - _aware(last) < TOUCH_EVERY:
        return
    table = type(row)
    session.execute(
        update(table)
        .where(table.id == row.id)
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    session.commit()
    setattr(row, column, now)


def _live_session(now: datetime) -> ColumnElement[bool]:
    return UserSession.expires_at > now


def _live_token(now: datetime) -> ColumnElement[bool]:
    return ApiToken.revoked_at.is_(None) & (ApiToken.expires_at > now)


def start_session(*, session: Session, user: User, user_agent: str, max_age: int) -> str:
    """Open a session for `user` and return its key, for the cookie; expired ones are swept."""
    now = utcnow()
    session.execute(
        delete(UserSession)
        .where(UserSession.user_id == user.id, UserSession.expires_at <= now)
        # Compared in SQL only: SQLite's timestamps come back without a zone.
        .execution_options(synchronize_session=False)
    )
    key = new_secret()
    session.add(
        UserSession(
            key_hash=secret_digest(key),
            user_id=user.id,
            user_agent=user_agent[:MAX_USER_AGENT],
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )
    session.commit()
    return key


def find_session(*, session: Session, key: str) -> UserSession | None:
    """The live session whose key this is (its user loaded), or None if it ended or expired."""
    matches = UserSession.key_hash == secret_digest(key)
    return _find_live(session, UserSession, matches, _live_session(utcnow()), "last_seen_at")


def list_sessions(*, session: Session, user: User) -> list[UserSession]:
    """The user's live sessions, most recently seen first."""
    return _list_live(session, UserSession, user, _live_session(utcnow()), "last_seen_at")


def end_session(*, session: Session, user: User, session_id: int) -> bool:
    """End one of the user's own sessions; False if they have none with this id."""
    ending = delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    return _change_own(session, session_id, ending)


def issue_token(*, session: Session, user: User, name: str, max_age: int) -> tuple[ApiToken, str]:
    """A new API token for `user`: its row, and the token itself (shown once, never stored)."""
    now = utcnow()
    session.execute(
        delete(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    token = new_secret(TOKEN_PREFIX)
    row = ApiToken(
        token_hash=secret_digest(token),
        user_id=user.id,
        name=_label(name) or "API token",
        created_at=now,
        expires_at=now + timedelta(seconds=max_age),
    )
    session.add(row)
    session.commit()
    return row, token


def find_token(*, session: Session, token: str) -> ApiToken | None:
    """The live token row (its user loaded) for a bearer token, or None if revoked or expired."""
    matches = ApiToken.token_hash == secret_digest(token)
    return _find_live(session, ApiToken, matches, _live_token(utcnow()), "last_used_at")


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    """The user's live API tokens, newest first."""
    return _list_live(session, ApiToken, user, _live_token(utcnow()), "created_at")


def revoke_token(*, session: Session, user: User, token_id: int) -> bool:
    """Revoke one of the user's own live tokens; False if they have no such token."""
    revoking = (
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return _change_own(session, token_id, revoking)


def end_everywhere(*, session: Session, user: User, keep: UserSession | None = None) -> None:
    """End all the user's sessions but `keep`, and revoke all their tokens, in one commit."""
    ending = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        ending = ending.where(UserSession.id != keep.id)
    session.execute(ending)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
