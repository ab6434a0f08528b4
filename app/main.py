"""The app factory: settings in, a FastAPI app out; the lifespan loads the model once."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import inspect
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory
from app.deps import LoginRequired
from app.headers import AllowedMethods, SecurityHeaders
from app.lifecycle.comparison import UnscoredVersions
from app.lifecycle.serving import NO_MODEL, InteractiveModels, ModelHolder, load_current
from app.lifecycle.versions import PromotionRunner
from app.limits import BodySizeLimit
from app.reviews import NotAllowed, ReviewError, ReviewGone
from app.routes import account, admin, api, auth, health, how_it_works, pages, reviews
from app.scoring import ScoringWorker
from app.sentiment.classifier import Classifier
from app.sentiment.dynamic_batching import Unavailable
from app.sentiment.registry import ModelNotFoundError
from app.templating import is_htmx, make_templates
from app.throttle import Throttle, Throttled

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
SHUTDOWN_GRACE_SECONDS = 5.0
"""How long a stopping server waits for the scoring batch in flight before handing it back."""


def create_app(
    settings: Settings | None = None,
    *,
    classifier: Classifier | None = None,
    load_model: bool = True,
) -> FastAPI:
    """A Textflix app; tests pass their own settings and (fake or tiny) classifier."""
    settings = settings or Settings()
    secret_key = settings.secret_key
    if not secret_key:
        log.warning("TEXTFLIX_SECRET_KEY is not set: sessions will not survive a restart")
        secret_key = secrets.token_urlsafe(32)
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not inspect(engine).has_table("reviews"):
            raise RuntimeError(
                f"The database at {engine.url!r} has no tables: run `textflix db upgrade`."
            )
        models: ModelHolder = app.state.models
        models.load()
        worker = None
        if settings.score_in_background:
            worker = ScoringWorker(
                session_factory=app.state.session_factory,
                models=models,
                batch_size=settings.scoring_batch_size,
                lease_seconds=settings.claim_timeout_seconds,
            )
            worker.start()
        yield
        # Requests still queued for the model get a 503 now; the pass in flight finishes.
        app.state.interactive.close(timeout=SHUTDOWN_GRACE_SECONDS)
        # Both finish their batch in flight or hand it back, so a stop never waits long.
        app.state.promotions.request_stop()
        if worker is not None:
            worker.stop(timeout=SHUTDOWN_GRACE_SECONDS)
        app.state.promotions.stop(timeout=SHUTDOWN_GRACE_SECONDS)
        engine.dispose()

    app = FastAPI(
        title="Textflix",
        summary="Movie reviews with sentiment from a fine-tuned BERT-family encoder.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    if classifier is not None or not load_model:
        app.state.models = ModelHolder(
            classifier=classifier, problem=None if classifier is not None else NO_MODEL
        )
    else:
        app.state.models = ModelHolder(
            loader=lambda: load_current(settings), marker=settings.models_dir / "CURRENT"
        )
    app.state.interactive = InteractiveModels(app.state.models, settings=settings)
    app.state.promotions = PromotionRunner(
        settings=settings, session_factory=app.state.session_factory
    )
    app.state.templates = make_templates()
    app.state.throttle = Throttle(settings)

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key,
        session_cookie="textflix_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(AllowedMethods, routes=lambda: app.routes)
    docs = [app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url]
    app.add_middleware(
        SecurityHeaders, docs_paths=[p for p in docs if p], https=settings.secure_cookies
    )
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    for module in (pages, how_it_works, reviews, auth, account, admin, api, health):
        app.include_router(module.router)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if not wants_html(request):
            return JSONResponse({"detail": "Sign in first."}, status_code=401)
        target = request.headers.get("HX-Current-URL") or request.url.path
        login = f"/login?next={_local_path(target)}"
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return await _error(request, HTTPException(403, str(exc)))

    @app.exception_handler(Throttled)
    async def throttled(request: Request, exc: Throttled) -> Response:
        return await _error(request, HTTPException(429, str(exc), headers=exc.headers))

    @app.exception_handler(Unavailable)
    async def model_unavailable(request: Request, exc: Unavailable) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        return await _error(request, HTTPException(503, str(exc), headers=headers))

    @app.exception_handler(ModelNotFoundError)
    @app.exception_handler(UnscoredVersions)
    async def missing(request: Request, exc: LookupError | FileNotFoundError) -> Response:
        message = str(exc)[:1].upper() + str(exc)[1:]
        ending = "" if message.endswith((".", "?", "!")) else "."
        return await _error(request, HTTPException(404, message + ending))

    @app.exception_handler(ReviewError)
    async def review_refused(request: Request, exc: ReviewError) -> Response:
        return await _error(request, HTTPException(422, str(exc)))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not wants_html(request):
            return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        detail = " ".join(_describe(error) for error in exc.errors())
        return await _error(request, HTTPException(422, detail))

    @app.exception_handler(ReviewGone)
    async def review_gone(request: Request, exc: ReviewGone) -> Response:
        return await _error(request, HTTPException(404, str(exc)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return await _error(request, exc)

    async def _error(request: Request, exc: HTTPException) -> Response:
        if not wants_html(request) or is_htmx(request):
            return await http_exception_handler(request, exc)
        return app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
            request,
            "error.html",
            {"status_code": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so that even an unpaired surrogate echoed
    back from the request (in a validation error's `input`) makes a valid response."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _describe(error: Any) -> str:
    """One validation error as a sentence for a page (never echoing the input)."""
    field = error["loc"][-1] if error.get("loc") else "input"
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{str(field).capitalize()}: {message}"


def _local_path(url: str) -> str:
    """The path part of `url`, so a login redirect never leads off-site."""
    from urllib.parse import quote, urlparse

    parsed = urlparse(url)
    path = parsed.path if parsed.path.startswith("/") and not parsed.path.startswith("//") else "/"
    return quote(path + (f"?{parsed.query}" if parsed.query else ""), safe="")
