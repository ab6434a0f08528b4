"""The aclImdb adapter: the archive and its unpacked folder give the same cleaned pools."""

from __future__ import annotations

import tarfile
from pathlib import Path

from app.config import Settings
from app.lifecycle.datasets import aclimdb_pools, aclimdb_source, calibration_texts, local_pools
from app.sentiment.data import describe
from tests.importers.datasets import write_aclimdb


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]


def test_the_archive_and_its_unpacked_folder_give_the_same_samples(tmp_path: Path) -> None:
    folder_data, archive_data = tmp_path / "folder", tmp_path / "archive"
    root = write_aclimdb(folder_data)
    archive_data.mkdir()
    with tarfile.open(archive_data / "aclImdb_v1.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="aclImdb")

    from_folder = aclimdb_pools(settings=_settings(folder_data), progress=False)
    from_archive = aclimdb_pools(settings=_settings(archive_data), progress=False)

    assert aclimdb_source(settings=_settings(archive_data)).name == "aclImdb_v1.tar.gz"
    assert from_folder.train_sample(n=2, seed=3) == from_archive.train_sample(n=2, seed=3)
    assert from_folder.eval_sample(2) == from_archive.eval_sample(2)
    assert not any("<br" in text for text, _ in from_folder.eval_sample(None))


def test_real_archive_sample(aclimdb_archive: Path) -> None:
    pools = aclimdb_pools(settings=_settings(aclimdb_archive.parent), progress=False)
    train, held_out = pools.train_sample(n=51, seed=0), pools.eval_sample(40)

    assert describe(train) == "51 (26 positive, 25 negative)"
    assert describe(held_out) == "40 (20 positive, 20 negative)"
    assert not any("<br" in text for text, _ in train + held_out)
    assert pools.size("train") == pools.size("test") == 25_000


def test_int8_calibrates_on_train_reviews_only_and_never_downloads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_aclimdb(data)
    settings = _settings(data)
    every = aclimdb_pools(settings=settings, progress=False)

    texts = calibration_texts(local_pools(settings=settings))

    assert texts and set(texts) <= set(every.train_texts())
    assert not set(texts) & {text for text, _ in every.eval_sample(None)}
    assert texts == calibration_texts(local_pools(settings=settings))  # the same every time
    assert calibration_texts(local_pools(settings=_settings(tmp_path / "empty"))) == []
