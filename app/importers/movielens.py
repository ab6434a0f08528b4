"""MovieLens latest-small (GroupLens): titles, years and genres, tied to IMDb by links.csv.

Reads the official `ml-latest-small/` directory or its zip archive in place. MovieLens fills
only what a movie lacks: OMDb, imported after it, is the more detailed source and wins.

A malformed line (bad CSV, bytes that are not UTF-8, a text the database cannot store) is
reported with its file and line number and left out; the rest is imported. A missing file or a
damaged zip archive fails the import (non-zero exit) after keeping what was read before.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from app.importers.catalog import FactsImporter, MovieFacts
from app.importers.report import ImportReport

OFFICIAL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"

_NO_GENRES = "(no genres listed)"
# IMDb's (and so OMDb's) names for the same genres, so one genre filter covers movies from
# both sources. IMAX is a screen format, not a genre.
_GENRE_NAMES = {"Children": "Family", "IMAX": None}
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*\d{4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(
    r"(?P<name>[^()]+), (?P<article>The|A|An|L'|Le|La|Les|El|Los|Las|Il|Lo|I|Gli|Der|Die|Das)"
)
_PARENTHESISED = re.compile(r"\(([^()]*)\)")


# Bytes that are not UTF-8 are decoded to lone surrogates (U+DC80..U+DCFF) rather than
# stopping the decoder, so that the line holding them is rejected and the rest still read.
_BAD_BYTES = "surrogateescape"
_UNDECODED = re.compile("[\udc80-\udcff]")


class _MissingFile(Exception):
    """A file the dataset must hold is absent; the message says which."""


class _MovieLensImporter(FactsImporter):
    overwrite = False
    unreadable = (_MissingFile, zipfile.BadZipFile, OSError, EOFError, zlib.error)
    unreadable_note = "not a whole MovieLens directory or zip archive"

    @contextmanager
    def facts(
        self, source: Path, report: ImportReport, *, progress: bool
    ) -> Iterator[Iterable[MovieFacts]]:
        with _open_csv(source, "links.csv") as (location, handle):
            links = _read_links(location, handle, report)
        with _open_csv(source, "movies.csv") as (location, handle):
            yield tqdm(
                _iter_movies(location, handle, links, report),
                total=len(links),
                unit="movie",
                desc="MovieLens",
                disable=not progress,
            )


import_movielens = _MovieLensImporter()
"""Fill missing titles, years and genres of movies from MovieLens, matched by IMDb id."""


def split_title(published: str) -> tuple[str, int | None]:
    """("The Matrix", 1999) from MovieLens' "Matrix, The (1999)"."""
    match = _YEAR_SUFFIX.search(published)
    name = published[: match.start()] if match else published.strip()
    year = int(match[1]) if match else None
    # Alternative titles follow in parentheses, with their articles moved back too:
    # "City of Lost Children, The (Cité des enfants perdus, La)".
    head, opening, rest = name.partition(" (")
    alternatives = _PARENTHESISED.sub(lambda m: f"({_front_article(m[1])})", opening + rest)
    return _front_article(head) + alternatives, year


def _front_article(name: str) -> str:
    match = _TRAILING_ARTICLE.fullmatch(name)
    if not match:
        return name
    article = match["article"]
    return article + match["name"] if article.endswith("'") else f"{article} {match['name']}"


@contextmanager
def _open_csv(source: Path, name: str) -> Iterator[tuple[str, TextIO]]:
    """The dataset's file `name`, and how to name its location in problems."""
    if source.is_dir():
        path = source / name
        if not path.is_file():
            raise _MissingFile(f"no {name} in {source}")
        with open(path, encoding="utf-8-sig", errors=_BAD_BYTES, newline="") as handle:
            yield str(path), handle
        return
    with zipfile.ZipFile(source) as archive:
        members = [m for m in archive.namelist() if m == name or m.endswith(f"/{name}")]
        if not members:
            raise _MissingFile(f"no {name} in {source}")
        member = min(members, key=len)  # ml-latest-small/movies.csv, not a nested copy
        with archive.open(member) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors=_BAD_BYTES, newline="")
            yield f"{source}:{member}", text


def _rows(
    location: str, handle: TextIO, columns: Sequence[str], report: ImportReport
) -> Iterator[tuple[str, list[str]]]:
    """(location of the line, its values of `columns`) for each well-formed line."""
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.reject(f"{location}:1", f"unreadable CSV ({exc})")
        return
    if header is None or not set(columns) <= set(header):
        report.reject(f"{location}:1", f"the header should name the columns {','.join(columns)}")
        return
    positions = [header.index(column) for column in columns]
    while True:
        line = reader.line_num + 1  # a quoted field may span lines; report where a row starts
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.reject(f"{location}:{line}", f"unreadable CSV ({exc})")
            continue
        if not fields:
            continue
        bad_bytes = [m[0] for field in fields for m in _UNDECODED.finditer(field)]
        if bad_bytes:
            shown = " ".join(f"0x{ord(char) - 0xDC00:02x}" for char in bad_bytes[:5])
            report.reject(f"{location}:{line}", f"not UTF-8 text (bytes {shown})")
            continue
        if len(fields) != len(header):
            report.reject(
                f"{location}:{line}", f"{len(fields)} fields where the header has {len(header)}"
            )
            continue
        yield f"{location}:{line}", [fields[position] for position in positions]


def _read_links(location: str, handle: TextIO, report: ImportReport) -> dict[str, str]:
    """IMDb title ids ("tt0114709") by MovieLens movieId."""
    links: dict[str, str] = {}
    for where, (movie_id, imdb_number) in _rows(location, handle, ("movieId", "imdbId"), report):
        movie_id, imdb_number = movie_id.strip(), imdb_number.strip()
        if not movie_id.isdigit():
            report.reject(where, f"movieId {movie_id!r} is not a number")
        elif not imdb_number.isdigit():
            report.reject(where, f"imdbId {imdb_number!r} is not a number")
        else:
            links[movie_id] = f"tt{int(imdb_number):07d}"
    return links


def _iter_movies(
    location: str, handle: TextIO, links: dict[str, str], report: ImportReport
) -> Iterator[MovieFacts]:
    for where, (movie_id, published_title, genres) in _rows(
        location, handle, ("movieId", "title", "genres"), report
    ):
        movie_id = movie_id.strip()
        if not movie_id.isdigit():
            report.reject(where, f"movieId {movie_id!r} is not a number")
            continue
        if movie_id not in links:
            report.reject(where, f"movieId {movie_id} has no IMDb id in links.csv")
            continue
        title, year = split_title(published_title)
        if not title:
            report.reject(where, "empty title")
            continue
        yield MovieFacts(
            imdb_id=links[movie_id],
            location=where,
            title=title,
            year=year,
            genres=_genres(genres),
        )


def _genres(published: str) -> tuple[str, ...]:
    names: list[str] = []
    for raw in published.split("|"):
        name = _GENRE_NAMES.get(raw.strip(), raw.strip())
        if name and name != _NO_GENRES and name not in names:
            names.append(name)
    return tuple(names)
