"""The forms that post, edit and delete reviews; htmx gets partials, plain forms a redirect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import labeling, movies, reviews
from app.deps import (
    ClassifierDep,
    CsrfChecked,
    CurrentUser,
    ModelVersion,
    MovieDep,
    ReviewDep,
    SessionDep,
    SettingsDep,
)
from app.models import Movie, Review
from app.sentiment.classifier import Classifier
from app.templating import is_htmx, render

router = APIRouter(dependencies=[CsrfChecked], include_in_schema=False)

# The form field is capped well above the review limit so that an over-long review gets the
# friendly message from the service rather than a bare validation error.
ReviewBody = Annotated[str, Form(max_length=200_000)]


def _summary_context(session: SessionDep, movie: Movie, version: str | None) -> dict[str, object]:
    return {"overview": movies.movie_overview(session=session, movie=movie, version=version)}


def _scored(
    request: Request,
    session: Session,
    classifier: Classifier | None,
    version: str | None,
    review: Review,
    *,
    status_code: int,
) -> Response:
    """Score a just-saved review; htmx gets it with the movie's new figures, forms a redirect."""
    score = reviews.score_review(session=session, review=review, classifier=classifier)
    if not is_htmx(request):
        return RedirectResponse(f"/movies/{review.movie_id}#review-{review.id}", status_code=303)
    context = {
        "item": reviews.ScoredReview(review, score),
        "movie": review.movie,
        "oob_summary": True,
        **_summary_context(session, review.movie, version),
    }
    return render(request, "_review.html", context, status_code=status_code)


@router.post("/movies/{movie_id}/reviews")
def post_review(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    classifier: ClassifierDep,
    version: ModelVersion,
    movie: MovieDep,
    user: CurrentUser,
    body: ReviewBody = "",
) -> Response:
    try:
        review = reviews.post_review(
            session=session, movie=movie, user=user, body=body, max_chars=settings.max_review_chars
        )
    except reviews.ReviewError as exc:
        context = {"movie": movie, "draft": body, "error": str(exc)}
        headers = {"HX-Retarget": "#review-form", "HX-Reswap": "outerHTML"}
        return render(request, "_review_form.html", context, status_code=422, headers=headers)
    return _scored(request, session, classifier, version, review, status_code=201)


@router.post("/reviews/{review_id}/feedback")
def flag_wrong(
    request: Request,
    session: SessionDep,
    version: ModelVersion,
    review: ReviewDep,
    user: CurrentUser,
) -> Response:
    """A reader says the model's verdict on this review is wrong."""
    score = reviews.current_score(session=session, review_id=review.id, version=version)
    if score is None:
        raise HTTPException(409, "This review has no sentiment to dispute yet.")
    labeling.flag_wrong(session=session, review=review, user=user, score=score)
    if not is_htmx(request):
        return RedirectResponse(f"/movies/{review.movie_id}#review-{review.id}", status_code=303)
    context = {"item": reviews.ScoredReview(review, score), "flagged": {review.id}}
    return render(request, "_review.html", context)


@router.get("/reviews/{review_id}/edit")
def edit_form(request: Request, review: ReviewDep, user: CurrentUser) -> Response:
    reviews.ensure_can_change(review, user)
    context = {"review": review, "draft": review.body, "error": None}
    return render(
        request, "review_edit.html", context, partials={f"review-{review.id}": "_review_edit.html"}
    )


@router.post("/reviews/{review_id}/edit")
def edit_review(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    classifier: ClassifierDep,
    version: ModelVersion,
    review: ReviewDep,
    user: CurrentUser,
    body: ReviewBody = "",
) -> Response:
    try:
        reviews.edit_review(
            session=session,
            review=review,
            user=user,
            body=body,
            max_chars=settings.max_review_chars,
        )
    except reviews.ReviewError as exc:
        context = {"review": review, "draft": body, "error": str(exc)}
        return render(request, "_review_edit.html", context, status_code=422)
    return _scored(request, session, classifier, version, review, status_code=200)


@router.post("/reviews/{review_id}/delete")
def delete_review(
    request: Request,
    session: SessionDep,
    version: ModelVersion,
    review: ReviewDep,
    user: CurrentUser,
) -> Response:
    movie = review.movie
    reviews.delete_review(session=session, review=review, user=user)
    if not is_htmx(request):
        return RedirectResponse(f"/movies/{movie.id}", status_code=303)
    context = {"movie": movie, **_summary_context(session, movie, version)}
    return render(request, "_review_deleted.html", context)
