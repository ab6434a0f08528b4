"""How well a classifier does on labelled examples it was not trained on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from app.sentiment.calibration import expected_calibration_error, reliability
from app.sentiment.classifier import Classifier, Prediction
from app.sentiment.data import Example

CHUNK = 64  # texts per progress-bar step
Metrics = dict[str, float | int]


@dataclass(frozen=True)
class Evaluation:
    """A classifier's scores of held-out examples, with the seconds scoring took."""

    p_positive: list[float]
    labels: list[int]
    seconds: float

    def metrics(self) -> Metrics:
        """Accuracy, calibration error and the share predicted positive (empty if no examples)."""
        n = len(self.labels)
        if not n:
            return {"n_eval": 0}
        guesses = [int(Prediction(p).is_positive) for p in self.p_positive]
        correct = sum(guess == label for guess, label in zip(guesses, self.labels, strict=True))
        return {
            "accuracy": correct / n,
            "n_eval": n,
            "ece": round(expected_calibration_error(reliability(self.p_positive, self.labels)), 4),
            # A share far from the labels' own share shows a model leaning to one side.
            "predicted_positive": sum(guesses) / n,
            "eval_seconds": round(self.seconds, 1),
        }


def score_examples(
    *, classifier: Classifier, examples: Sequence[Example], progress: bool = True
) -> Evaluation:
    """Score `examples` with `classifier`, with a progress bar."""
    started = time.perf_counter()
    predictions = predict_all(
        classifier=classifier, texts=[text for text, _ in examples], progress=progress
    )
    return Evaluation(
        p_positive=[prediction.p_positive for prediction in predictions],
        labels=[label for _, label in examples],
        seconds=time.perf_counter() - started,
    )


def predict_all(
    *,
    classifier: Classifier,
    texts: Sequence[str],
    progress: bool = True,
    desc: str = "evaluating",
) -> list[Prediction]:
    """`classifier`'s predictions of `texts`, in chunks, with a progress bar."""
    predictions: list[Prediction] = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            predictions.extend(classifier.predict(chunk))
            bar.update(len(chunk))
    return predictions


def evaluate(
    *, classifier: Classifier, examples: Sequence[Example], progress: bool = True
) -> Metrics:
    """Accuracy and friends of `classifier` on `examples`, with the seconds scoring took."""
    return score_examples(classifier=classifier, examples=examples, progress=progress).metrics()
