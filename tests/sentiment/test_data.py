"""Training and held-out samples: balanced, reproducible, cleaned, and from the right splits."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from app.sentiment.data import describe, sample_aclimdb

PER_FOLDER = 12


def write_aclimdb(parent: Path) -> Path:
    """A small aclImdb/ tree: PER_FOLDER reviews in each of train/test and pos/neg."""
    root = parent / "aclImdb"
    for split in ("train", "test"):
        for polarity, stars in (("pos", 9), ("neg", 2)):
            folder = root / split / polarity
            folder.mkdir(parents=True)
            urls = [f"http://www.imdb.com/title/tt{i:07d}/usercomments" for i in range(PER_FOLDER)]
            (root / split / f"urls_{polarity}.txt").write_text("\n".join(urls) + "\n")
            for i in range(PER_FOLDER):
                text = f"{split} {polarity} review {i}.<br /><br />Second  line."
                (folder / f"{i}_{stars}.txt").write_text(text)
    return root


@pytest.fixture
def aclimdb(tmp_path: Path) -> Path:
    return write_aclimdb(tmp_path)


def test_samples_are_balanced_cleaned_and_from_their_splits(aclimdb: Path) -> None:
    train, held_out = sample_aclimdb(source=aclimdb, n_train=10, n_eval=8, seed=0)

    assert describe(train) == "10 (5 positive, 5 negative)"
    assert describe(held_out) == "8 (4 positive, 4 negative)"
    assert all(text.startswith("train ") for text, _ in train)
    assert all(text.startswith("test ") for text, _ in held_out)
    assert all(("pos" in text) == bool(label) for text, label in train + held_out)
    assert all(text.endswith("\nSecond line.") for text, _ in train)
    assert len(set(train)) == len(train)


def test_an_odd_sample_has_one_more_positive(aclimdb: Path) -> None:
    train, held_out = sample_aclimdb(source=aclimdb, n_train=7, n_eval=0, seed=0)

    assert describe(train) == "7 (4 positive, 3 negative)"
    assert held_out == []


def test_samples_depend_on_the_seed_only(aclimdb: Path) -> None:
    first = sample_aclimdb(source=aclimdb, n_train=6, n_eval=6, seed=1)

    assert sample_aclimdb(source=aclimdb, n_train=6, n_eval=6, seed=1) == first
    assert sample_aclimdb(source=aclimdb, n_train=6, n_eval=6, seed=2) != first


def test_the_held_out_sample_does_not_change_with_the_training_size(aclimdb: Path) -> None:
    _, small = sample_aclimdb(source=aclimdb, n_train=2, n_eval=6, seed=0)
    _, large = sample_aclimdb(source=aclimdb, n_train=20, n_eval=6, seed=0)

    assert small == large


def test_asking_for_more_reviews_than_there_are_says_so(aclimdb: Path) -> None:
    with pytest.raises(ValueError, match="13 positive train reviews but .* has 12"):
        sample_aclimdb(source=aclimdb, n_train=25, n_eval=0, seed=0)
    with pytest.raises(ValueError, match="negative"):
        sample_aclimdb(source=aclimdb, n_train=-1, n_eval=0, seed=0)


def test_the_archive_and_its_unpacked_folder_give_the_same_sample(
    aclimdb: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(aclimdb, arcname="aclImdb")

    assert sample_aclimdb(source=archive, n_train=6, n_eval=4, seed=3) == sample_aclimdb(
        source=aclimdb, n_train=6, n_eval=4, seed=3
    )


def test_real_archive_sample(aclimdb_archive: Path) -> None:
    train, held_out = sample_aclimdb(source=aclimdb_archive, n_train=51, n_eval=40, seed=0)

    assert describe(train) == "51 (26 positive, 25 negative)"
    assert describe(held_out) == "40 (20 positive, 20 negative)"
    assert not any("<br" in text for text, _ in train + held_out)
