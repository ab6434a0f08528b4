"""The Large Movie Review Dataset (Maas et al., 2011) in its official `aclImdb/` layout.

Reads a `.tar.gz` archive (streamed, never unpacked to disk) or an unpacked directory:
`{train,test}/{pos,neg}/<id>_<stars>.txt` with `{train,test}/urls_{pos,neg}.txt`, whose line
*id* is the IMDb title URL of review *id*.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SPLITS = ("train", "test")
LABELS = {"pos": 1, "neg": 0}

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
) -> Iterator[AclImdbReview]:
    """Every labeled review under `source` (archive or directory) in `splits`."""
    wanted = set(splits)
    unknown = wanted - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown aclImdb split(s) {sorted(unknown)}; use train and/or test")
    if source.is_dir():
        yield from _iter_directory(source, wanted, on_error)
    elif tarfile.is_tarfile(source):
        yield from _iter_archive(source, wanted, on_error)
    else:
        on_error(str(source), "neither a directory nor a .tar.gz archive in the aclImdb layout")


def _iter_directory(root: Path, splits: set[str], on_error: ErrorSink) -> Iterator[AclImdbReview]:
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    urls: dict[tuple[str, str], list[str]] = {}
    for split in sorted(splits):
        for polarity in LABELS:
            path = root / split / f"urls_{polarity}.txt"
            if path.exists():
                urls[split, polarity] = path.read_text(encoding="utf-8").splitlines()
            else:
                on_error(str(path), "missing: reviews of this folder cannot be tied to movies")
    for split in sorted(splits):
        for polarity in LABELS:
            folder = root / split / polarity
            if not folder.is_dir():
                on_error(str(folder), "missing folder")
                continue
            for path in sorted(folder.iterdir(), key=_numeric_name):
                relative = path.relative_to(root).as_posix()
                review = _parse(relative, path.read_bytes(), urls, on_error)
                if review is not None:
                    yield review


def _iter_archive(archive: Path, splits: set[str], on_error: ErrorSink) -> Iterator[AclImdbReview]:
    # The url lists may come after the reviews in the archive, so read them in a first pass.
    urls: dict[tuple[str, str], list[str]] = {}
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                match = _URLS_PATH.search(member.name)
                if match and match[1] in splits and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        text = handle.read().decode("utf-8", errors="replace")
                        urls[match[1], match[2]] = text.splitlines()
        for split in sorted(splits):
            for polarity in LABELS:
                if (split, polarity) not in urls:
                    on_error(
                        f"{archive}:{split}/urls_{polarity}.txt",
                        "missing: reviews of this folder cannot be tied to movies",
                    )
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                match = _REVIEW_PATH.search(member.name)
                if not match or match[1] not in splits or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                review = _parse(member.name, handle.read(), urls, on_error, prefix=f"{archive}:")
                if review is not None:
                    yield review
    except (tarfile.TarError, EOFError, OSError) as exc:
        on_error(str(archive), f"unreadable archive ({exc}); reviews before this point were read")


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
    return AclImdbReview(split, LABELS[polarity], review_id, stars, title[1], text)


def _numeric_name(path: Path) -> tuple[int, str]:
    head = path.stem.split("_", 1)[0]
    return (int(head) if head.isdigit() else -1, path.name)
