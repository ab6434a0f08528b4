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

import torch

from app.sentiment.classifier import Classifier
from app.sentiment.data import SoftExample
from app.sentiment.evaluation import predict_all


def text_windows(texts: Sequence[str], *, words: int, seed: int, view: int = 0) -> list[str]:
    """One random stretch of `words` words of each text (the whole of a shorter one); each
    `view` draws the stretches afresh (view 0 is the one a single pass reads)."""
    name = f"distillation-windows-{seed}" + (f"-view-{view}" if view else "")
    rng = random.Random(name)  # noqa: S311 (sampling, not secrets)
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


_CLIP = 1e-6
"""Soft labels are kept this far from 0 and 1 when read back as logits."""


def soft_cross_entropy(
    logits: torch.Tensor, p_positive: torch.Tensor, temperature: torch.Tensor
) -> torch.Tensor:
    """The batch's mean cross-entropy between the model's two-label distributions and the
    targets (1 - p, p), each row at its temperature T: the target's logit and the model's
    logits divided by T and the row's loss multiplied by T² so that its gradients keep their
    size (Hinton et al., 2015). At T = 1 it is the plain cross-entropy with (1 - p, p), labels
    (p = 0 or 1) included; as T grows it approaches matching the teacher's logits."""
    p = p_positive.float()
    t = temperature.float()
    clipped = p.clamp(_CLIP, 1 - _CLIP)
    softened = torch.sigmoid((torch.log(clipped) - torch.log1p(-clipped)) / t)
    target = torch.where(t == 1, p, softened)
    log_probs = torch.log_softmax(logits.float() / t.unsqueeze(1), dim=1)
    per_row = -((1 - target) * log_probs[:, 0] + target * log_probs[:, 1])
    return (per_row * t**2).mean()
