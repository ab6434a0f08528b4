"""Pages people browse, and the htmx partials those pages are built from."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from starlette.responses import Response

from app import labeling, movies, reviews, scoring
from app.deps import (
    CatalogQueryDep,
    ModelVersion,
    MovieDep,
    OptionalUser,
    PagingDep,
    ReviewDep,
    ReviewQueryDep,
    SessionDep,
    SettingsDep,
)
from app.routes import page_router
from app.schemas import CatalogSort, ReviewQuery, ReviewSort, SentimentFilter, UserText
from app.templating import render
from app.users import find_user

router = page_router()


@router.get("/")
def catalog(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    version: ModelVersion,
    query: CatalogQueryDep,
) -> Response:
    results = movies.search_catalog(
        session=session, version=version, query=query, page_size=settings.page_size
    )
    context = {
        "results": results,
        "genres": movies.genres_in_catalog(session=session),
        "filters": {"q": query.q, "genre": query.genre, "sort": query.sort.value},
        "sorts": CatalogSort,
    }
    return render(request, "catalog.html", context, partials={"catalog": "_catalog.html"})


@router.get("/movies/{movie_id}")
def movie_page(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    movie: MovieDep,
    version: ModelVersion,
    query: ReviewQueryDep,
    accuracy_mode: Annotated[bool, Query(alias="accuracy")] = False,
) -> Response:
    listing = reviews.list_reviews(session=session, version=version, movie_id=movie.id, query=query)
    overview = movies.movie_overview(session=session, movie=movie, version=version)
    if version is not None:
        scoring.put_first_if_unscored(
            session=session, movie=movie, complete=overview.sentiment.complete
        )
    context = {
        "overview": overview,
        "movie": movie,
        "listing": listing,
        "review_filters": {
            "sort": query.sort.value,
            "sentiment": query.sentiment.value,
            "accuracy": "1" if accuracy_mode else "",
        },
        "accuracy_mode": accuracy_mode,
        "flagged": labeling.flagged_by(
            session=session, user=user, review_ids=[i.review.id for i in listing.items]
        ),
        "review_sorts": ReviewSort,
        "sentiment_filters": SentimentFilter,
        "draft": "",
        "error": None,
    }
    return render(request, "movie.html", context, partials={"reviews": "_reviews.html"})


@router.get("/reviews/{review_id}")
def review_page(
    request: Request, session: SessionDep, review: ReviewDep, version: ModelVersion
) -> Response:
    score = reviews.current_score(session=session, review_id=review.id, version=version)
    context = {"item": reviews.ScoredReview(review, score), "movie": review.movie}
    return render(request, "review.html", context)


@router.get("/users/{username}")
def user_page(
    request: Request,
    session: SessionDep,
    username: UserText,
    version: ModelVersion,
    paging: PagingDep,
) -> Response:
    user = find_user(session=session, username=username)
    if user is None:
        raise HTTPException(404, f"There is no user called {username!r}.")
    query = ReviewQuery(page=paging.page)
    listing = reviews.list_reviews(session=session, version=version, user_id=user.id, query=query)
    context = {"profile": user, "listing": listing}
    return render(request, "user.html", context, partials={"reviews": "_user_reviews.html"})


@router.get("/status")
def scoring_status(
    request: Request, session: SessionDep, version: ModelVersion, user: OptionalUser
) -> Response:
    """The background scoring progress, polled by the banner in base.html."""
    runner = request.app.state.promotions
    progress = {
        job.model_version: scoring.progress(session=session, version=job.model_version)
        for job in scoring.running_jobs(session=session, version=version)
    }
    context = {
        # A job whose worker was killed stays "running"; what is left to score is what counts.
        "jobs": [job for job in progress.values() if job.remaining],
        "version": version,
        # Started from this site: whether it ends in a promotion (else it is for comparing).
        "runner_version": runner.running,
        "runner_promotes": runner.make_current,
    }
    return render(request, "_status.html", context)
