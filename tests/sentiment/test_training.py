"""Fine-tuning the real encoder on a few dozen reviews gives a loadable, carded model that
reads whole reviews and is measurably better than chance."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from app.lifecycle.datasets import aclimdb_pools
from app.lifecycle.versions import TrainRequest, train_version
from app.sentiment import training, versions
from app.sentiment.arguments import Precision, TrainingArguments
from app.sentiment.baselines import BaselineClassifier
from app.sentiment.calibration import Calibration, expected_calibration_error
from app.sentiment.classifier import TransformerClassifier
from app.sentiment.evaluation import evaluate
from app.sentiment.modeling import MeanPoolingForSequenceClassification, new_classifier
from app.sentiment.registry import NBSVM as NBSVM_KIND
from app.sentiment.registry import current_model_dir, list_models, read_card
from app.sentiment.training import train
from tests.sentiment.conftest import TINY_EVAL, TINY_MAX_LENGTH, TINY_TRAIN, TinyModel

pytestmark = pytest.mark.slow

# A model that guesses scores 0.5 +- 0.035 (one standard deviation) on 200 balanced reviews,
# so 0.62 is beyond 3.4 standard deviations: a chance model passes once in ~3,000 runs.
# The tiny model scored 0.725 to 0.815 over training seeds 0-4, so this holds with room.
MIN_ACCURACY = 0.62

PLOT = (
    "The film follows a family who move to a small town in the north. "
    "The father takes a job at the old mill while the mother opens a shop on the main street. "
    "Their two children start at the local school and meet the neighbours. "
    "Over one winter the town prepares for its yearly festival by the lake. "
    "A stranger arrives by train and takes a room above the bakery. "
)
PRAISE = (
    "All in all this is a wonderful, beautiful film. The acting is superb and the story is "
    "moving. I loved every minute of it: one of the best films I have seen in years. "
)
SCORN = (
    "All in all this is a terrible, boring film. The acting is awful and the story is dull. "
    "I hated every minute of it: one of the worst films I have seen in years. "
)


@pytest.fixture(scope="module")
def classifier(tiny_model: TinyModel) -> TransformerClassifier:
    return TransformerClassifier.from_pretrained(tiny_model.path, device="cpu")


def test_training_writes_a_complete_model_folder(tiny_model: TinyModel) -> None:
    files = {path.name for path in tiny_model.path.iterdir()}

    assert {"config.json", "model.safetensors", "tokenizer.json", "model_card.json"} <= files
    assert (tiny_model.path / "README.md").read_text().startswith("# tiny\n")
    assert read_card(tiny_model.path) == tiny_model.card
    card = tiny_model.card
    assert (card.name, card.n_train, card.seed, card.metrics["n_eval"]) == (
        "tiny",
        TINY_TRAIN,
        0,
        TINY_EVAL,
    )
    assert card.hyperparameters["max_length"] == TINY_MAX_LENGTH
    assert card.hyperparameters["head_init"] == "label anchors (4 positive, 4 negative sentences)"
    assert card.train_seconds > 0
    assert "torch threads" in card.hardware
    assert "aclImdb" in card.dataset
    # The base by its public name, never a path of the machine that trained it.
    assert card.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    local_base = tiny_model.settings.resolved_base_model()
    for path in tiny_model.path.iterdir():
        if path.suffix in (".md", ".json"):
            assert local_base not in path.read_text(), path.name
    config = json.loads((tiny_model.path / "config.json").read_text())
    assert config["encoder"]["_name_or_path"] == card.base_model


def test_training_calibrates_the_certainty_on_texts_it_never_learned_from(
    tiny_model: TinyModel,
) -> None:
    calibration = Calibration.load(tiny_model.path)
    metrics = tiny_model.card.metrics

    assert calibration is not None
    assert calibration.n_fit == TrainingArguments().calibration_size
    assert metrics["temperature"] == pytest.approx(calibration.temperature, abs=1e-4)
    assert sum(b.count for b in calibration.after) == TINY_EVAL
    # Fitted on other texts, the temperature still lowers the held-out calibration error.
    assert metrics["ece"] <= metrics["ece_before_calibration"]
    assert metrics["ece"] == pytest.approx(expected_calibration_error(calibration.after), abs=1e-3)


def test_model_files_are_readable_as_the_umask_allows(tiny_model: TinyModel) -> None:
    umask = os.umask(0)
    os.umask(umask)
    modes = {path.name: path.stat().st_mode & 0o777 for path in tiny_model.path.iterdir()}

    assert "model.safetensors" in modes  # written 0600 by safetensors itself
    assert set(modes.values()) == {0o666 & ~umask}


def test_the_first_model_becomes_current(tiny_model: TinyModel) -> None:
    assert current_model_dir(tiny_model.settings.models_dir) == tiny_model.path


def test_the_model_beats_chance_on_held_out_reviews(tiny_model: TinyModel) -> None:
    accuracy = tiny_model.card.metrics["accuracy"]

    assert isinstance(accuracy, float)
    assert accuracy >= MIN_ACCURACY


def test_the_folder_loads_as_a_hugging_face_model(
    tiny_model: TinyModel, classifier: TransformerClassifier
) -> None:
    text = "A wonderful film."
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model.path).eval()
    encoded = classifier.tokenizer(text, return_tensors="pt")

    with torch.inference_mode():
        logits = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])

    assert isinstance(model, MeanPoolingForSequenceClassification)
    [prediction] = classifier.predict([text])
    assert logits.logits.softmax(dim=-1)[0, 1].item() == pytest.approx(prediction.p_positive)
    assert classifier.version == "tiny"
    assert classifier.window == TINY_MAX_LENGTH - 2


def test_a_long_review_is_read_to_its_last_sentence(classifier: TransformerClassifier) -> None:
    plot = PLOT * 10
    assert (
        len(classifier.tokenizer(plot, add_special_tokens=False, verbose=False)["input_ids"]) > 600
    )

    praised, scorned = classifier.predict([plot + PRAISE, plot + SCORN])

    # Cut at 512 (or 600) tokens the two reviews are the same plot summary and would score
    # the same. The verdict is in the last of eight windows only, so it moves the score without
    # deciding it: the tiny model puts about 0.9 between the two in log-odds.
    assert _log_odds(praised.p_positive) - _log_odds(scorned.p_positive) > 0.25


def _log_odds(p: float) -> float:
    return math.log(p / (1.0 - p))


def test_a_later_model_does_not_replace_the_current_one(tiny_model: TinyModel) -> None:
    args = TrainingArguments(epochs=1, max_length=32, device="cpu")
    request = TrainRequest(name="later", n_train=8, n_eval=0, args=args)
    card = train_version(settings=tiny_model.settings, request=request, progress=False).card

    assert card.metrics["n_eval"] == 0 and "accuracy" not in card.metrics
    assert current_model_dir(tiny_model.settings.models_dir) == tiny_model.path
    assert [c.name for c in list_models(tiny_model.settings.models_dir)] == ["later", "tiny"]


def test_a_version_can_keep_fewer_layers(tiny_model: TinyModel, tmp_path: Path) -> None:
    # `textflix train --layers 1`: the served model is shallower; the arguments stay the trainer's.
    settings = tiny_model.settings.model_copy(update={"models_dir": tmp_path})
    args = TrainingArguments(epochs=1, max_length=32, device="cpu")
    request = TrainRequest(name="shallow", n_train=8, n_eval=0, args=args, layers=1)
    card = train_version(settings=settings, request=request, progress=False).card

    config = json.loads((tmp_path / "shallow" / "config.json").read_text())
    assert config["encoder"]["num_hidden_layers"] == 1 < tiny_model_layers(tiny_model)
    assert card.hyperparameters["recipe levers"] == "1-layer student"
    assert 0 <= versions.load(tmp_path / "shallow").predict(["A fine film."])[0].p_positive <= 1


def tiny_model_layers(tiny_model: TinyModel) -> int:
    config = json.loads((tiny_model.path / "config.json").read_text())
    return int(config["encoder"]["num_hidden_layers"])


def test_training_never_overwrites_a_model(tiny_model: TinyModel) -> None:
    with pytest.raises(FileExistsError, match="pick another model name"):
        train(
            base_model=tiny_model.settings.resolved_base_model(),
            out_dir=tiny_model.path,
            train_examples=[("good", 1)],
            eval_examples=[],
            args=TrainingArguments(epochs=1, batch_size=1, max_length=16),
        )


def test_an_nbsvm_version_learns_from_the_same_reviews_and_scores_like_its_card(
    tiny_model: TinyModel, tmp_path: Path
) -> None:
    settings = tiny_model.settings.model_copy(update={"models_dir": tmp_path})
    request = TrainRequest(name="nb", n_train=TINY_TRAIN, n_eval=TINY_EVAL, kind=NBSVM_KIND)
    card = train_version(settings=settings, request=request, progress=False).card
    classifier = versions.load(tmp_path / "nb")
    held_out = aclimdb_pools(settings=settings, progress=False).eval_sample(TINY_EVAL)

    assert isinstance(classifier, BaselineClassifier) and classifier.version == "nb"
    assert read_card(tmp_path / "nb") == card and card.kind == NBSVM_KIND
    assert card.dataset == tiny_model.card.dataset  # the same sampled reviews as the encoder
    rescored = evaluate(classifier=classifier, examples=held_out, progress=False)
    assert rescored["accuracy"] == card.metrics["accuracy"]
    assert current_model_dir(tmp_path) == tmp_path / "nb"  # the first model there, as any kind


@pytest.mark.parametrize(
    ("precision", "computes_in"), [("bf16", torch.bfloat16), ("fp32", torch.float32)]
)
def test_mixed_precision_computes_the_passes_in_bf16_and_keeps_fp32_weights(
    base_model: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    precision: Precision,
    computes_in: torch.dtype,
) -> None:
    # bf16 runs on any CPU (emulated where it has no bf16 instructions: right, but slow).
    seen: set[torch.dtype] = set()

    def watched(**kwargs: Any) -> Any:
        model, tokenizer = new_classifier(**kwargs)
        query = model.encoder.encoder.layer[0].attention.self.query
        # The training passes (the anchors and the evaluation read in eval mode, in fp32).
        query.register_forward_hook(
            lambda module, _inputs, output: seen.add(output.dtype) if module.training else None
        )
        return model, tokenizer

    monkeypatch.setattr(training, "new_classifier", watched)
    examples = [("A wonderful, moving film.", 1), ("A dull and boring film.", 0)] * 4
    card = train(
        base_model=base_model,
        out_dir=tmp_path / precision,
        train_examples=examples,
        eval_examples=[],
        args=TrainingArguments(
            epochs=1, batch_size=4, max_length=32, device="cpu", layers=1, precision=precision
        ),
    )

    assert seen == {computes_in}
    saved = AutoModelForSequenceClassification.from_pretrained(tmp_path / precision)
    assert {p.dtype for p in saved.parameters()} == {torch.float32}
    assert card.hyperparameters["precision"].startswith(precision)
