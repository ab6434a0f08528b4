"""The forms that post, edit and delete reviews; htmx gets partials, plain forms a redirect."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import labeling, movies, reviews
from app.deps import (
    CsrfChecked,
    CurrentUser,
    ModelVersion,
    MovieDep,
    ReviewDep,
    ReviewFormDep,
    ReviewWriterDep,
    SessionDep,
)
from app.models import Movie
from app.templating import is_htmx, render

router = APIRouter(dependencies=[CsrfChecked], include_in_schema=False)


def _summary_context(session: SessionDep, movie: Movie, version: str | None) -> dict[str, object]:
    return {"overview": movies.movie_overview(session=session, movie=movie, version=version)}


def _saved(
    request: Request,
    session: Session,
    version: str | None,
    scored: reviews.ScoredReview,
    *,
    status_code: int,
) -> Response:
    """A just-saved review: htmx gets it with the movie's new figures, forms a redirect."""
    review = scored.review
    if not is_htmx(request):
        return RedirectResponse(f"/movies/{review.movie_id}#review-{review.id}", status_code=303)
    context = {
        "item": scored,
        "movie": review.movie,
        "oob_summary": True,
        **_summary_context(session, review.movie, version),
    }
    return render(request, "_review.html", context, status_code=status_code)


@router.post("/movies/{movie_id}/reviews")
def post_review(
    request: Request,
    writer: ReviewWriterDep,
    version: ModelVersion,
    movie: MovieDep,
    user: CurrentUser,
    form: ReviewFormDep,
) -> Response:
    try:
        scored = writer.post(movie=movie, user=user, body=form.body)
    except reviews.ReviewError as exc:
        context = {"movie": movie, "draft": form.body, "error": str(exc)}
        headers = {"HX-Retarget": "#review-form", "HX-Reswap": "outerHTML"}
        return render(request, "_review_form.html", context, status_code=422, headers=headers)
    return _saved(request, writer.session, version, scored, status_code=201)


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
    writer: ReviewWriterDep,
    version: ModelVersion,
    review: ReviewDep,
    user: CurrentUser,
    form: ReviewFormDep,
) -> Response:
    try:
        scored = writer.edit(review=review, user=user, body=form.body)
    except reviews.ReviewError as exc:
        context = {"review": review, "draft": form.body, "error": str(exc)}
        return render(request, "_review_edit.html", context, status_code=422)
    return _saved(request, writer.session, version, scored, status_code=200)


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
