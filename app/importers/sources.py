"""Where import data comes from: a local path, or a URL fetched once into a cache folder."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm


class SourceError(Exception):
    """A data source that cannot be found or fetched; the message says what to do."""


def is_url(location: str) -> bool:
    return urlparse(location).scheme in {"http", "https", "ftp"}


def resolve(location: str | Path, *, cache_dir: Path, progress: bool = True) -> Path:
    """A local path for `location`, downloading a URL into `cache_dir` the first time."""
    text = str(location)
    if not is_url(text):
        path = Path(text).expanduser()
        if not path.exists():
            raise SourceError(f"{path}: no such file or directory")
        return path
    name = Path(urlparse(text).path).name or "download"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target = cache_dir / f"{digest}-{name}"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(text, timeout=60) as response:  # noqa: S310 (scheme checked)
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(partial, "wb") as out,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=name, disable=not progress
                ) as bar,
            ):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SourceError(f"could not download {text}: {exc}") from exc
    shutil.move(partial, target)
    return target
