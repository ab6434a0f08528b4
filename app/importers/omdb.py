"""OMDb title records, one JSON object a line, in the OMDb API's own field names.

OMDb is more detailed than MovieLens, so its title, year and genres overwrite what is there;
it adds director, actors, runtime and rating. "N/A" is OMDb's way of saying "unknown".

Each line stands alone: one that is not UTF-8, not JSON, nested too deeply to parse, or holds
a text the database cannot store (a NUL, a lone surrogate such as "\\ud800") is reported
with its line number and left out whole; the rest is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from app.importers.catalog import FactsImporter, MovieFacts
from app.importers.report import ImportReport

_IMDB_ID = re.compile(r"tt\d{7,10}")
# OMDb's whole record for an IMDb id that IMDb has merged into another title.
_DUPLICATE_TITLE = "#DUPE#"
_YEAR = re.compile(r"\d{4}")  # "1995", or the start of a series' "1995–1998" / "1995–"


class _OmdbImporter(FactsImporter):
    overwrite = True
    unreadable = (OSError,)
    unreadable_note = "cannot read"

    @contextmanager
    def facts(
        self, source: Path, report: ImportReport, *, progress: bool
    ) -> Iterator[Iterable[MovieFacts]]:
        with open(source, "rb") as handle:
            lines = tqdm(handle, unit="title", desc="OMDb", disable=not progress)
            yield _iter_facts(str(source), lines, report)


import_omdb = _OmdbImporter()
"""Overwrite titles, years and genres and fill credits of movies from OMDb records."""


def _iter_facts(
    location: str, lines: Iterable[bytes], report: ImportReport
) -> Iterator[MovieFacts]:
    duplicates = 0
    for number, raw in enumerate(lines, start=1):
        where = f"{location}:{number}"
        if not raw.strip():
            continue
        # Decoded line by line, so that one bad line costs only itself.
        try:
            record = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            report.reject(where, f"not a JSON line ({exc})")
            continue
        except RecursionError:
            report.reject(where, "JSON nested too deeply to read")
            continue
        if not isinstance(record, dict):
            report.reject(where, f"a JSON {type(record).__name__}, not an object")
            continue
        imdb_id = _known(record, "imdbID")
        if imdb_id is None:
            report.reject(where, "no imdbID")
            continue
        if not _IMDB_ID.fullmatch(imdb_id):
            report.reject(where, f"imdbID {imdb_id!r} is not an IMDb title id like tt0114709")
            continue
        if _known(record, "Title") == _DUPLICATE_TITLE:
            duplicates += 1
            report.ignored += 1
            continue
        year = _YEAR.match(_known(record, "Year") or "")
        genres = (_known(record, "Genre") or "").split(",")
        yield MovieFacts(
            imdb_id=imdb_id,
            location=where,
            title=_known(record, "Title"),
            year=int(year[0]) if year else None,
            director=_known(record, "Director"),
            actors=_known(record, "Actors"),
            runtime=_known(record, "Runtime"),
            rated=_known(record, "Rated"),
            genres=tuple(dict.fromkeys(name.strip() for name in genres if name.strip())),
        )
    if duplicates:
        report.notes.append(
            f"{duplicates:,} {_DUPLICATE_TITLE} records ignored: IMDb merged those ids into "
            "other titles, and OMDb says nothing more about them"
        )


def _known(record: dict[str, Any], field: str) -> str | None:
    """The text of `field`, or None where OMDb says "N/A" or gives no text."""
    value = record.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # hand-made files write Year as a number
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and value != "N/A" else None
