"""A cascade of two engines: a cheap model reads every text, a better one only the texts the
cheap one is not sure of.

The first reader (a shallower student, such as `textflix train --recipe small --layers 2`)
scores every text, its sentences included, in one pass; a text whose certainty (the larger of
P(positive) and P(negative), calibrated: the temperature is folded into each model's head) is
below `certainty` is read again by the second model, whose scores, the review's and its
sentences', replace the first's. So the cascade costs the first reader's pass plus the second's
on the unsure share, and is as accurate as the second wherever the first is unsure. Every
result carries the cascade's version, whichever model read it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

from app.sentiment.backends import ACCURACY_TOLERANCE
from app.sentiment.engine import Prepared, ScoringEngine
from app.sentiment.labels import label_of
from app.sentiment.predictions import Analysis, Kind, Prediction

FILE_NAME = "cascade.json"
"""In a cascade's model folder: its two models' folder names and its certainty (Members)."""
CERTAINTIES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 1.0)
"""The certainties `choose_certainty` tries, from the first reader deciding every text to the
second reading every text again."""


@dataclass(frozen=True)
class Members:
    """A cascade as saved: the folders (names, beside the cascade's own) of its first reader
    and its second model, and the certainty below which the second reads a text again."""

    first: str
    second: str
    certainty: float

    def save(self, folder: Path) -> None:
        (folder / FILE_NAME).write_text(json.dumps(asdict(self), indent=1) + "\n", "utf-8")

    @classmethod
    def load(cls, folder: Path) -> Members:
        data = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
        return cls(str(data["first"]), str(data["second"]), float(data["certainty"]))


@dataclass(frozen=True)
class Choice:
    """A certainty measured on held-out labeled texts: the cascade's accuracy there, the
    second model's alone, and the share of texts the second read again."""

    certainty: float
    accuracy: float
    second_accuracy: float
    read_again: float


def choose_certainty(
    first: Sequence[float],
    second: Sequence[float],
    labels: Sequence[int],
    *,
    tolerance: float = ACCURACY_TOLERANCE,
) -> Choice:
    """The lowest of CERTAINTIES (the fewest texts read twice, so the fastest cascade) whose
    accuracy on these held-out texts stays within `tolerance` of the second model's alone:
    the rule that picks a backend (backends.pick), applied to the cascade. `first` and `second`
    are each model's P(positive) of the same texts, in order."""
    if not labels or not len(first) == len(second) == len(labels):
        raise ValueError("choosing a certainty needs both models' scores of the same texts")

    def accuracy(scores: Sequence[float]) -> float:
        return sum(label_of(p) == y for p, y in zip(scores, labels, strict=True)) / len(labels)

    alone = accuracy(second)
    for certainty in CERTAINTIES:
        again = [max(p, 1.0 - p) < certainty for p in first]
        merged = [b if a else p for p, b, a in zip(first, second, again, strict=True)]
        choice = Choice(certainty, accuracy(merged), alone, sum(again) / len(again))
        if choice.accuracy >= alone - tolerance:
            return choice
    return choice  # 1.0: the second reads again every text the first is not entirely sure of


@dataclass
class CascadePrepared:
    """A call to the cascade up to the first reader's pass (see Cascade.prepare)."""

    kind: Kind
    texts: list[str]
    first: Prepared


@dataclass
class Reading:
    """How many texts the cascade has read, and how many of them its second model read again."""

    texts: int = 0
    read_again: int = 0

    @property
    def share_read_again(self) -> float:
        return self.read_again / self.texts if self.texts else 0.0


class Cascade:
    """Two scoring engines as one classifier (see the module's docstring), with the engine's
    interface: `predict`, `analyze`, and `prepare` / `run` for the dynamic batcher."""

    def __init__(
        self,
        first: ScoringEngine,
        second: ScoringEngine,
        *,
        certainty: float,
        version: str | None = None,
    ) -> None:
        if not 0.5 <= certainty <= 1.0:
            raise ValueError(
                f"certainty {certainty}: a share between 0.5 (the first reader decides every "
                "text) and 1.0 (the second reads every text again)"
            )
        self.first = first
        self.second = second
        self.certainty = certainty
        self.version = version or f"{first.version}+{second.version}@{certainty:g}"
        self.reading = Reading()
        self._lock = threading.Lock()  # runs from several threads (scorer, batcher) count here

    @property
    def backend(self) -> str:
        """How its two models run, first>second (as ScoringEngine.backend, for display)."""
        return f"{self.first.backend}>{self.second.backend}"

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order (see ScoringEngine.predict)."""
        [predictions] = self.run([self.prepare("predict", texts)])
        return cast(list[Prediction], predictions)

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        """Each review and its sentences, scored by the model that decides it."""
        [analyses] = self.run([self.prepare("analyze", texts)])
        return cast(list[Analysis], analyses)

    def prepare(self, kind: Kind, texts: Sequence[str]) -> CascadePrepared:
        """The first reader's preparation of `texts` (tokenising, windows)."""
        return CascadePrepared(kind, list(texts), self.first.prepare(kind, texts))

    def run(self, prepared: Sequence[CascadePrepared]) -> list[list[Prediction] | list[Analysis]]:
        """Each prepared call's results, in order: every text from the first reader's pass over
        all calls together, then the unsure ones from the second model's pass over them."""
        firsts = cast(
            list[list[Prediction | Analysis]], self.first.run([part.first for part in prepared])
        )
        unsure = [
            [index for index, result in enumerate(results) if _certainty(result) < self.certainty]
            for results in firsts
        ]
        again = cast(
            list[list[Prediction | Analysis]],
            self.second.run(
                [
                    self.second.prepare(part.kind, [part.texts[index] for index in indices])
                    for part, indices in zip(prepared, unsure, strict=True)
                ]
            ),
        )
        merged: list[list[Prediction] | list[Analysis]] = []
        for results, indices, second in zip(firsts, unsure, again, strict=True):
            combined: list[Prediction | Analysis] = list(results)
            for index, result in zip(indices, second, strict=True):
                combined[index] = result
            merged.append(cast(list[Prediction] | list[Analysis], self._stamped(combined)))
        with self._lock:
            self.reading.texts += sum(len(results) for results in firsts)
            self.reading.read_again += sum(len(indices) for indices in unsure)
        return merged

    def _stamped(self, results: list[Prediction | Analysis]) -> list[Prediction | Analysis]:
        """Analyses carry the cascade's version, whichever of its models read them."""
        return [
            dataclasses.replace(result, model_version=self.version)
            if isinstance(result, Analysis)
            else result
            for result in results
        ]


def _certainty(result: Prediction | Analysis) -> float:
    prediction = result.prediction if isinstance(result, Analysis) else result
    return prediction.certainty
