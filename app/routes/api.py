"""The JSON API under /api, documented at /docs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Response, status
from sqlalchemy.orm import Session

from app import movies, reviews, scoring, users
from app.deps import (
    ApiUser,
    ClassifierDep,
    ModelVersion,
    MovieDep,
    ReviewDep,
    SessionDep,
    SettingsDep,
    TokenSignerDep,
)
from app.models import Review
from app.schemas import (
    CatalogSort,
    MovieDetail,
    MovieSummary,
    Page,
    ReviewIn,
    ReviewPublic,
    ReviewSort,
    SentimentFilter,
    SentimentRequest,
    SentimentResult,
    StatusPublic,
    Token,
    UserText,
)
from app.sentiment.classifier import analyze

router = APIRouter(prefix="/api", tags=["api"])

PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _scored(session: Session, review: Review, version: str | None) -> ReviewPublic:
    score = reviews.current_score(session=session, review_id=review.id, version=version)
    return ReviewPublic.model_validate(reviews.ScoredReview(review, score))


@router.get("/movies", response_model=Page[MovieSummary])
def list_movies(
    session: SessionDep,
    settings: SettingsDep,
    version: ModelVersion,
    q: Annotated[UserText, Query(max_length=200)] = "",
    genre: Annotated[UserText, Query(max_length=64)] = "",
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
    return Page[MovieSummary].model_validate(result)


@router.get("/movies/{movie_id}", response_model=MovieDetail)
def get_movie(session: SessionDep, movie: MovieDep, version: ModelVersion) -> MovieDetail:
    """A movie with its aggregate sentiment, score histogram and highlights."""
    overview = movies.movie_overview(session=session, movie=movie, version=version)
    return MovieDetail.model_validate(overview)


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
    return Page[ReviewPublic].model_validate(listing)


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
    review = reviews.post_review(
        session=session,
        movie=movie,
        user=user,
        body=payload.body,
        max_chars=settings.max_review_chars,
    )
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
    reviews.edit_review(
        session=session,
        review=review,
        user=user,
        body=payload.body,
        max_chars=settings.max_review_chars,
    )
    reviews.score_review(session=session, review=review, classifier=classifier)
    return _scored(session, review, version)


@router.delete("/reviews/{review_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_review(session: SessionDep, review: ReviewDep, user: ApiUser) -> Response:
    """Delete your own review."""
    reviews.delete_review(session=session, review=review, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sentiment", response_model=SentimentResult)
def score_text(
    settings: SettingsDep, classifier: ClassifierDep, payload: SentimentRequest
) -> SentimentResult:
    """Score any text with the current model, as a whole and sentence by sentence."""
    if classifier is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "No trained model yet: run `textflix train`."
        )
    if len(payload.text) > settings.max_review_chars:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"Texts can be at most {settings.max_review_chars:,} characters.",
        )
    [analysis] = analyze(classifier, [payload.text])
    return SentimentResult.model_validate(analysis)


@router.post("/token", response_model=Token)
def issue_token(
    session: SessionDep,
    signer: TokenSignerDep,
    username: Annotated[UserText, Form(max_length=64)],
    password: Annotated[UserText, Form(max_length=1024)],
) -> Token:
    """Trade a username and password for a bearer token (OAuth2 password form fields)."""
    user = users.authenticate(session=session, username=username, password=password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Wrong username or password.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=signer.issue(user.id), expires_in=signer.max_age)


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
