"""Labeled texts, and the one way to sample them: for `textflix train`, for evaluation and for
the learning curve alike.

The application adapts its data (aclImdb, people's labels in the database) into `LabeledText`s;
this module only sees texts, labels and stable ids. A `Pools` holds a *train* split, which
samples to learn from come from, and a *test* split, which is only ever evaluated on.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.sentiment.labels import NEGATIVE, POSITIVE

Example = tuple[str, int]
"""A cleaned text and its label (1 positive, 0 negative)."""

SoftExample = tuple[str, float]
"""A cleaned text and a probability that it is positive (a teacher's, or 0.0/1.0 for a label)."""

SPLITS = ("train", "test")


@dataclass(frozen=True)
class LabeledText:
    """One labeled text of a split; `key` is stable (a dataset id) so samples are reproducible."""

    split: str  # "train" or "test"
    key: int
    text: str  # cleaned (text.clean)
    label: int


class Pools:
    """Both splits in memory, sampled reproducibly and in balance."""

    def __init__(self, texts: Iterable[LabeledText]) -> None:
        pools: dict[tuple[str, int], list[LabeledText]] = defaultdict(list)
        for item in texts:
            if item.split not in SPLITS:
                raise ValueError(f"unknown split {item.split!r}: one of {SPLITS}")
            pools[item.split, item.label].append(item)
        # Sorting makes samples independent of reading order (archive vs unpacked folder).
        self._pools = {key: sorted(pool, key=lambda item: item.key) for key, pool in pools.items()}

    def size(self, split: str) -> int:
        """How many labeled texts `split` holds."""
        return sum(len(pool) for (name, _), pool in self._pools.items() if name == split)

    def train_sample(self, *, n: int, seed: int) -> list[Example]:
        """n balanced train texts (one more positive when n is odd); for one seed, a smaller
        sample is part of a larger one, so a learning curve adds labels rather than swapping."""
        if n < 0:
            raise ValueError(f"cannot sample {n} texts")
        chosen = [
            item
            for label, count in _halves(n)
            for item in self._shuffled("train", label, seed, wanted=count)[:count]
        ]
        _rng(f"order-{seed}-{n}").shuffle(chosen)
        return _examples(chosen)

    def calibration_sample(self, *, n: int, seed: int, disjoint_from: int) -> list[Example]:
        """Up to n balanced train texts outside `train_sample(n=disjoint_from, seed=seed)`
        (taken from the other end of the same shuffle), to calibrate a model on texts it never
        learned from; fewer when the split has fewer to spare. The test split stays for
        evaluation alone."""
        used = dict(_halves(disjoint_from))
        pools = {label: self._shuffled("train", label, seed, wanted=used[label]) for label in used}
        per_label = max(0, min(n // 2, *(len(pools[label]) - used[label] for label in pools)))
        chosen = [item for pool in pools.values() for item in pool[len(pool) - per_label :]]
        return _examples(chosen)

    def eval_sample(self, size: int | None) -> list[Example]:
        """`size` balanced test texts, the same for every model and seed (None: all of them)."""
        if size is None:
            return _examples(self._pools.get(("test", 1), []) + self._pools.get(("test", 0), []))
        rng = _rng("eval")
        chosen: list[LabeledText] = []
        for label, count in _halves(size):
            chosen.extend(rng.sample(self._pool("test", label, count), count))
        return _examples(chosen)

    def train_texts(self) -> list[str]:
        """Every train text without its label (negatives first): unlabeled in-domain text."""
        return [item.text for item in self._pools.get(("train", 0), [])] + [
            item.text for item in self._pools.get(("train", 1), [])
        ]

    def _shuffled(self, split: str, label: int, seed: int, *, wanted: int) -> list[LabeledText]:
        pool = list(self._pool(split, label, wanted))
        _rng(f"{split}-{label}-{seed}").shuffle(pool)
        return pool

    def _pool(self, split: str, label: int, wanted: int) -> list[LabeledText]:
        pool = self._pools.get((split, label), [])
        if wanted > len(pool):
            polarity = "positive" if label == POSITIVE else "negative"
            raise ValueError(f"asked for {wanted} {polarity} {split} texts; there are {len(pool)}")
        return pool


def describe(examples: Sequence[Example]) -> str:
    """How many examples there are of each label, for model cards and logs."""
    positive = sum(label == POSITIVE for _, label in examples)
    return f"{len(examples)} ({positive} positive, {len(examples) - positive} negative)"


def _halves(n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    return ((POSITIVE, (n + 1) // 2), (NEGATIVE, n // 2))


def _rng(name: str) -> random.Random:
    # String seeds hash the same in every process, so samples are the same on every run. The
    # prefix keeps the samples the learning curve in bench/ was measured on.
    return random.Random(f"learning-curve-{name}")  # noqa: S311 (sampling, not secrets)


def _examples(items: Iterable[LabeledText]) -> list[Example]:
    return [(item.text, item.label) for item in items]
