"""The JSON API under /api, documented at /docs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from app import credentials, movies, reviews, scoring, users
from app.deps import (
    ApiUser,
    ClassifierDep,
    ClientIp,
    ModelVersion,
    MovieDep,
    OptionalApiUser,
    ReviewDep,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    UserSessionDep,
)
from app.models import Review, ReviewScore
from app.schemas import (
    ApiTokenPublic,
    CatalogSort,
    Highlight,
    MovieDetail,
    MovieSummary,
    Page,
    ReviewIn,
    ReviewPublic,
    ReviewSort,
    ScorePublic,
    SentencePublic,
    SentimentFilter,
    SentimentRequest,
    SentimentResult,
    StatusPublic,
    Token,
)
from app.sentiment.classifier import analyze

router = APIRouter(prefix="/api", tags=["api"])

PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _score_public(score: ReviewScore | None) -> ScorePublic | None:
    if score is None:
        return None
    return ScorePublic(
        model_version=score.model_version,
        p_positive=score.p_positive,
        label="positive" if score.is_positive else "negative",
        certainty=score.certainty,
    )


def _review_public(review: Review, score: ReviewScore | None) -> ReviewPublic:
    return ReviewPublic(
        id=review.id,
        movie_id=review.movie_id,
        author=review.author_name,
        source=review.source,
        source_ref=review.source_ref,
        body=review.body,
        stars=review.stars,
        gold_label=review.gold_label,
        created_at=review.created_at,
        updated_at=review.updated_at,
        score=_score_public(score),
    )


def _summary(row: movies.MovieRow) -> MovieSummary:
    movie, sentiment = row.movie, row.sentiment
    return MovieSummary(
        id=movie.id,
        imdb_id=movie.imdb_id,
        title=movie.display_title,
        year=movie.year,
        genres=movie.genre_names,
        n_reviews=sentiment.n_reviews,
        n_scored=sentiment.n_scored,
        n_positive=sentiment.n_positive,
        percent_positive=sentiment.percent_positive,
    )


def _highlights(quotes: list[movies.HighlightQuote]) -> list[Highlight]:
    return [
        Highlight(
            review_id=q.review_id,
            text=q.text,
            p_positive=q.p_positive,
            author=q.author,
            created_at=q.created_at,
        )
        for q in quotes
    ]


@router.get("/movies", response_model=Page[MovieSummary])
def list_movies(
    session: SessionDep,
    settings: SettingsDep,
    version: ModelVersion,
    q: Annotated[str, Query(max_length=200)] = "",
    genre: Annotated[str, Query(max_length=64)] = "",
    sort: CatalogSort = CatalogSort.most_reviewed,
    page: PageNumber = 1,
) -> Page[MovieSummary]:
    """Search and list the movies that have reviews, with their sentiment."""
    result = movies.search_catalog(
        session=session,
        version=version,
        query=q,
        genre=genre,
        sort=sort,
        page=page,
        page_size=settings.page_size,
    )
    return Page[MovieSummary](
        items=[_summary(row) for row in result.rows],
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@router.get("/movies/{movie_id}", response_model=MovieDetail)
def get_movie(session: SessionDep, movie: MovieDep, version: ModelVersion) -> MovieDetail:
    """A movie with its aggregate sentiment, score histogram and highlights."""
    overview = movies.movie_overview(session=session, movie=movie, version=version)
    summary = _summary(movies.MovieRow(movie, overview.sentiment))
    return MovieDetail(
        **summary.model_dump(),
        director=movie.director,
        actors=movie.actors,
        runtime=movie.runtime,
        rated=movie.rated,
        score_histogram=overview.histogram,
        positive_highlights=_highlights(overview.positive),
        negative_highlights=_highlights(overview.negative),
        model_version=version,
    )


@router.get("/movies/{movie_id}/reviews", response_model=Page[ReviewPublic])
def movie_reviews(
    session: SessionDep,
    movie: MovieDep,
    version: ModelVersion,
    sort: ReviewSort = ReviewSort.newest,
    sentiment: SentimentFilter = SentimentFilter.all,
    page: PageNumber = 1,
) -> Page[ReviewPublic]:
    """A movie's reviews with their current score."""
    listing = reviews.list_reviews(
        session=session,
        version=version,
        movie_id=movie.id,
        sort=sort,
        sentiment=sentiment,
        page=page,
    )
    return Page[ReviewPublic](
        items=[_review_public(item.review, item.score) for item in listing.items],
        total=listing.total,
        page=listing.page,
        pages=listing.pages,
    )


