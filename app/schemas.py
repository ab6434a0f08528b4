"""Pydantic request and response shapes. ORM tables live in models.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


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


class Credentials(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=256)


class ReviewIn(BaseModel):
    body: str = Field(min_length=1)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a review needs some text")
        return value


class SentimentRequest(BaseModel):
    text: str = Field(min_length=1)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 scheme name, not a secret)
    expires_in: int


class ApiTokenPublic(BaseModel):
    """One of your API tokens; the token itself is shown only when it is issued."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime


class ScorePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model_version: str
    p_positive: float
    label: str
    certainty: float


class SentencePublic(BaseModel):
    text: str
    p_positive: float


class SentimentResult(ScorePublic):
    sentences: list[SentencePublic]


class ReviewPublic(BaseModel):
    id: int
    movie_id: int
    author: str
    source: str
    source_ref: str | None
    body: str
    stars: int | None
    gold_label: int | None
    created_at: datetime
    updated_at: datetime
    score: ScorePublic | None


class MovieSummary(BaseModel):
    id: int
    imdb_id: str
    title: str
    year: int | None
    genres: list[str]
    n_reviews: int
    n_scored: int
    n_positive: int
    percent_positive: float | None


class Highlight(BaseModel):
    review_id: int
    text: str
    p_positive: float
    author: str
    created_at: datetime


class MovieDetail(MovieSummary):
    director: str | None
    actors: str | None
    runtime: str | None
    rated: str | None
    score_histogram: list[int]
    positive_highlights: list[Highlight]
    negative_highlights: list[Highlight]
    model_version: str | None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    pages: int


class StatusPublic(BaseModel):
    model_version: str | None
    unscored_reviews: int | None
    job_status: str | None
    job_done: int | None
    job_total: int | None
