"""Throttles against password guessing, sign-up floods and free CPU: the `limits` library.

Counters live in the storage that `rate_limit_storage` names: in this process's memory by
default, or Redis/memcached (``redis://host:6379``, ``memcached://host:11211``) when several
processes serve and must share them. Windows are sliding-window counters, which every one of
those storages supports.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from app.config import Settings


class Throttled(Exception):
    """Over a limit; `retry_after` is whole seconds, the message is safe to show."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """What a 429 answer carries: when to try again."""
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class _Limit:
    item: RateLimitItem
    scope: str
    message: str


class Throttle:
    """The site's limits, each checked against its own key (an IP address or an account)."""

    def __init__(self, settings: Settings) -> None:
        self.storage = _storage(settings.rate_limit_storage)
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._login_per_account = _Limit(
            parse(settings.login_failures_per_account),
            "login-account",
            "Too many failed log-ins for this account",
        )
        self._login_per_ip = _Limit(
            parse(settings.login_failures_per_ip),
            "login-ip",
            "Too many failed log-ins from your network",
        )
        self._signup_per_ip = _Limit(
            parse(settings.signups_per_ip), "signup-ip", "Too many sign-ups from your network"
        )
        self._sentiment_per_ip = _Limit(
            parse(settings.anonymous_sentiment_per_ip),
            "sentiment-ip",
            "Too many texts scored without signing in from your network",
        )

    def check_login(self, *, ip: str, username: str) -> None:
        """Raise Throttled if this IP or this account has failed to log in too often lately."""
        self._check(self._login_per_ip, ip)
        self._check(self._login_per_account, _account(username))

    def login_failed(self, *, ip: str, username: str) -> None:
        """Count a failed log-in against the IP and the account (known or not, alike)."""
        self._limiter.hit(self._login_per_ip.item, self._login_per_ip.scope, ip)
        self._limiter.hit(
            self._login_per_account.item, self._login_per_account.scope, _account(username)
        )

    def sign_up(self, *, ip: str) -> None:
        """Count a sign-up attempt from this IP; raise Throttled past the limit."""
        self._hit(self._signup_per_ip, ip)

    def anonymous_sentiment(self, *, ip: str) -> None:
        """Count a text scored for an anonymous caller; raise Throttled past the limit."""
        self._hit(self._sentiment_per_ip, ip)

    def _check(self, limit: _Limit, key: str) -> None:
        if not self._limiter.test(limit.item, limit.scope, key):
            raise self._throttled(limit, key)

    def _hit(self, limit: _Limit, key: str) -> None:
        if not self._limiter.hit(limit.item, limit.scope, key):
            raise self._throttled(limit, key)

    def _throttled(self, limit: _Limit, key: str) -> Throttled:
        stats = self._limiter.get_window_stats(limit.item, limit.scope, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Throttled(
            f"{limit.message}: try again in {_wait(retry_after)}.", retry_after=retry_after
        )


def _storage(uri: str) -> Storage:
    """The counters' storage, or an error at start-up that says what to fix."""
    try:
        storage = storage_from_string(uri)
    except ConfigurationError as exc:
        raise RuntimeError(f"TEXTFLIX_RATE_LIMIT_STORAGE={uri!r}: {exc}") from exc
    if not isinstance(storage, Storage):
        raise RuntimeError(f"TEXTFLIX_RATE_LIMIT_STORAGE={uri!r}: use a synchronous storage")
    return storage


def _account(username: str) -> str:
    """The account key: names are unique ignoring case, so their guesses count together."""
    return username.strip().lower()


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
