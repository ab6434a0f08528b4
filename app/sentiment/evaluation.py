"""How well a classifier does on labelled examples it was not trained on."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tqdm import tqdm

from app.sentiment.classifier import Classifier, Prediction
from app.sentiment.data import Example

CHUNK = 64  # reviews per progress-bar step


def evaluate(
    *, classifier: Classifier, examples: Sequence[Example], progress: bool = True
) -> dict[str, float | int]:
    """Accuracy and friends of `classifier` on `examples`, with the seconds scoring took."""
    if not examples:
        return {"n_eval": 0}
    started = time.perf_counter()
    texts = [text for text, _ in examples]
    predictions: list[Prediction] = []
    with tqdm(total=len(texts), desc="evaluating", unit="review", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK):
            predictions.extend(classifier.predict(texts[start : start + CHUNK]))
            bar.update(len(texts[start : start + CHUNK]))
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
