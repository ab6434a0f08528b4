"""How well a classifier does on labelled examples it was not trained on."""

from __future__ import annotations

import time
from collections.abc import Sequence

from app.sentiment.classifier import Classifier
from app.sentiment.data import Example


def evaluate(*, classifier: Classifier, examples: Sequence[Example]) -> dict[str, float | int]:
    """Accuracy and friends of `classifier` on `examples`, with the seconds scoring took."""
    if not examples:
        return {"n_eval": 0}
    started = time.perf_counter()
    predictions = classifier.predict([text for text, _ in examples])
    seconds = time.perf_counter() - started
    guesses = [int(prediction.is_positive) for prediction in predictions]
    labels = [label for _, label in examples]
    correct = sum(guess == label for guess, label in zip(guesses, labels, strict=True))
    return {
        "accuracy": correct / len(examples),
        "n_eval": len(examples),
        # A share far from the labels' own share shows a model leaning to one side.
        "predicted_positive": sum(guesses) / len(examples),
        "eval_seconds": round(seconds, 1),
    }
