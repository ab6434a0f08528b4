"""The cascade of two engines: the texts its first reader is unsure of, and only those, take the
second model's scores (review and sentences); through the dynamic batcher too.

The second model here is the first with its head negated, so it gives every text (and every
sentence) exactly 1 - P(positive): which model read what shows in every score."""

from __future__ import annotations

import copy
import dataclasses
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from app.lifecycle.versions import CascadeRequest, make_cascade
from app.sentiment import versions
from app.sentiment.anchors import anchor_head
from app.sentiment.cascade import Cascade
from app.sentiment.classifier import analyze
from app.sentiment.dynamic_batching import DynamicBatcher
from app.sentiment.engine import ScoringEngine
from app.sentiment.modeling import new_classifier
from app.sentiment.predictions import Analysis
from app.sentiment.registry import (
    CASCADE,
    NBSVM,
    ModelNotFoundError,
    current_model_dir,
    read_card,
    write_card,
)
from app.sentiment.text import clean
from tests.sentiment.conftest import TINY_EVAL, TinyModel

TOLERANCE = 1e-6
"""The negated head differs from the other in its signs alone, and both pool in float64; but the
texts read again are batched among fewer texts (other padding, other shapes of matrix product),
where fp32 kernels may round differently: up to 1.7e-8 apart on an AMD host with AVX-512."""
TEXTS = [
    "A wonderful film.<br /><br />The acting is superb and the music soars!",
    "I hated every minute of it; a dull, lifeless mess. The worst film of the year.",
    "It was fine. Some scenes worked, others did not.",
    "The first act is slow. But the ending is moving, and beautifully shot.",
    "Short.",
    "A masterpiece of tension. I was on the edge of my seat; see it twice.",
]


@pytest.fixture(scope="module")
def engines(base_model: str) -> tuple[ScoringEngine, ScoringEngine]:
    """The real encoder with the label-anchor head, and the same with its head negated."""
    model, tokenizer = new_classifier(base_model=base_model, max_length=64)
    anchor_head(model, tokenizer, texts=[clean(text) for text in TEXTS], seed=0)
    return _engine(model, tokenizer, "first"), _engine(_negated(model), tokenizer, "second")


def _engine(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str) -> ScoringEngine:
    return ScoringEngine(model.eval(), tokenizer, version=name, device="cpu", backend="fp32")


def _negated(model: PreTrainedModel) -> PreTrainedModel:
    negated = copy.deepcopy(model)
    with torch.no_grad():
        negated.classifier.weight.neg_()
        negated.classifier.bias.neg_()
    return negated


def scores(analysis: Analysis) -> list[float]:
    return [analysis.prediction.p_positive] + [s.p_positive for s in analysis.sentences]


def test_only_the_texts_the_first_reader_is_unsure_of_are_read_again(
    engines: tuple[ScoringEngine, ScoringEngine],
) -> None:
    first, second = engines
    alone = first.analyze(TEXTS)
    certainties = [a.prediction.certainty for a in alone]
    threshold = statistics.median(certainties)
    unsure = [c < threshold for c in certainties]
    assert any(unsure) and not all(unsure)  # the test means something only with both kinds
    cascade = Cascade(first, second, certainty=threshold, version="both")

    analyses = cascade.analyze(TEXTS)

    for analysis, own, again in zip(analyses, alone, unsure, strict=True):
        expected = [1 - p for p in scores(own)] if again else scores(own)
        assert scores(analysis) == pytest.approx(expected, abs=TOLERANCE)
        assert [s.text for s in analysis.sentences] == [s.text for s in own.sentences]
        assert analysis.model_version == "both"
    # predict reads texts as given (analyze cleans them of markup): its own certainties.
    plain = first.predict(TEXTS)
    again_plain = [p.certainty < threshold for p in plain]
    assert [p.p_positive for p in cascade.predict(TEXTS)] == pytest.approx(
        [1 - p.p_positive if u else p.p_positive for p, u in zip(plain, again_plain, strict=True)],
        abs=TOLERANCE,
    )
    assert (cascade.reading.texts, cascade.reading.read_again) == (
        2 * len(TEXTS),
        sum(unsure) + sum(again_plain),
    )


