"""The Large Movie Review Dataset (Maas et al., 2011) in its official `aclImdb/` layout.

Reads a `.tar.gz` archive (streamed, never unpacked to disk) or an unpacked directory:
`{train,test}/{pos,neg}/<id>_<stars>.txt` with `{train,test}/urls_{pos,neg}.txt`, whose line
*id* is the IMDb title URL of review *id*. `import_reviews` stores them as Reviews.

Bad input never stops the import: an unreadable review file, a folder where a review file
should be or a review the database refuses is reported with its location and the rest is
imported. A truncated or corrupt archive is an error (the report fails, `textflix import`
exits non-zero), but the reviews read before the damage are kept: they are whole, and a later
run with a good archive adds only the rest. Review texts longer than the site's own limit
(`TEXTFLIX_MAX_REVIEW_CHARS`) are cut at a word boundary to fit, and each cut is reported.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from app import stats
from app.config import Settings
from app.db import unstorable
from app.importers.bulk import batched, insert_or_ignore, store_isolating
from app.importers.report import ImportReport
from app.models import Movie, Review, utcnow

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SPLITS = ("train", "test")
LABELS = {"pos": 1, "neg": 0}
SOURCE = "aclImdb"  # Review.source of imported reviews
# The dataset names no reviewers, and a made-up name would pass for a real person.
AUTHOR_NAME = "IMDb reviewer"
_OFFICIAL_SPLIT_SIZE = 25_000
DEFAULT_MAX_CHARS: int = Settings.model_fields["max_review_chars"].default

_REVIEW_PATH = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_URLS_PATH = re.compile(r"(?:^|/)(train|test)/urls_(pos|neg)\.txt$")
_TITLE_URL = re.compile(r"/title/(tt\d+)")

ErrorSink = Callable[[str, str], None]
"""Called with (location, reason) for each record that cannot be read."""


@dataclass(frozen=True)
class AclImdbReview:
    split: str  # "train" | "test"
    label: int  # 1 positive, 0 negative
    review_id: int  # the file's id, unique within (split, label)
    stars: int  # 1..10 as published
    imdb_id: str  # "tt0453418"
    text: str
    location: str = ""  # where it was read, for problems: "<archive>:<member>" or a path

    @property
    def ref(self) -> str:
        """The dataset's own name for this review, e.g. "train/pos/123_9"."""
        polarity = "pos" if self.label else "neg"
        return f"{self.split}/{polarity}/{self.review_id}_{self.stars}"


def _raise(location: str, reason: str) -> None:
    raise ValueError(f"{location}: {reason}")


def iter_reviews(
    source: Path,
    *,
    splits: Iterable[str] = SPLITS,
    on_error: ErrorSink = _raise,
    on_fatal: ErrorSink = _raise,
) -> Iterator[AclImdbReview]:
    """Every labeled review under `source` (archive or directory) in `splits`; `on_error` hears
    of each bad record, `on_fatal` of damage that ends the reading (after the reviews before
    it were yielded)."""
    wanted = set(splits)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown aclImdb split(s) {sorted(unknown)}; use train and/or test")
    if source.is_dir():
        yield from _iter_directory(source, wanted, on_error)
    elif source.is_file() and tarfile.is_tarfile(source):
        yield from _iter_archive(source, wanted, on_error, on_fatal)
    else:
        on_fatal(str(source), "neither a directory nor a .tar.gz archive in the aclImdb layout")


def _iter_directory(root: Path, splits: set[str], on_error: ErrorSink) -> Iterator[AclImdbReview]:
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    urls: dict[tuple[str, str], list[str]] = {}
    for split in sorted(splits):
        for polarity in LABELS:
            path = root / split / f"urls_{polarity}.txt"
            if not path.is_file():
                on_error(str(path), "missing: reviews of this folder cannot be tied to movies")
                continue
            try:
                raw = path.read_bytes()
            except OSError as exc:
                on_error(
                    str(path),
                    f"unreadable ({exc}): reviews of this folder cannot be tied to movies",
                )
                continue
            urls[split, polarity] = raw.decode("utf-8", errors="replace").splitlines()
    for split in sorted(splits):
        for polarity in LABELS:
            folder = root / split / polarity
            if not folder.is_dir():
                on_error(str(folder), "missing folder")
                continue
            for path in sorted(folder.iterdir(), key=_numeric_name):
                relative = path.relative_to(root).as_posix()
                prefix = f"{root.as_posix()}/"  # so that problems name the whole path
                if not path.is_file():
                    on_error(path.as_posix(), "not a review file (a folder?): skipped")
                    continue
                try:
                    raw = path.read_bytes()
                except OSError as exc:
                    on_error(path.as_posix(), f"unreadable ({exc})")
                    continue
                review = _parse(relative, raw, urls, on_error, prefix=prefix)
                if review is not None:
                    yield review


