"""Fixtures for the model tests: the real base encoder, the aclImdb archive, and one tiny
model fine-tuned once per test session through the same service as `textflix train`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings
from app.lifecycle.versions import TrainRequest, train_version
from app.sentiment.arguments import TrainingArguments
from app.sentiment.registry import ModelCard

SETTINGS = Settings(_env_file=None)

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
def tiny_model(tmp_path_factory: pytest.TempPathFactory, aclimdb_archive: Path) -> TinyModel:
    """A model fine-tuned on TINY_TRAIN aclImdb train reviews and scored on TINY_EVAL test ones."""
    settings = SETTINGS.model_copy(
        update={
            "models_dir": tmp_path_factory.mktemp("models"),
            "data_dir": aclimdb_archive.parent,
            "device": "cpu",
        }
    )
    args = TrainingArguments(seed=0, epochs=TINY_EPOCHS, max_length=TINY_MAX_LENGTH, device="cpu")
    request = TrainRequest(name="tiny", n_train=TINY_TRAIN, n_eval=TINY_EVAL, args=args)
    card = train_version(settings=settings, request=request, progress=False).card
    return TinyModel(settings, card, settings.models_dir / card.name)
