"""Knowledge distillation: a teacher's soft labels on unlabeled texts for a student to learn from
(Hinton et al., 2015; as self-training when the teacher is an earlier student, Xie et al.'s
"noisy student": the student trains with dropout and random windows, the teacher scores
without either).

The teacher reads the same stretch of text the student will train on: each unlabeled review
is cut to one random stretch of words short enough for the student's training window, so
the soft label describes exactly what the student sees.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from app.sentiment.classifier import Classifier
from app.sentiment.data import SoftExample
from app.sentiment.evaluation import predict_all


def text_windows(texts: Sequence[str], *, words: int, seed: int) -> list[str]:
    """One random stretch of `words` words of each text (the whole of a shorter one)."""
    rng = random.Random(f"distillation-windows-{seed}")  # noqa: S311 (sampling, not secrets)
    windows = []
    for text in texts:
        tokens = text.split()
        start = rng.randrange(len(tokens) - words + 1) if len(tokens) > words else 0
        windows.append(" ".join(tokens[start : start + words]))
    return windows


def soft_labels(
    *, teacher: Classifier, texts: Sequence[str], progress: bool = True
) -> list[SoftExample]:
    """Each text with the teacher's probability that it is positive."""
    predictions = predict_all(
        classifier=teacher, texts=texts, progress=progress, desc="teacher labeling"
    )
    return [(text, p.p_positive) for text, p in zip(texts, predictions, strict=True)]