def _iter_archive(
    archive: Path, splits: set[str], on_error: ErrorSink, on_fatal: ErrorSink
) -> Iterator[AclImdbReview]:
    # The url lists may come after the reviews in the archive, so read them in a first pass.
    # A damaged archive ends both passes at the same point: the second pass then yields the
    # reviews before the damage whose url lists came before it too.
    urls: dict[tuple[str, str], list[str]] = {}
    damage: str | None = None
    try:
        with gzip.open(archive, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                match = _URLS_PATH.search(member.name)
                if match and match[1] in splits and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        text = handle.read().decode("utf-8", errors="replace")
                        urls[match[1], match[2]] = text.splitlines()
            # tarfile takes a header cut short for the end of the archive, so a cut that falls
            # between members goes unnoticed; the gzip stream's own end marker does not lie.
            while stream.read(1 << 20):
                pass
    except _ARCHIVE_ERRORS as exc:
        damage = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for split in sorted(splits):
        for polarity in LABELS:
            if (split, polarity) not in urls:
                on_error(
                    f"{archive}:{split}/urls_{polarity}.txt",
                    "missing: reviews of this folder cannot be tied to movies",
                )
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                match = _REVIEW_PATH.search(member.name)
                if not match or match[1] not in splits:
                    continue
                if not member.isfile():
                    on_error(f"{archive}:{member.name}", "not a review file (a folder?): skipped")
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                raw = handle.read()
                review = _parse(member.name, raw, urls, on_error, prefix=f"{archive}:")
                if review is not None:
                    yield review
    except _ARCHIVE_ERRORS as exc:
        damage = damage or (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if damage is not None:
        on_fatal(
            str(archive),
            f"truncated or damaged archive ({damage}); the reviews before the damage were "
            "read, the rest were not: fetch the archive again and re-run the import",
        )


_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


def _parse(
    name: str,
    raw: bytes,
    urls: dict[tuple[str, str], list[str]],
    on_error: ErrorSink,
    prefix: str = "",
) -> AclImdbReview | None:
    location = prefix + name
    match = _REVIEW_PATH.search(name)
    if not match:
        on_error(location, "file name is not <id>_<stars>.txt")
        return None
    split, polarity, review_id, stars = match[1], match[2], int(match[3]), int(match[4])
    if not 1 <= stars <= 10:
        on_error(location, f"star rating {stars} is outside 1..10")
        return None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        on_error(location, f"not UTF-8 text ({exc})")
        return None
    if not text:
        on_error(location, "empty review")
        return None
    problem = unstorable(text)
    if problem is not None:
        on_error(location, problem)
        return None
    lines = urls.get((split, polarity))
    if lines is None:
        return None  # already reported once for the whole folder
    if review_id >= len(lines):
        on_error(location, f"no line {review_id} in {split}/urls_{polarity}.txt")
        return None
    title = _TITLE_URL.search(lines[review_id])
    if not title:
        on_error(location, f"line {review_id + 1} of {split}/urls_{polarity}.txt has no title id")
        return None
    return AclImdbReview(split, LABELS[polarity], review_id, stars, title[1], text, location)


def _numeric_name(path: Path) -> tuple[int, str]:
    head = path.stem.split("_", 1)[0]
    return (int(head) if head.isdigit() else -1, path.name)


def import_reviews(
    *,
    session_factory: sessionmaker[Session],
    source: Path,
    splits: Sequence[str] = SPLITS,
    progress: bool = True,
    batch_size: int = 1000,
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
) -> ImportReport:
    """Add the reviews under `source` not imported before, and a bare Movie per new title;
    texts longer than `max_chars` are cut to fit; only the first `limit` reviews, if given."""
    report = ImportReport()
    reviews = iter_reviews(source, splits=splits, on_error=report.reject, on_fatal=report.fail)
    if limit is not None:
        reviews = islice(reviews, limit)
    expected = _expected_count(source, splits)
    bar = tqdm(
        total=expected if limit is None else min(limit, expected),
        unit="review",
        desc=SOURCE,
        disable=not progress,
    )
    with session_factory() as session, bar:
        writer = _ReviewWriter(session=session, report=report, max_chars=max_chars)
        for batch in batched(reviews, batch_size):
            # A review the database refuses costs only itself: the batch is retried one by one.
            store_isolating(
                session,
                batch,
                writer.store,
                report=report,
                location=lambda review: review.location,
                on_rollback=writer.forget,
            )
            session.commit()  # a transaction per batch: an interrupted import keeps its work
            bar.update(len(batch))
    if writer.movies_created:
        report.notes.append(
            f"{writer.movies_created:,} new movies, known by IMDb id only until MovieLens or "
            "OMDb data gives them titles"
        )
    return report


class _ReviewWriter:
    """Stores batches of reviews in one session, remembering the movie ids met so far."""

    def __init__(self, *, session: Session, report: ImportReport, max_chars: int) -> None:
        self.session = session
        self.report = report
        self.max_chars = max_chars
        self.imported_at = utcnow()
        self.movie_ids: dict[str, int] = {}  # by IMDb id; a title has up to 30 reviews
        self.movies_created = 0
        self.present = self._stored_refs()
        self._committed_movies = 0

    def _stored_refs(self) -> set[str]:
        # Read once, not per batch: PostgreSQL plans a per-batch `source_ref IN (...)` as a
        # full scan while a bulk load leaves the table's statistics stale (0.5 s a batch).
        refs = select(Review.source_ref).where(Review.source == SOURCE)
        return {ref for ref in self.session.scalars(refs) if ref is not None}

    def forget(self) -> None:
        """After a rolled-back batch: what it stored is gone, so read what is there again."""
        self.movie_ids.clear()
        self.present = self._stored_refs()
        self.movies_created = self._committed_movies

    def store(self, batch: list[AclImdbReview]) -> None:
        """Insert the reviews of `batch` that are not in the database yet."""
        new = [review for review in batch if review.ref not in self.present]
        self.report.skipped += len(batch) - len(new)
        if not new:
            return
        self._ensure_movies({review.imdb_id for review in new})
        rows = [
            {
                "movie_id": self.movie_ids[review.imdb_id],
                "user_id": None,
                "source": SOURCE,
                "source_ref": review.ref,
                "author_name": AUTHOR_NAME,
                "body": self._fit(review),
                "gold_label": review.label,
                "stars": review.stars,
                "created_at": self.imported_at,
                "updated_at": self.imported_at,
            }
            for review in new
        ]
        statement = insert_or_ignore(self.session, Review).returning(Review.id)
        inserted = len(self.session.scalars(statement, rows).all())
        stats.refresh_movies(self.session, {self.movie_ids[review.imdb_id] for review in new})
        self.session.flush()
        self.report.added += inserted
        self.report.skipped += len(rows) - inserted  # stored meanwhile by a concurrent import
        self.present.update(review.ref for review in new)
        self._committed_movies = self.movies_created

    def _fit(self, review: AclImdbReview) -> str:
        """The review's text, cut at a word boundary if it is longer than the site's limit."""
        if len(review.text) <= self.max_chars:
            return review.text
        head = review.text[: self.max_chars]
        cut = head.rstrip()
        space = max(cut.rfind(" "), cut.rfind("\n"))
        shortened = cut[:space].rstrip() if space > self.max_chars // 2 else cut
        self.report.warn(
            review.location,
            f"text cut to {len(shortened):,} of its {len(review.text):,} characters "
            f"(the limit is {self.max_chars:,}, TEXTFLIX_MAX_REVIEW_CHARS)",
        )
        return shortened

    def _ensure_movies(self, imdb_ids: set[str]) -> None:
        unknown = imdb_ids - self.movie_ids.keys()
        if not unknown:
            return
        lookup = select(Movie.imdb_id, Movie.id).where(Movie.imdb_id.in_(unknown))
        self.movie_ids.update(self.session.execute(lookup).all())
        missing = unknown - self.movie_ids.keys()
        if missing:
            statement = insert_or_ignore(self.session, Movie).returning(Movie.imdb_id, Movie.id)
            rows = [{"imdb_id": imdb_id} for imdb_id in missing]
            created = self.session.execute(statement, rows).all()
            self.movies_created += len(created)
            self.movie_ids.update(created)
            if len(created) < len(missing):  # the rest were created by a concurrent import
                self.movie_ids.update(self.session.execute(lookup).all())


def _expected_count(source: Path, splits: Iterable[str]) -> int:
    """How many reviews to expect, for the progress bar: exact for a directory."""
    wanted = set(splits) & set(SPLITS)
    if not source.is_dir():
        return _OFFICIAL_SPLIT_SIZE * len(wanted)  # counting would mean reading it twice
    root = source / "aclImdb" if (source / "aclImdb").is_dir() else source
    folders = [root / split / polarity for split in wanted for polarity in LABELS]
    return sum(1 for folder in folders for _ in folder.glob("*.txt"))
