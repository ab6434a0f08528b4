"""Pydantic request and response shapes. ORM tables live in models.py."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AliasChoices, AliasPath, BaseModel, ConfigDict, Field

from app.db import unstorable

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def storable_text(value: str) -> str:
    """`value` unchanged if a database can store it, else a ValueError that says why.

    The one check on every piece of text a user sends: form fields, JSON, query strings, paths.
    """
    if (problem := unstorable(value)) is not None:
        raise ValueError(f"The text {problem}.")
    return value


def has_visible_text(value: str) -> bool:
    """Whether `value` holds anything a reader could see (not only spaces or zero-width marks)."""
    return any(
        not char.isspace() and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in value
    )


UserText = Annotated[str, AfterValidator(storable_text)]
"""Any text a user sends: FastAPI answers 422 when a database could not store it."""


class CatalogSort(StrEnum):
    most_reviewed = "most_reviewed"
    most_positive = "most_positive"
    most_negative = "most_negative"
    alphabetical = "title"


class ReviewSort(StrEnum):
    newest = "newest"
    most_positive = "most_positive"
    most_negative = "most_negative"


class SentimentFilter(StrEnum):
    all = "all"
    positive = "positive"
    negative = "negative"
    unscored = "unscored"


PageNumber = Annotated[int, Field(ge=1, le=100_000)]


class Paging(BaseModel):
    """Which page of a listing to show, as a query parameter."""

    page: PageNumber = 1


class CatalogQuery(BaseModel):
    """The catalog's search, genre filter, order and page, as query parameters."""

    q: UserText = Field("", max_length=200)
    genre: UserText = Field("", max_length=64)
    sort: CatalogSort = CatalogSort.most_reviewed
    page: PageNumber = 1


class ReviewQuery(BaseModel):
    """The order, sentiment filter and page of a movie's reviews, as query parameters."""

    sort: ReviewSort = ReviewSort.newest
    sentiment: SentimentFilter = SentimentFilter.all
    page: PageNumber = 1


class Credentials(BaseModel):
    """The sign-up and log-in form's fields; `next` is where to go once signed in."""

    username: str = Field("", max_length=64)
    password: str = Field("", max_length=1024)
    next: str = Field("/", max_length=2000)


class ReviewForm(BaseModel):
    """The review form's one field. It is capped well above the review limit so that an
    over-long review gets the service's friendly message rather than a bare validation error;
    blank ones and text no database can store are the service's to refuse as well."""

    body: str = Field("", max_length=200_000)


class ReviewIn(BaseModel):
    # Blank and over-long reviews are the service's to refuse (reviews.validate_body).
    body: UserText


class SentimentRequest(BaseModel):
    text: UserText = Field(min_length=1)


class Problem(BaseModel):
    """An error answer: `detail` says what is wrong, as a sentence or (for input that fails
    validation) one entry per field with its location `loc`, message `msg` and `type`."""

    detail: str | list[dict[str, Any]]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 scheme name, not a secret)
    expires_in: int


def _at(*path: str) -> Any:
    """A field read from `path` of the object it is built from (attributes, not keys)."""
    return Field(validation_alias=AliasPath(*path))


class FromAttributes(BaseModel):
    """Response shapes are built from ORM rows and service results with `model_validate`."""

    model_config = ConfigDict(from_attributes=True)


class ApiTokenPublic(FromAttributes):
    """One of your API tokens; the token itself is shown only when it is issued."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime


class ScorePublic(FromAttributes):
    """Built from a ReviewScore, or from a classifier's Analysis."""

    model_version: str
    p_positive: float
    label: str
    certainty: float


class SentencePublic(FromAttributes):
    text: str
    p_positive: float


class SentimentResult(FromAttributes):
    """Built from an Analysis."""

    model_version: str
    p_positive: float = _at("prediction", "p_positive")
    label: str = _at("prediction", "label")
    certainty: float = _at("prediction", "certainty")
    sentences: list[SentencePublic]


class ReviewPublic(FromAttributes):
    """Built from a reviews.ScoredReview: a Review row and its current score."""

    id: int = _at("review", "id")
    movie_id: int = _at("review", "movie_id")
    author: str = _at("review", "author_name")
    source: str = _at("review", "source")
    source_ref: str | None = _at("review", "source_ref")
    body: str = _at("review", "body")
    stars: int | None = _at("review", "stars")
    gold_label: int | None = _at("review", "gold_label")
    created_at: datetime = _at("review", "created_at")
    updated_at: datetime = _at("review", "updated_at")
    score: ScorePublic | None


class MovieSummary(FromAttributes):
    """Built from anything with a Movie row `movie` and its `sentiment` figures."""

    id: int = _at("movie", "id")
    imdb_id: str = _at("movie", "imdb_id")
    title: str = _at("movie", "display_title")
    year: int | None = _at("movie", "year")
    genres: list[str] = _at("movie", "genre_names")
    n_reviews: int = _at("sentiment", "n_reviews")
    n_scored: int = _at("sentiment", "n_scored")
    n_positive: int = _at("sentiment", "n_positive")
    percent_positive: float | None = _at("sentiment", "percent_positive")


class Highlight(FromAttributes):
    review_id: int
    text: str
    p_positive: float
    author: str
    created_at: datetime


class MovieDetail(MovieSummary):
    """Built from a movies.MovieOverview."""

    director: str | None = _at("movie", "director")
    actors: str | None = _at("movie", "actors")
    runtime: str | None = _at("movie", "runtime")
    rated: str | None = _at("movie", "rated")
    score_histogram: list[int] = _at("histogram")
    positive_highlights: list[Highlight] = _at("positive")
    negative_highlights: list[Highlight] = _at("negative")
    model_version: str | None = _at("version")


T = TypeVar("T")


class Page(FromAttributes, Generic[T]):
    """Built from a service's page of results (`items`, `total`, `page`, `pages`)."""

    items: list[T] = Field(validation_alias=AliasChoices("items", "rows"))
    total: int
    page: int
    pages: int


class StatusPublic(BaseModel):
    model_version: str | None
    unscored_reviews: int | None
    job_status: str | None
    job_done: int | None
    job_total: int | None
