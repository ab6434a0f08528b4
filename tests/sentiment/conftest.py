"""Fixtures for the model tests: the real base encoder, the aclImdb archive, and one tiny
model fine-tuned once per test session through the same entry point as `textflix train`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings
from app.sentiment.registry import ModelCard
from app.sentiment.training import run_training

SETTINGS = Settings(_env_file=None)
ARCHIVE = SETTINGS.data_dir / "aclImdb_v1.tar.gz"

# Small enough to train in about a minute on two CPU cores, large enough to be measurably
# better than chance on TINY_EVAL held-out reviews (see test_training.py for the numbers).
TINY_TRAIN = 64
TINY_EVAL = 200
TINY_EPOCHS = 8
TINY_MAX_LENGTH = 128


@dataclass(frozen=True)
class TinyModel:
    settings: Settings
    card: ModelCard
    path: Path


@pytest.fixture(scope="session")
def base_model() -> str:
    return SETTINGS.resolved_base_model()


@pytest.fixture(scope="session")
def aclimdb_archive() -> Path:
    if not ARCHIVE.exists():
        pytest.skip(f"no aclImdb archive at {ARCHIVE}: set TEXTFLIX_DATA_DIR to its folder")
    return ARCHIVE


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, aclimdb_archive: Path) -> TinyModel:
    """A model fine-tuned on TINY_TRAIN aclImdb train reviews and scored on TINY_EVAL test ones."""
    settings = SETTINGS.model_copy(
        update={
            "models_dir": tmp_path_factory.mktemp("models"),
            "data_dir": aclimdb_archive.parent,
            "device": "cpu",
        }
    )
    card = run_training(
        settings=settings,
        name="tiny",
        n_train=TINY_TRAIN,
        n_eval=TINY_EVAL,
        seed=0,
        epochs=TINY_EPOCHS,
        max_length=TINY_MAX_LENGTH,
        progress=False,
    )
    return TinyModel(settings, card, settings.models_dir / card.name)
