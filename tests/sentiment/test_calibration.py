"""Temperature scaling recovers a known over-confidence, keeps every label, and the
calibration error measures what it says."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch

from app.sentiment.calibration import (
    Calibration,
    expected_calibration_error,
    fit_temperature,
    fold_into_head,
    margin,
    reliability,
    with_temperature,
)
from app.sentiment.labels import label_of


def _overconfident(n: int, temperature: float, seed: int = 0) -> tuple[list[float], list[int]]:
    """Scores whose true margins are drawn at random and whose labels follow them honestly,
    reported as if the margins were `temperature` times larger."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    scores, labels = [], []
    for _ in range(n):
        true_margin = rng.gauss(0.0, 2.5)
        labels.append(int(rng.random() < 1 / (1 + math.exp(-true_margin))))
        scores.append(1 / (1 + math.exp(-true_margin * temperature)))
    return scores, labels


def test_fit_temperature_recovers_a_known_overconfidence() -> None:
    scores, labels = _overconfident(20_000, temperature=3.0)

    assert fit_temperature(scores, labels) == pytest.approx(3.0, rel=0.08)


def test_honest_scores_keep_a_temperature_near_one() -> None:
    scores, labels = _overconfident(20_000, temperature=1.0, seed=1)

    assert fit_temperature(scores, labels) == pytest.approx(1.0, rel=0.08)


def test_calibration_lowers_the_error_and_keeps_every_label() -> None:
    scores, labels = _overconfident(5_000, temperature=4.0, seed=2)
    temperature = fit_temperature(scores, labels)
    calibrated = [with_temperature(p, temperature) for p in scores]

    before = expected_calibration_error(reliability(scores, labels))
    after = expected_calibration_error(reliability(calibrated, labels))

    assert before > 0.1
    assert after < 0.03
    assert [label_of(p) for p in calibrated] == [label_of(p) for p in scores]


def test_reliability_bins_cover_every_verdict_once() -> None:
    bins = reliability([0.5, 0.55, 0.2, 0.99, 1.0, 0.0], [1, 0, 0, 1, 0, 1])

    assert len(bins) == 10
    assert sum(b.count for b in bins) == 6
    assert (bins[0].lower, bins[-1].upper) == (0.5, 1.0)
    # Certainty 1.0 (p = 1.0 and p = 0.0) lands in the last bin: one right, one wrong.
    assert bins[-1].count == 3 and bins[-1].accuracy == pytest.approx(1 / 3)


def test_a_perfectly_calibrated_bin_has_no_error_and_a_wrong_one_has_all() -> None:
    assert expected_calibration_error(reliability([0.95] * 20, [1] * 19 + [0])) == pytest.approx(
        0.0
    )
    assert expected_calibration_error(reliability([0.95] * 4, [0] * 4)) == pytest.approx(0.95)
    assert expected_calibration_error([]) == 0.0


def test_fit_temperature_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError):
        fit_temperature([0.3, 0.6], [1])
    with pytest.raises(ValueError):
        fit_temperature([], [])


def test_folding_the_temperature_into_the_head_divides_its_logits() -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 2)
    features = torch.randn(16, 8)
    logits = head(features)

    fold_into_head(head, 2.5)

    assert torch.allclose(head(features), logits / 2.5, atol=1e-6)
    p = torch.softmax(logits, dim=-1)[:, 1]
    folded = torch.softmax(head(features), dim=-1)[:, 1]
    for raw, after in zip(p.tolist(), folded.tolist(), strict=True):
        assert after == pytest.approx(with_temperature(raw, 2.5), abs=1e-5)


def test_margin_inverts_the_logistic() -> None:
    for p in (0.01, 0.3, 0.5, 0.8, 0.999):
        assert 1 / (1 + math.exp(-margin(p))) == pytest.approx(p)


def test_calibration_round_trips_through_its_file(tmp_path: Path) -> None:
    scores, labels = _overconfident(500, temperature=2.0, seed=3)
    calibration = Calibration(
        temperature=2.0,
        n_fit=500,
        before=reliability(scores, labels),
        after=reliability([with_temperature(p, 2.0) for p in scores], labels),
    )
    calibration.save(tmp_path)

    assert Calibration.load(tmp_path) == calibration
    assert Calibration.load(tmp_path / "elsewhere") is None
