"""The one sampler: balanced, reproducible and nested train samples, and a fixed test sample."""

from __future__ import annotations

from app.sentiment.data import LabeledText, Pools, describe


def _pools(per_class: int = 12) -> Pools:
    return Pools(
        LabeledText(split, i, f"{split} {'pos' if label else 'neg'} review {i}", label)
        for split in ("train", "test")
        for label in (1, 0)
        for i in range(per_class)
    )


def test_samples_are_balanced_and_from_their_splits() -> None:
    pools = _pools()
    train, held_out = pools.train_sample(n=10, seed=0), pools.eval_sample(8)

    assert describe(train) == "10 (5 positive, 5 negative)"
    assert describe(held_out) == "8 (4 positive, 4 negative)"
    assert all(text.startswith("train ") for text, _ in train)
    assert all(text.startswith("test ") for text, _ in held_out)
    assert all(("pos" in text) == bool(label) for text, label in train + held_out)
    assert len(set(train)) == len(train)


def test_an_odd_sample_has_one_more_positive() -> None:
    assert describe(_pools().train_sample(n=7, seed=0)) == "7 (4 positive, 3 negative)"


def test_samples_depend_on_the_seed_and_the_held_out_one_on_nothing() -> None:
    pools = _pools()
    first = pools.train_sample(n=6, seed=1)

    assert pools.train_sample(n=6, seed=1) == first
    assert pools.train_sample(n=6, seed=2) != first
    assert pools.eval_sample(6) == _pools().eval_sample(6)


def test_calibration_texts_are_train_texts_the_model_does_not_learn_from() -> None:
    pools = _pools()
    train = pools.train_sample(n=10, seed=0)
    calibration = pools.calibration_sample(n=8, seed=0, disjoint_from=10)

    assert describe(calibration) == "8 (4 positive, 4 negative)"
    assert all(text.startswith("train ") for text, _ in calibration)
    assert not set(calibration) & set(train)
    # The same texts stay out of every smaller sample of that seed, too.
    assert not set(calibration) & set(pools.train_sample(n=4, seed=0))


def test_calibration_takes_what_the_train_split_can_spare() -> None:
    pools = _pools(per_class=12)

    assert describe(pools.calibration_sample(n=100, seed=0, disjoint_from=20)) == (
        "4 (2 positive, 2 negative)"
    )
    assert pools.calibration_sample(n=100, seed=0, disjoint_from=24) == []
