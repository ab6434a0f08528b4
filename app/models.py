"""ORM tables. Pydantic shapes live in schemas.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from app.db import Base
from app.sentiment import labels

HISTOGRAM_BINS = 10  # the movie_stats columns hist_0 .. hist_9


def utcnow() -> datetime:
    return datetime.now(UTC)


# Column types that several tables share, so that each is declared once.
PrimaryKey = Annotated[int, mapped_column(primary_key=True)]
VersionName = Annotated[str, mapped_column(String(128))]
"""A model version's name, as models/ names its folder."""
TextRevision = Annotated[int, mapped_column(Integer, default=1, server_default="1")]
Count = Annotated[int, mapped_column(Integer, default=0)]
Timestamp = Annotated[datetime, mapped_column(default=utcnow)]
"""A moment: the time the row is written, unless given."""
MovieRef = Annotated[int, mapped_column(ForeignKey("movies.id", ondelete="CASCADE"))]
ReviewRef = Annotated[int, mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))]
UserRef = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="CASCADE"))]


class PositiveProbability:
    """A model's probability that a text is positive, and the label rule on it."""

    p_positive: Mapped[float] = mapped_column(Float)

    @hybrid_property
    def is_positive(self) -> bool:
        """The label rule (app/sentiment/labels.py); a SQL expression on the class."""
        return labels.is_positive(self.p_positive)


class User(Base):
    __tablename__ = "users"

    id: Mapped[PrimaryKey]
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[Timestamp]

    reviews: Mapped[list[Review]] = relationship(back_populates="user")


class Movie(Base):
    __tablename__ = "movies"

    id: Mapped[PrimaryKey]
    imdb_id: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str | None] = mapped_column(String(300), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    director: Mapped[str | None] = mapped_column(String(300))
    actors: Mapped[str | None] = mapped_column(String(500))
    runtime: Mapped[str | None] = mapped_column(String(32))
    rated: Mapped[str | None] = mapped_column(String(16))
    # When someone last opened the movie while it was not fully scored: it goes to the front
    # of the scoring queue (app/scoring.py).
    score_first_at: Mapped[datetime | None] = mapped_column()

    genres: Mapped[list[MovieGenre]] = relationship(
        back_populates="movie", cascade="all, delete-orphan", order_by="MovieGenre.name"
    )
    reviews: Mapped[list[Review]] = relationship(back_populates="movie")

    @property
    def display_title(self) -> str:
        return self.title or f"IMDb {self.imdb_id}"

    @property
    def genre_names(self) -> list[str]:
        return [genre.name for genre in self.genres]


class MovieGenre(Base):
    __tablename__ = "movie_genres"

    movie_id: Mapped[MovieRef] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)

    movie: Mapped[Movie] = relationship(back_populates="genres")


class Review(Base):
    """A review written on the site (user set) or imported from a dataset (source set)."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_reviews_source_ref"),
        Index("ix_reviews_movie_created", "movie_id", "created_at"),
    )

    id: Mapped[PrimaryKey]
    movie_id: Mapped[MovieRef]
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # "textflix" for reviews posted here; a dataset name (e.g. "aclImdb") for imports.
    source: Mapped[str] = mapped_column(String(32), default="textflix")
    # The dataset's own id of the review, e.g. "train/pos/123_9"; None for site reviews.
    source_ref: Mapped[str | None] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # Bumped on every edit; a score carries the revision it was computed for, so a score of an
    # older text is never stored (app/scoring.py).
    text_revision: Mapped[TextRevision]
    # What the dataset says, kept apart from any model's prediction.
    gold_label: Mapped[int | None] = mapped_column(Integer)  # 1 positive, 0 negative
    stars: Mapped[int | None] = mapped_column(Integer)  # 1..10 as published
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp] = mapped_column(onupdate=utcnow)

    movie: Mapped[Movie] = relationship(back_populates="reviews")
    user: Mapped[User | None] = relationship(back_populates="reviews")
    scores: Mapped[list[ReviewScore]] = relationship(
        back_populates="review", cascade="all, delete-orphan", passive_deletes=True
    )


class ReviewScore(PositiveProbability, Base):
    """One model version's verdict on one review (the text as it was when scored)."""

    __tablename__ = "review_scores"
    __table_args__ = (
        # Also the index that per-movie queries use, reaching scores from a movie's reviews.
        UniqueConstraint("review_id", "model_version", name="uq_review_scores_review_version"),
    )

    id: Mapped[PrimaryKey]
    review_id: Mapped[ReviewRef]
    model_version: Mapped[VersionName]
    # The review's text_revision this score was computed for.
    text_revision: Mapped[TextRevision]
    scored_at: Mapped[Timestamp]

    review: Mapped[Review] = relationship(back_populates="scores")
    sentences: Mapped[list[SentenceScore]] = relationship(
        back_populates="score",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SentenceScore.position",
    )

    @hybrid_property
    def predicted_label(self) -> int:
        """1 for a positive verdict, 0 for a negative one; a SQL CASE on the class."""
        return labels.label_of(self.p_positive)

    @predicted_label.inplace.expression
    @classmethod
    def _predicted_label_expression(cls) -> ColumnElement[int]:
        return case((labels.is_positive(cls.p_positive), labels.POSITIVE), else_=labels.NEGATIVE)

    @property
    def certainty(self) -> float:
        """How sure the model is of the label it gave, 0.5..1."""
        return max(self.p_positive, 1.0 - self.p_positive)

    @property
    def label(self) -> str:
        """The verdict as a word, "positive" or "negative"."""
        return labels.name_of(self.p_positive)


