"""Honest certainty: temperature scaling (Guo et al., 2017) and how to measure calibration.

A fine-tuned classifier is over-confident: it says "100% certain" of reviews it gets wrong.
Dividing its logits by one temperature T, fitted on held-out labeled texts, keeps every label
(the sign of the logit margin does not change) and makes its probabilities mean what they say.
With a linear head, dividing the logits by T is dividing the head's weights and bias by T, so
the calibrated model is saved as an ordinary model and every score it gives is calibrated.

Calibration is measured by the expected calibration error (ECE): reviews are binned by the
certainty of their verdict (0.5..1), and the gaps between each bin's mean certainty and its
accuracy are averaged, weighted by the bin's size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from app.sentiment.labels import label_of

BINS = 10
FILE_NAME = "calibration.json"
MIN_FIT_TEXTS = 50
"""With fewer held-out labeled texts than this the temperature would be noise: no calibration."""
_EPSILON = 1e-7
# Searched on a log scale: T from about 0.05 (sharpen) to 20 (soften).
_LOG_T_RANGE = (-3.0, 3.0)


@dataclass(frozen=True)
class ReliabilityBin:
    """Held-out texts whose verdict's certainty fell in [lower, upper)."""

    lower: float
    upper: float
    count: int
    certainty: float  # mean certainty of the verdicts in the bin
    accuracy: float  # share of those verdicts that were right


@dataclass(frozen=True)
class Calibration:
    """What calibration did, kept beside the model (`calibration.json`) for How it works."""

    temperature: float
    n_fit: int  # labeled texts the temperature was fitted on
    before: list[ReliabilityBin]  # on the held-out texts, with T = 1
    after: list[ReliabilityBin]

    def save(self, folder: Path) -> None:
        (folder / FILE_NAME).write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """The calibration saved in a model folder, or None if it has none."""
        path = folder / FILE_NAME
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            temperature=float(data["temperature"]),
            n_fit=int(data["n_fit"]),
            before=[ReliabilityBin(**item) for item in data["before"]],
            after=[ReliabilityBin(**item) for item in data["after"]],
        )


def margin(p_positive: float) -> float:
    """The logit margin (positive minus negative logit) behind a probability."""
    p = min(max(p_positive, _EPSILON), 1.0 - _EPSILON)
    return math.log(p / (1.0 - p))


def with_temperature(p_positive: float, temperature: float) -> float:
    """The probability after dividing the logits behind `p_positive` by `temperature`."""
    return 1.0 / (1.0 + math.exp(-margin(p_positive) / temperature))


def fit_temperature(p_positive: Sequence[float], labels: Sequence[int]) -> float:
    """The temperature that minimises the log loss of these scores on their labels."""
    if len(p_positive) != len(labels) or not labels:
        raise ValueError("fitting a temperature needs as many labels as scores, and some")
    margins = torch.tensor([margin(p) for p in p_positive], dtype=torch.float64)
    targets = torch.tensor(labels, dtype=torch.float64)

    def loss(log_t: float) -> float:
        scaled = margins / math.exp(log_t)
        return float(torch.nn.functional.binary_cross_entropy_with_logits(scaled, targets))

    # The loss is unimodal in log T: a golden-section search finds its minimum deterministically.
    low, high = _LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    for _ in range(60):
        if loss(a) < loss(b):
            high, b = b, a
            a = high - ratio * (high - low)
        else:
            low, a = a, b
            b = low + ratio * (high - low)
    return math.exp((low + high) / 2)


def reliability(
    p_positive: Sequence[float], labels: Sequence[int], *, bins: int = BINS
) -> list[ReliabilityBin]:
    """Verdicts binned by certainty (0.5..1), with each bin's mean certainty and accuracy."""
    width = 0.5 / bins
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, label in zip(p_positive, labels, strict=True):
        certainty = max(p, 1.0 - p)
        index = min(bins - 1, int((certainty - 0.5) / width))
        grouped[index].append((certainty, label_of(p) == label))
    return [
        ReliabilityBin(
            lower=round(0.5 + i * width, 4),
            upper=round(0.5 + (i + 1) * width, 4),
            count=len(group),
            certainty=sum(c for c, _ in group) / len(group) if group else 0.0,
            accuracy=sum(right for _, right in group) / len(group) if group else 0.0,
        )
        for i, group in enumerate(grouped)
    ]


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """The size-weighted mean gap between certainty and accuracy over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return 0.0
    return sum(b.count * abs(b.certainty - b.accuracy) for b in bins) / total


def fold_into_head(head: torch.nn.Linear, temperature: float) -> None:
    """Divide a linear head's weights and bias by `temperature`: its logits become logits / T."""
    with torch.no_grad():
        head.weight.div_(temperature)
        if head.bias is not None:
            head.bias.div_(temperature)
