"""The forms that post, edit and delete reviews; htmx gets partials, plain forms a redirect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
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
from app.models import Movie, Review
from app.templating import is_htmx, render

router = APIRouter(dependencies=[CsrfChecked], include_in_schema=False)


def _back_to(review: Review) -> Response:
    """A plain form's answer: the review, on its movie's page."""
    return RedirectResponse(f"/movies/{review.movie_id}#review-{review.id}", status_code=303)


@dataclass(frozen=True)
class Reply:
    """How a review form is answered: htmx gets the partial that changed (with the movie's new
    figures where they changed), a plain form a redirect back to the movie's page."""

    request: Request
    session: SessionDep
    version: ModelVersion

    def saved(self, scored: reviews.ScoredReview, *, status_code: int) -> Response:
        review = scored.review
        if not is_htmx(self.request):
            return _back_to(review)
        context = {
            "item": scored,
            "movie": review.movie,
            "oob_summary": True,
            **self._summary(review.movie),
        }
        return render(self.request, "_review.html", context, status_code=status_code)

    def flagged(self, scored: reviews.ScoredReview) -> Response:
        if not is_htmx(self.request):
            return _back_to(scored.review)
        context = {"item": scored, "flagged": {scored.review.id}}
        return render(self.request, "_review.html", context)

    def deleted(self, movie: Movie) -> Response:
        if not is_htmx(self.request):
            return RedirectResponse(f"/movies/{movie.id}", status_code=303)
        context = {"movie": movie, **self._summary(movie)}
        return render(self.request, "_review_deleted.html", context)

    def _summary(self, movie: Movie) -> dict[str, object]:
        overview = movies.movie_overview(session=self.session, movie=movie, version=self.version)
        return {"overview": overview}


ReplyDep = Annotated[Reply, Depends()]


@dataclass(frozen=True)
class Submission:
    """A review form sent by its signed-in author: saved (and answered as `Reply` does), or,
    when the service refuses it, the form again (422) with the draft and the reason, so that
    nothing typed is lost."""

    reply: ReplyDep
    writer: ReviewWriterDep
    user: CurrentUser
    form: ReviewFormDep

    def post(self, movie: Movie) -> Response:
        # Refused, the whole form replaces the one htmx posted from.
        retarget = {"HX-Retarget": "#review-form", "HX-Reswap": "outerHTML"}
        try:
            scored = self.writer.post(movie=movie, user=self.user, body=self.form.body)
        except reviews.ReviewError as exc:
            return self._refused("_review_form.html", {"movie": movie}, exc, headers=retarget)
        return self.reply.saved(scored, status_code=201)

    def edit(self, review: Review) -> Response:
        try:
            scored = self.writer.edit(review=review, user=self.user, body=self.form.body)
        except reviews.ReviewError as exc:
            return self._refused("_review_edit.html", {"review": review}, exc)
        return self.reply.saved(scored, status_code=200)

    def _refused(
        self,
        template: str,
        context: dict[str, object],
        error: reviews.ReviewError,
        headers: dict[str, str] | None = None,
    ) -> Response:
        context = {"draft": self.form.body, **context, "error": str(error)}
        return render(self.reply.request, template, context, status_code=422, headers=headers)


SubmissionDep = Annotated[Submission, Depends()]


@router.post("/movies/{movie_id}/reviews")
def post_review(submission: SubmissionDep, movie: MovieDep) -> Response:
    return submission.post(movie)


@router.post("/reviews/{review_id}/feedback")
def flag_wrong(reply: ReplyDep, review: ReviewDep, user: CurrentUser) -> Response:
    """A reader says the model's verdict on this review is wrong."""
    score = reviews.current_score(session=reply.session, review_id=review.id, version=reply.version)
    if score is None:
        raise HTTPException(409, "This review has no sentiment to dispute yet.")
    labeling.flag_wrong(session=reply.session, review=review, user=user, score=score)
    return reply.flagged(reviews.ScoredReview(review, score))


@router.get("/reviews/{review_id}/edit")
def edit_form(request: Request, review: ReviewDep, user: CurrentUser) -> Response:
    reviews.ensure_can_change(review, user)
    context = {"review": review, "draft": review.body, "error": None}
    return render(
        request, "review_edit.html", context, partials={f"review-{review.id}": "_review_edit.html"}
    )


@router.post("/reviews/{review_id}/edit")
def edit_review(submission: SubmissionDep, review: ReviewDep) -> Response:
    return submission.edit(review)


@router.post("/reviews/{review_id}/delete")
def delete_review(reply: ReplyDep, review: ReviewDep, user: CurrentUser) -> Response:
    movie = review.movie
    reviews.delete_review(session=reply.session, review=review, user=user)
    return reply.deleted(movie)
