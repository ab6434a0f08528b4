"""Inference: a small swappable interface, and the fine-tuned transformer behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.sentiment.text import clean, split_sentences


@dataclass(frozen=True)
class Prediction:
    p_positive: float

    @property
    def is_positive(self) -> bool:
        return self.p_positive >= 0.5

    @property
    def label(self) -> str:
        return "positive" if self.is_positive else "negative"

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


class Classifier(Protocol):
    """Anything that scores texts; `version` names the model that produced the scores."""

    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order; texts of any length."""
        ...


def analyze(classifier: Classifier, texts: Sequence[str]) -> list[Analysis]:
    """Score whole reviews and each of their sentences, in one batched pass each."""
    whole = classifier.predict([clean(text) for text in texts])
    per_text = [split_sentences(text) for text in texts]
    flat = [sentence for sentences in per_text for sentence in sentences]
    flat_predictions = iter(classifier.predict(flat)) if flat else iter(())
    analyses = []
    for prediction, sentences in zip(whole, per_text, strict=True):
        scored = [SentencePrediction(s, next(flat_predictions).p_positive) for s in sentences]
        analyses.append(Analysis(prediction, scored))
    return analyses
