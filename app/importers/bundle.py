"""All the datasets in order: reviews first (they define the catalog), then movie details."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.importers import aclimdb, movielens, omdb, sources
from app.importers.report import ImportReport

OMDB_FILE = Path("omdb") / "titles.jsonl"


def import_all(
    *,
    session_factory: sessionmaker[Session],
    data_dir: Path,
    cache_dir: Path,
    progress: bool = True,
    max_review_chars: int = aclimdb.DEFAULT_MAX_CHARS,
) -> list[tuple[str, ImportReport]]:
    """Import aclImdb, MovieLens and OMDb from `data_dir`, downloading what it lacks."""
    local_or_url = partial(_from_local_or_url, cache_dir=cache_dir, progress=progress)
    reviews = local_or_url(
        [data_dir / "aclImdb_v1.tar.gz", data_dir / "aclImdb"],
        aclimdb.OFFICIAL_URL,
        lambda path: aclimdb.import_reviews(
            session_factory=session_factory,
            source=path,
            progress=progress,
            max_chars=max_review_chars,
        ),
    )
    details = local_or_url(
        [data_dir / "ml-latest-small", data_dir / "ml-latest-small.zip"],
        movielens.OFFICIAL_URL,
        lambda path: movielens.import_movielens(
            session_factory=session_factory, source=path, progress=progress
        ),
    )
    if (data_dir / OMDB_FILE).is_file():
        credits = omdb.import_omdb(
            session_factory=session_factory, source=data_dir / OMDB_FILE, progress=progress
        )
    else:
        credits = ImportReport(
            notes=[f"not imported: no {data_dir / OMDB_FILE}, and OMDb has no public bulk download"]
        )
    return [("aclImdb", reviews), ("MovieLens", details), ("OMDb", credits)]


def _from_local_or_url(
    candidates: list[Path],
    url: str,
    run: Callable[[Path], ImportReport],
    *,
    cache_dir: Path,
    progress: bool,
) -> ImportReport:
    """`run` on the first of `candidates` that exists, else on `url` downloaded to the cache."""
    local = next((path for path in candidates if path.exists()), None)
    try:
        path = local or sources.resolve(url, cache_dir=cache_dir, progress=progress)
    except sources.SourceError as exc:
        report = ImportReport(notes=["not imported: the data could not be fetched"])
        report.warn(url, str(exc))
        return report
    return run(path)