class SentenceScore(PositiveProbability, Base):
    """The model's score of one sentence of a review; the raw material of highlights."""

    __tablename__ = "sentence_scores"

    id: Mapped[PrimaryKey]
    score_id: Mapped[int] = mapped_column(
        ForeignKey("review_scores.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    score: Mapped[ReviewScore] = relationship(back_populates="sentences")


class ScoringJob(Base):
    """A background pass that scores reviews lacking a score from one model version."""

    __tablename__ = "scoring_jobs"

    id: Mapped[PrimaryKey]
    model_version: Mapped[VersionName]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|failed
    total: Mapped[Count]
    done: Mapped[Count]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[Timestamp]
    finished_at: Mapped[datetime | None] = mapped_column()


class ScoringClaim(Base):
    """A worker's lease on scoring one review with one model version. Whoever holds a live
    claim scores the review; a claim past `expires_at` (its worker died or stalled) may be
    taken over by another worker."""

    __tablename__ = "scoring_claims"

    review_id: Mapped[ReviewRef] = mapped_column(primary_key=True)
    model_version: Mapped[VersionName] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column()


class Feedback(Base):
    """A signed-in user saying the model got a review's sentiment wrong."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_feedback_review_user"),)

    id: Mapped[PrimaryKey]
    review_id: Mapped[ReviewRef]
    user_id: Mapped[UserRef]
    model_version: Mapped[VersionName]
    # The label the user says is right: the opposite of what the model said.
    label: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[Timestamp]


class HumanLabel(Base):
    """A label an admin gave a review in the labeling queue; training data for new versions."""

    __tablename__ = "human_labels"

    review_id: Mapped[ReviewRef] = mapped_column(primary_key=True)
    label: Mapped[int] = mapped_column(Integer)  # 1 positive, 0 negative
    labeled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[Timestamp]

    review: Mapped[Review] = relationship()


class UserSession(Base):
    """A signed-in browser: the session cookie names one row, and ending it deletes the row.

    The cookie carries a random key; only its SHA-256 is stored, so a copy of the database
    holds no usable sessions. A row per session (rather than a per-user generation number)
    lets a user see where they are signed in and end one session without the others.
    """

    __tablename__ = "user_sessions"

    id: Mapped[PrimaryKey]
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[UserRef] = mapped_column(index=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[Timestamp]
    last_seen_at: Mapped[Timestamp]
    expires_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A bearer token for the JSON API; stored as a SHA-256 hash, revoked by setting revoked_at.

    A revoked token's row stays, with when it was revoked, until it would have expired; expired
    rows are swept when their user next gets a token.
    """

    __tablename__ = "api_tokens"

    id: Mapped[PrimaryKey]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[UserRef] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Timestamp]
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class MovieStats(Base):
    """A movie's figures, kept up to date by app/stats.py as reviews and scores are written.

    The row of model_version "" counts the movie's reviews and exists while it has any; a row
    per model version with at least one score of the movie adds that version's figures.
    """

    __tablename__ = "movie_stats"

    movie_id: Mapped[MovieRef] = mapped_column(primary_key=True)
    model_version: Mapped[VersionName] = mapped_column(primary_key=True)
    n_reviews: Mapped[Count]
    n_scored: Mapped[Count]
    n_positive: Mapped[Count]
    # How many scores fall in each tenth of P(positive) (app.stats.bin_of).
    hist_0: Mapped[Count]
    hist_1: Mapped[Count]
    hist_2: Mapped[Count]
    hist_3: Mapped[Count]
    hist_4: Mapped[Count]
    hist_5: Mapped[Count]
    hist_6: Mapped[Count]
    hist_7: Mapped[Count]
    hist_8: Mapped[Count]
    hist_9: Mapped[Count]

    @property
    def histogram(self) -> list[int]:
        return [getattr(self, f"hist_{i}") for i in range(HISTOGRAM_BINS)]


# SQLite reuses the largest rowid after a delete unless the table says AUTOINCREMENT; an id
# that came back would make an old link show somebody else's row. Postgres sequences never
# go back, so this only changes SQLite's CREATE TABLE (migration 0003 does it for old files).
for _table in Base.metadata.tables.values():
    if _table.autoincrement_column is not None:
        _table.dialect_kwargs["sqlite_autoincrement"] = True
