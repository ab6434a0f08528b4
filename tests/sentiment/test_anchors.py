"""Label anchors make the untrained head a zero-shot sentiment classifier (real encoder)."""

from __future__ import annotations

import statistics

import pytest
import torch

from app.sentiment.anchors import NEGATIVE, POSITIVE, SPREAD, anchor_head
from app.sentiment.arguments import TrainingArguments
from app.sentiment.classifier import TransformerClassifier
from app.sentiment.modeling import new_classifier

# Reviews in other words than the anchors, so that this is not a lookup of the anchors.
PRAISE = [
    "An absolute delight from start to finish. The cast is brilliant and the script is sharp.",
    "I laughed, I cried, and I went back to see it again the next day. A masterpiece.",
    "Beautifully shot and wonderfully acted; easily the finest picture of the year.",
]
SCORN = [
    "A tedious, clumsy mess. The dialogue is laughable and the plot makes no sense.",
    "I walked out after an hour. Dreadful acting and a script that should never have been filmed.",
    "Painfully dull and badly made; a complete waste of two hours.",
]


@pytest.fixture(scope="module")
def anchored(base_model: str) -> TransformerClassifier:
    model, tokenizer = new_classifier(base_model=base_model, max_length=128)
    anchor_head(model, tokenizer, texts=PRAISE + SCORN, seed=0)
    return TransformerClassifier(model, tokenizer, version="anchored", device="cpu")


def test_an_anchored_head_tells_praise_from_scorn_before_any_training(
    anchored: TransformerClassifier,
) -> None:
    scores = [p.p_positive for p in anchored.predict(PRAISE + SCORN)]

    assert all(p > 0.5 for p in scores[:3]), scores
    assert all(p < 0.5 for p in scores[3:]), scores


def test_the_head_is_one_direction_scaled_to_the_training_texts(
    anchored: TransformerClassifier,
) -> None:
    head = anchored.model.classifier
    encoded = anchored.tokenizer(PRAISE + SCORN, padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = anchored.model(
            input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
        ).logits

    torch.testing.assert_close(head.weight[1], -head.weight[0])
    assert not head.bias.any()
    spread = statistics.stdev((logits[:, 1] - logits[:, 0]).tolist())
    assert spread == pytest.approx(SPREAD, rel=1e-3)


def test_anchors_are_balanced_and_the_trainer_refuses_unknown_inits() -> None:
    assert len(POSITIVE) == len(NEGATIVE) > 0
    with pytest.raises(ValueError, match="unknown head_init 'zero'"):
        TrainingArguments(head_init="zero")  # type: ignore[arg-type]