def _scored(session: Session, review: Review, version: str | None) -> ReviewPublic:
    score = reviews.current_score(session=session, review_id=review.id, version=version)
    return _review_public(review, score)


@router.get("/reviews/{review_id}", response_model=ReviewPublic)
def get_review(session: SessionDep, review: ReviewDep, version: ModelVersion) -> ReviewPublic:
    """One review with its current score."""
    return _scored(session, review, version)


@router.post(
    "/movies/{movie_id}/reviews", response_model=ReviewPublic, status_code=status.HTTP_201_CREATED
)
def post_review(
    session: SessionDep,
    settings: SettingsDep,
    classifier: ClassifierDep,
    version: ModelVersion,
    movie: MovieDep,
    user: ApiUser,
    payload: ReviewIn,
) -> ReviewPublic:
    """Post a review; it is saved, then scored."""
    try:
        review = reviews.post_review(
            session=session,
            movie=movie,
            user=user,
            body=payload.body,
            max_chars=settings.max_review_chars,
        )
    except reviews.ReviewError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    reviews.score_review(session=session, review=review, classifier=classifier)
    return _scored(session, review, version)


@router.patch("/reviews/{review_id}", response_model=ReviewPublic)
def edit_review(
    session: SessionDep,
    settings: SettingsDep,
    classifier: ClassifierDep,
    version: ModelVersion,
    review: ReviewDep,
    user: ApiUser,
    payload: ReviewIn,
) -> ReviewPublic:
    """Rewrite your own review; it is scored again."""
    try:
        reviews.edit_review(
            session=session,
            review=review,
            user=user,
            body=payload.body,
            max_chars=settings.max_review_chars,
        )
    except reviews.ReviewError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except reviews.NotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    reviews.score_review(session=session, review=review, classifier=classifier)
    return _scored(session, review, version)


@router.delete("/reviews/{review_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_review(session: SessionDep, review: ReviewDep, user: ApiUser) -> Response:
    """Delete your own review."""
    try:
        reviews.delete_review(session=session, review=review, user=user)
    except reviews.NotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Over a throttle: try again after the Retry-After header's seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}


@router.post("/sentiment", response_model=SentimentResult, responses=THROTTLED)
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
    prediction = analysis.prediction
    return SentimentResult(
        model_version=classifier.version,
        p_positive=prediction.p_positive,
        label=prediction.label,
        certainty=prediction.certainty,
        sentences=[
            SentencePublic(text=s.text, p_positive=s.p_positive) for s in analysis.sentences
        ],
    )


@router.post("/token", response_model=Token, responses=THROTTLED)
def issue_token(
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    ip: ClientIp,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    name: Annotated[str, Form(max_length=64, description="What the token is for")] = "",
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


@router.get("/tokens", response_model=list[ApiTokenPublic])
def list_tokens(session: SessionDep, user: ApiUser) -> list[ApiTokenPublic]:
    """Your live API tokens (never the tokens themselves)."""
    return [
        ApiTokenPublic.model_validate(row)
        for row in credentials.list_tokens(session=session, user=user)
    ]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    session: SessionDep,
    user: ApiUser,
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """Revoke one of your API tokens; it is refused from then on."""
    if not credentials.revoke_token(session=session, user=user, token_id=token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "You have no such token.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
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


@router.get("/status", response_model=StatusPublic)
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
