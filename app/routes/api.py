"""The JSON API under /api, documented at /docs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from app import credentials, movies, reviews, scoring, users
from app.deps import (
    ApiUser,
    CatalogQueryDep,
    ClassifierDep,
    ClientIp,
    ModelVersion,
    MovieDep,
    OptionalApiUser,
    ReviewDep,
    ReviewQueryDep,
    ReviewWriterDep,
    RowId,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    UserSessionDep,
)
from app.models import Review
from app.routes import found_or_404
from app.schemas import (
    ApiTokenPublic,
    MovieDetail,
    MovieSummary,
    Page,
    Problem,
    ReviewIn,
    ReviewPublic,
    SentimentRequest,
    SentimentResult,
    StatusPublic,
    Token,
    UserText,
)
from app.sentiment.classifier import analyze

router = APIRouter(prefix="/api", tags=["api"])

_ERRORS = {
    400: "The body could not be parsed (not JSON, or not form data).",
    401: "Not signed in: send 'Authorization: Bearer <token>' from POST /api/token.",
    403: "Signed in, but not allowed to do this (only a review's author may change it).",
    404: "No such movie or review (ids that name no row included).",
    409: "The review changed or went away meanwhile: fetch it again.",
    422: "The input is not valid: a field missing, too long, blank, or holding text no "
    "database can store (NUL, unpaired surrogates).",
    429: "Too many requests: wait as long as Retry-After says.",
    503: "No trained model yet, or the model is busy or restarting: try again after "
    "Retry-After seconds.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an operation, each `{"detail": ...}` (a Problem)."""
    documented: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem, "description": _ERRORS[code]} for code in codes
    }
    for code in {429, 503} & set(codes):
        documented[code]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    if 422 in codes:  # a body over the limit is refused before it is read, in plain text
        documented[413] = {
            "description": "The request body is larger than 1 MiB.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    return documented


def _scored(session: Session, review: Review, version: str | None) -> ReviewPublic:
    score = reviews.current_score(session=session, review_id=review.id, version=version)
    return ReviewPublic.model_validate(reviews.ScoredReview(review, score))


@router.get("/movies", responses=errors(422))
def list_movies(
    session: SessionDep,
    settings: SettingsDep,
    version: ModelVersion,
    query: CatalogQueryDep,
) -> Page[MovieSummary]:
    """Search and list the movies that have reviews, with their sentiment."""
    result = movies.search_catalog(
        session=session, version=version, query=query, page_size=settings.page_size
    )
    return Page[MovieSummary].model_validate(result)


@router.get("/movies/{movie_id}", responses=errors(404, 422))
def get_movie(session: SessionDep, movie: MovieDep, version: ModelVersion) -> MovieDetail:
    """A movie with its aggregate sentiment, score histogram and highlights."""
    overview = movies.movie_overview(session=session, movie=movie, version=version)
    return MovieDetail.model_validate(overview)


@router.get("/movies/{movie_id}/reviews", responses=errors(404, 422))
def movie_reviews(
    session: SessionDep,
    movie: MovieDep,
    version: ModelVersion,
    query: ReviewQueryDep,
) -> Page[ReviewPublic]:
    """A movie's reviews with their current score."""
    listing = reviews.list_reviews(session=session, version=version, movie_id=movie.id, query=query)
    return Page[ReviewPublic].model_validate(listing)


@router.get("/reviews/{review_id}", responses=errors(404, 422))
def get_review(session: SessionDep, review: ReviewDep, version: ModelVersion) -> ReviewPublic:
    """One review with its current score."""
    return _scored(session, review, version)


@router.post(
    "/movies/{movie_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 404, 422, 429),
)
def post_review(
    writer: ReviewWriterDep, movie: MovieDep, user: ApiUser, payload: ReviewIn
) -> ReviewPublic:
    """Post a review; it is saved, then scored."""
    return ReviewPublic.model_validate(writer.post(movie=movie, user=user, body=payload.body))


@router.patch("/reviews/{review_id}", responses=errors(400, 401, 403, 404, 409, 422))
def edit_review(
    writer: ReviewWriterDep, review: ReviewDep, user: ApiUser, payload: ReviewIn
) -> ReviewPublic:
    """Rewrite your own review; it is scored again."""
    return ReviewPublic.model_validate(writer.edit(review=review, user=user, body=payload.body))


@router.delete(
    "/reviews/{review_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 409, 422),
)
def delete_review(session: SessionDep, review: ReviewDep, user: ApiUser) -> Response:
    """Delete your own review."""
    reviews.delete_review(session=session, review=review, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sentiment", responses=errors(400, 422, 429, 503))
def score_text(
    settings: SettingsDep,
    classifier: ClassifierDep,
    user: OptionalApiUser,
    throttle: ThrottleDep,
    ip: ClientIp,
    payload: SentimentRequest,
) -> SentimentResult:
    """Score any text with the current model, as a whole and sentence by sentence.

    Anonymous callers are throttled per IP address and get a shorter text limit."""
    if user is None:
        throttle.anonymous_sentiment(ip=ip)
    max_chars = settings.max_review_chars if user else settings.anonymous_max_sentiment_chars
    if classifier is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "No trained model yet: run `textflix train`."
        )
    if len(payload.text) > max_chars:
        hint = "" if user else " without signing in; with a token, longer ones"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"Texts can be at most {max_chars:,} characters{hint}.",
        )
    [analysis] = analyze(classifier, [payload.text])
    return SentimentResult.model_validate(analysis)


