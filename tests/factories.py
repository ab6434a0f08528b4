"""Small builders of test data, and a fake classifier for tests where the model is not the point."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from app import stats
from app.models import Movie, MovieGenre, Review, User
from app.security import hash_password
from app.sentiment.classifier import Prediction

_counter = itertools.count(1)
PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)

POSITIVE_WORDS = {"good", "great", "wonderful", "loved", "love", "brilliant", "best", "superb"}
NEGATIVE_WORDS = {"bad", "awful", "terrible", "boring", "worst", "hated", "dull", "waste"}


class FakeClassifier:
    """Counts sentiment words: enough to tell the site's plumbing from the model's quality."""

    def __init__(self, version: str = "fake-v1") -> None:
        self.version = version
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(len(texts))
        out = []
        for text in texts:
            words = [w.strip(".,!?;:\"'()").lower() for w in text.split()]
            pos = sum(w in POSITIVE_WORDS for w in words)
            neg = sum(w in NEGATIVE_WORDS for w in words)
            out.append(Prediction((1 + pos) / (2 + pos + neg)))
        return out


HANG_GUARD_SECONDS = 30.0
"""Only so that a broken batcher fails a test instead of hanging it."""


class GatedClassifier(FakeClassifier):
    """A fake whose passes wait for `gate` (and fail on texts saying "poison"), so that a
    test can hold the first pass open and queue callers behind it."""

    def __init__(self, version: str = "gated") -> None:
        super().__init__(version)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.entered.set()
        assert self.gate.wait(HANG_GUARD_SECONDS), "the test never opened the gate"
        if any("poison" in text for text in texts):
            self.calls.append(len(texts))
            raise ValueError("poisoned text")
        return super().predict(texts)


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll until `condition` holds (a state another thread reaches), failing on a hang."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.001)


class BrokenClassifier(FakeClassifier):
    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        raise RuntimeError("the model fell over")


def make_user(session: Session, *, username: str | None = None, is_admin: bool = False) -> User:
    user = User(
        username=username or f"user{next(_counter)}",
        password_hash=_PASSWORD_HASH,
        is_admin=is_admin,
    )
    session.add(user)
    session.commit()
    return user


def make_movie(
    session: Session,
    *,
    title: str | None = "A Movie",
    year: int | None = 2001,
    genres: Sequence[str] = ("Drama",),
    imdb_id: str | None = None,
) -> Movie:
    movie = Movie(
        imdb_id=imdb_id or f"tt{next(_counter):07d}",
        title=title,
        year=year,
        genres=[MovieGenre(name=g) for g in genres],
    )
    session.add(movie)
    session.commit()
    return movie


def make_review(
    session: Session,
    *,
    movie: Movie,
    body: str = "A good film.",
    user: User | None = None,
    gold_label: int | None = None,
    stars: int | None = None,
) -> Review:
    n = next(_counter)
    review = Review(
        movie_id=movie.id,
        user_id=user.id if user else None,
        source="textflix" if user else "aclImdb",
        source_ref=None if user else f"train/pos/{n}_9",
        author_name=user.username if user else "IMDb reviewer",
        body=body,
        gold_label=gold_label,
        stars=stars,
    )
    session.add(review)
    session.flush()
    stats.refresh_movies(session, [movie.id])
    session.commit()
    return review


def score_some(
    factory: sessionmaker[Session], *, limit: int, classifier: FakeClassifier | None = None
) -> list[int]:
    """Score the next `limit` reviews in the queue as one worker batch; the ids scored."""
    from app.scoring import Scored, claim_batch, store_scores
    from app.sentiment.classifier import analyze

    classifier = classifier or FakeClassifier()
    with factory() as session:
        batch = claim_batch(session=session, version=classifier.version, worker="t", limit=limit)
        analyses = analyze(classifier, [claimed.body for claimed in batch])
        written = store_scores(
            session=session,
            version=classifier.version,
            scored=[
                Scored(c.review_id, c.text_revision, a)
                for c, a in zip(batch, analyses, strict=True)
            ],
            worker="t",
        )
        session.commit()
    return written