@pytest.mark.parametrize(("certainty", "read_again"), [(0.5, False), (1.0, True)])
def test_certainty_one_half_keeps_every_first_score_and_one_reads_every_text_again(
    engines: tuple[ScoringEngine, ScoringEngine], certainty: float, read_again: bool
) -> None:
    first, second = engines
    cascade = Cascade(first, second, certainty=certainty)
    expected = (second if read_again else first).analyze(TEXTS)
    assert [scores(a) for a in cascade.analyze(TEXTS)] == [
        pytest.approx(scores(e), abs=TOLERANCE) for e in expected
    ]
    assert cascade.version == f"first+second@{certainty:g}"
    assert cascade.backend == f"{first.backend}>{second.backend}"


def test_a_certainty_outside_one_half_to_one_is_refused(
    engines: tuple[ScoringEngine, ScoringEngine],
) -> None:
    with pytest.raises(ValueError, match="between 0.5"):
        Cascade(*engines, certainty=0.4)


def test_the_dynamic_batcher_gives_concurrent_callers_the_cascades_own_scores(
    engines: tuple[ScoringEngine, ScoringEngine],
) -> None:
    first, _ = engines
    threshold = statistics.median(a.prediction.certainty for a in first.analyze(TEXTS))
    cascade = Cascade(*engines, certainty=threshold, version="both")
    batcher = DynamicBatcher(cascade, max_wait_ms=5, max_batch=4)
    texts = [f"{text} ({n})" for n in range(3) for text in TEXTS]
    with ThreadPoolExecutor(max_workers=6) as pool:
        batched = list(pool.map(lambda text: analyze(batcher, [text])[0], texts))
    batcher.close(timeout=60)
    alone = [cascade.analyze([text])[0] for text in texts]
    assert [scores(a) for a in batched] == [pytest.approx(scores(a), abs=1e-5) for a in alone]
    assert {a.model_version for a in batched} == {"both"}


def test_a_cascade_is_saved_as_a_version_of_its_own_that_loads_and_scores(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("first", "second"):  # the tiny model twice: reading again never changes a score
        (models / name).symlink_to(tiny_model.path)
    settings = tiny_model.settings.model_copy(
        update={"models_dir": models, "model_backend": "fp32"}
    )
    request = CascadeRequest("first", "second", n_choose=100, n_eval=TINY_EVAL, name="both")

    trained, choice = make_cascade(settings=settings, request=request, progress=False)

    # Chosen: the lowest certainty within half a point of the second model, which here is
    # 0.5 (nothing read again), as the two models are one.
    assert choice is not None
    assert (choice.certainty, choice.read_again) == (0.5, 0.0)
    assert choice.accuracy == choice.second_accuracy
    card = read_card(models / "both")
    assert card == trained.card and card.kind == CASCADE
    assert "a cascade of two models fine-tuned from" in (models / "both" / "README.md").read_text()
    assert card.hyperparameters["first"] == "first" and card.hyperparameters["certainty"] == 0.5
    assert card.metrics["n_eval"] == TINY_EVAL and card.metrics["read_again"] == 0.0
    assert card.metrics["accuracy"] == pytest.approx(
        tiny_model.card.metrics["accuracy"], abs=1 / TINY_EVAL
    )
    assert current_model_dir(models) == models / "both"  # the first model of its folder
    loaded = versions.load(models / "both", device="cpu", backend="fp32")
    assert isinstance(loaded, Cascade)
    assert (loaded.version, loaded.certainty) == ("both", 0.5)
    [analysis] = loaded.analyze(["A wonderful, moving story. The acting is superb throughout."])
    assert analysis.model_version == "both" and len(analysis.sentences) == 2

    again = CascadeRequest("first", "second", certainty=1.0, n_eval=20, name="always")
    trained_again, no_choice = make_cascade(settings=settings, request=again, progress=False)
    assert no_choice is None
    assert trained_again.card.metrics["read_again"] == 1.0  # every review read again


def test_a_cascade_of_a_missing_or_baseline_model_is_refused(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny").symlink_to(tiny_model.path)
    baseline = models / "nbsvm"
    baseline.mkdir()
    (baseline / "nbsvm.json").write_text("{}")
    write_card(baseline, dataclasses.replace(tiny_model.card, name="nbsvm", kind=NBSVM))
    settings = tiny_model.settings.model_copy(update={"models_dir": models})

    with pytest.raises(ModelNotFoundError, match="no trained model"):
        make_cascade(settings=settings, request=CascadeRequest("tiny", "gone"), progress=False)
    with pytest.raises(ValueError, match="nbsvm is a nbsvm model"):
        make_cascade(settings=settings, request=CascadeRequest("nbsvm", "tiny"), progress=False)
    assert sorted(path.name for path in models.iterdir()) == ["nbsvm", "tiny"]  # nothing saved
