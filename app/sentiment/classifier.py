"""Inference: a small swappable interface, and the fine-tuned transformer behind it.

Anything with `version` and `predict` is a Classifier (the NB-SVM baseline, the tests' fakes);
the fine-tuned model is the scoring engine (app/sentiment/engine.py), which also scores a
review's sentences from the review's own forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from app.sentiment.batching import (
    FALLBACK_MAX_TOKENS,
    UNBOUNDED_LENGTH,
    max_tokens,
    pad_batch,
    special_tokens,
)
from app.sentiment.engine import ScoringEngine, resolve_device
from app.sentiment.labels import POSITIVE
from app.sentiment.predictions import Analysis, Prediction, SentencePrediction
from app.sentiment.text import clean, split_sentences

__all__ = [
    "FALLBACK_MAX_TOKENS",
    "POSITIVE",
    "UNBOUNDED_LENGTH",
    "Analysis",
    "Classifier",
    "Prediction",
    "SentencePrediction",
    "TransformerClassifier",
    "analyze",
    "max_tokens",
    "pad_batch",
    "resolve_device",
    "special_tokens",
]

TransformerClassifier = ScoringEngine
"""The fine-tuned model behind the Classifier interface: the scoring engine."""


class Classifier(Protocol):
    """Anything that scores texts; `version` names the model that produced the scores."""

    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order; texts of any length."""
        ...


@runtime_checkable
class Analyzer(Protocol):
    """A classifier that scores a review and its sentences together (the engine)."""

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        """Each text's analysis, in order."""
        ...


def analyze(classifier: Classifier, texts: Sequence[str]) -> list[Analysis]:
    """Score whole reviews and each of their sentences: in one forward pass when the
    classifier can (the engine), else in one batched pass for the reviews and one for the
    sentences."""
    if isinstance(classifier, Analyzer):
        return classifier.analyze(texts)
    whole = classifier.predict([clean(text) for text in texts])
    per_text = [split_sentences(text) for text in texts]
    flat = [sentence for sentences in per_text for sentence in sentences]
    flat_predictions = iter(classifier.predict(flat)) if flat else iter(())
    analyses = []
    for prediction, sentences in zip(whole, per_text, strict=True):
        scored = [SentencePrediction(s, next(flat_predictions).p_positive) for s in sentences]
        analyses.append(Analysis(prediction, scored, classifier.version))
    return analyses
