"""Labelled examples for training and evaluation, sampled from the aclImdb dataset."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from app.importers.aclimdb import AclImdbReview, iter_reviews
from app.sentiment.text import clean

log = logging.getLogger(__name__)

Example = tuple[str, int]
"""A cleaned review text and its label (1 positive, 0 negative)."""


def sample_aclimdb(
    *, source: Path, n_train: int, n_eval: int, seed: int
) -> tuple[list[Example], list[Example]]:
    """A balanced random sample of the train split and a balanced held-out one of the test split."""
    wanted = {"train": n_train, "test": n_eval}
    if min(wanted.values()) < 0:
        raise ValueError(f"cannot sample a negative number of reviews: {wanted}")
    splits = [split for split, n in wanted.items() if n]
    pools: dict[tuple[str, int], list[AclImdbReview]] = defaultdict(list)
    for review in iter_reviews(source, splits=splits, on_error=_skip):
        pools[review.split, review.label].append(review)
    train = _balanced_sample(pools, split="train", n=n_train, seed=seed, source=source)
    held_out = _balanced_sample(pools, split="test", n=n_eval, seed=seed, source=source)
    return train, held_out


def _skip(location: str, reason: str) -> None:
    # One unreadable review should not stop a training run; the sample just skips it.
    log.warning("skipping %s: %s", location, reason)


def _balanced_sample(
    pools: dict[tuple[str, int], list[AclImdbReview]],
    *,
    split: str,
    n: int,
    seed: int,
    source: Path,
) -> list[Example]:
    # Seeding with the split's name keeps the held-out sample of a seed the same however many
    # training reviews are asked for, so models trained on different amounts compare fairly.
    rng = random.Random(f"aclimdb-{split}-{seed}")  # noqa: S311 (sampling, not secrets)
    chosen: list[AclImdbReview] = []
    for label, count in ((1, (n + 1) // 2), (0, n // 2)):
        # Sorting makes the sample independent of file order, which differs between the
        # archive and an unpacked directory.
        pool = sorted(pools[split, label], key=lambda review: review.review_id)
        if count > len(pool):
            polarity = "positive" if label else "negative"
            raise ValueError(
                f"asked for {count} {polarity} {split} reviews but {source} has {len(pool)}"
            )
        chosen.extend(rng.sample(pool, count))
    rng.shuffle(chosen)
    return [(clean(review.text), review.label) for review in chosen]


def describe(examples: Sequence[Example]) -> str:
    """How many examples there are of each label, for model cards and logs."""
    positive = sum(label for _, label in examples)
    return f"{len(examples)} ({positive} positive, {len(examples) - positive} negative)"
