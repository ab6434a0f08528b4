"""Headers every response carries: security headers (from the `secure` library), and an Allow
that agrees with the routes, on OPTIONS and on every 405."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from fastapi.routing import iter_route_contexts
from secure import (
    ContentSecurityPolicy,
    ReferrerPolicy,
    Secure,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
)
from secure.middleware import SecureASGIMiddleware
from starlette.routing import BaseRoute, Mount, compile_path
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SELF = "'self'"
NONE = "'none'"
# FastAPI's interactive docs load Swagger UI / ReDoc from this CDN and start it inline.
DOCS_CDN = "https://cdn.jsdelivr.net"


def _policy(csp: ContentSecurityPolicy, *, https: bool) -> Secure:
    return Secure(
        csp=csp.frame_ancestors(NONE).base_uri(SELF).form_action(SELF).object_src(NONE),
        xfo=XFrameOptions().deny(),
        xcto=XContentTypeOptions().nosniff(),
        referrer=ReferrerPolicy().strict_origin_when_cross_origin(),
        hsts=StrictTransportSecurity().max_age(31_536_000) if https else None,
    )


def site_policy(*, https: bool = False) -> Secure:
    """The site's pages: scripts, styles and everything else from this origin only; no inline
    script, style or event handler anywhere (templates keep them in static/)."""
    csp = (
        ContentSecurityPolicy()
        .default_src(SELF)
        .script_src(SELF)
        .style_src(SELF)
        .img_src(SELF, "data:")
        .connect_src(SELF)
    )
    return _policy(csp, https=https)


def docs_policy(*, https: bool = False) -> Secure:
    """/docs and /redoc only: FastAPI's pages load their scripts from a CDN and start inline;
    they show no user content."""
    csp = (
        ContentSecurityPolicy()
        .default_src(SELF)
        .script_src(SELF, DOCS_CDN, "'unsafe-inline'")
        .style_src(SELF, DOCS_CDN, "'unsafe-inline'")
        .img_src(SELF, "data:", "https://fastapi.tiangolo.com")
        .worker_src(SELF, "blob:")
        .connect_src(SELF)
    )
    return _policy(csp, https=https)


class SecurityHeaders:
    """Adds the site's security headers to every response; the docs pages get their own CSP."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str], https: bool) -> None:
        # secure's middleware types ASGI messages as plain objects; it is an ASGI app all the same.
        self.site = cast(ASGIApp, SecureASGIMiddleware(app, secure=site_policy(https=https)))
        self.docs = cast(ASGIApp, SecureASGIMiddleware(app, secure=docs_policy(https=https)))
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        docs = scope["type"] == "http" and scope["path"] in self.docs_paths
        await (self.docs if docs else self.site)(scope, receive, send)


class AllowedMethods:
    """OPTIONS is answered with the methods the path's routes take, and every 405 names the
    same methods in its Allow header (Starlette names only the first matching route's)."""

    def __init__(self, app: ASGIApp, *, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def allowed(self, path: str) -> set[str]:
        """Every method some route at `path` takes; OPTIONS too when any does."""
        if self._table is None:  # built on first use: routers are included after middleware
            self._table = list(_route_table(self.routes()))
        methods = {
            m for regex, route_methods in self._table if regex.match(path) for m in route_methods
        }
        return methods | {"OPTIONS"} if methods else methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope["path"])
            if allowed:
                await _no_content(send, allowed)
                return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.allowed(scope["path"])
                if allowed:
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                    ]
                    message["headers"] = [*headers, (b"allow", _allow(allowed))]
            await send(message)

        await self.app(scope, receive, send_with_allow)


def _route_table(routes: Sequence[BaseRoute]) -> Iterator[tuple[re.Pattern[str], frozenset[str]]]:
    """Each route's path pattern and methods, routers included with their prefixes."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            yield compile_path(route.path + "/{path:path}")[0], frozenset({"GET", "HEAD"})
        elif context.path and context.methods:
            yield compile_path(context.path)[0], frozenset(context.methods)


def _allow(methods: set[str]) -> bytes:
    return ", ".join(sorted(methods)).encode()


async def _no_content(send: Send, allowed: set[str]) -> None:
    headers = [(b"allow", _allow(allowed)), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
