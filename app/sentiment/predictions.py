"""What scoring returns: a text's prediction, and a review's analysis with its sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.sentiment.labels import is_positive, name_of

Kind = Literal["predict", "analyze"]
"""What a caller asks a classifier for: whole texts only, or texts and their sentences."""


@dataclass(frozen=True)
class Prediction:
    p_positive: float

    @property
    def is_positive(self) -> bool:
        return is_positive(self.p_positive)

    @property
    def label(self) -> str:
        return name_of(self.p_positive)

    @property
    def certainty(self) -> float:
        return max(self.p_positive, 1.0 - self.p_positive)


@dataclass(frozen=True)
class SentencePrediction:
    text: str
    p_positive: float


@dataclass(frozen=True)
class Analysis:
    """A whole review's score and the scores of its sentences, in order."""

    prediction: Prediction
    sentences: list[SentencePrediction]
    model_version: str