@router.post("/token", responses=errors(400, 401, 422, 429))
def issue_token(
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    username: Annotated[UserText, Form(max_length=64)],
    password: Annotated[UserText, Form(max_length=1024)],
    name: Annotated[UserText, Form(max_length=64, description="What the token is for")] = "",
) -> Token:
    """Trade a username and password for a bearer token (OAuth2 password form fields).

    Failed attempts are throttled per IP address and per account, as the log-in page is."""
    user = users.log_in(
        session=session, throttle=throttle, ip=ip, username=username, password=password
    )
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Wrong username or password.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    _, token = credentials.issue_token(
        session=session, user=user, name=name, max_age=settings.session_max_age
    )
    return Token(access_token=token, expires_in=settings.session_max_age)


@router.get("/tokens", responses=errors(401))
def list_tokens(session: SessionDep, user: ApiUser) -> list[ApiTokenPublic]:
    """Your live API tokens (never the tokens themselves)."""
    return [
        ApiTokenPublic.model_validate(row)
        for row in credentials.list_tokens(session=session, user=user)
    ]


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 404, 422)
)
def revoke_token(
    session: SessionDep,
    user: ApiUser,
    token_id: RowId,
) -> Response:
    """Revoke one of your API tokens; it is refused from then on."""
    found_or_404(credentials.revoke_token(session=session, user=user, token_id=token_id), "token")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401))
def logout(
    request: Request, session: SessionDep, user: ApiUser, user_session: UserSessionDep
) -> Response:
    """End the credential this call carries: its bearer token, or the cookie's session."""
    token = request.state.api_token
    if token is not None:
        credentials.revoke_token(session=session, user=user, token_id=token.id)
    elif user_session is not None:
        credentials.end_session(session=session, user=user, session_id=user_session.id)
        request.session.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/status")
def get_status(session: SessionDep, version: ModelVersion) -> StatusPublic:
    """The model in use and the progress of its background scoring."""
    job = scoring.latest_job(session=session, version=version) if version else None
    pending = scoring.count_unscored(session=session, version=version) if version else None
    return StatusPublic(
        model_version=version,
        unscored_reviews=pending,
        job_status=job.status if job else None,
        job_done=job.done if job else None,
        job_total=job.total if job else None,
    )
