"""The mean-pooling classifier: built on any BERT-family encoder, saved and loaded as is."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer, DistilBertConfig, DistilBertModel

from app.sentiment.arguments import TrainingArguments
from app.sentiment.classifier import TransformerClassifier
from app.sentiment.modeling import MODEL_TYPE, new_classifier
from app.sentiment.training import train


def test_a_new_classifier_reads_like_the_pretrained_encoder_with_mean_pooling(
    base_model: str,
) -> None:
    model, tokenizer = new_classifier(base_model=base_model, max_length=64)
    model.eval()
    encoded = tokenizer(
        ["a fine film", "not a fine film at all"], padding=True, return_tensors="pt"
    )
    mask = encoded["attention_mask"].unsqueeze(-1).float()

    with torch.inference_mode():
        hidden = AutoModel.from_pretrained(base_model)(**encoded).last_hidden_state
        logits = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"])

    # Padding must not leak into the mean: the shorter text is padded here.
    expected = model.classifier((hidden * mask).sum(dim=1) / mask.sum(dim=1))
    assert torch.allclose(logits.logits, expected, atol=1e-5)
    assert model.config.model_type == MODEL_TYPE
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert tokenizer.model_max_length == 64


def test_the_window_cannot_be_longer_than_the_encoder_reads(base_model: str) -> None:
    with pytest.raises(ValueError, match="max_length 1024"):
        new_classifier(base_model=base_model, max_length=1024)


def test_another_bert_family_encoder_trains_saves_and_loads(
    tmp_path: Path, base_model: str
) -> None:
    # DistilBERT has no pooler and no token types: a different shape from MiniLM's BERT.
    base = tmp_path / "tiny-distilbert"
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64)).save_pretrained(
        base
    )
    AutoTokenizer.from_pretrained(base_model).save_pretrained(base)

    card = train(
        base_model=str(base),
        out_dir=tmp_path / "model",
        train_examples=[("great fun", 1), ("awful mess", 0)] * 4,
        eval_examples=[("great", 1), ("awful", 0)],
        args=TrainingArguments(epochs=2, lr=1e-3, batch_size=4, max_length=32),
        progress=False,
    )
    classifier = TransformerClassifier.from_pretrained(tmp_path / "model", device="cpu")

    assert card.metrics["n_eval"] == 2
    assert classifier.window == 30
    assert len(classifier.predict(["great", "a long review " * 50])) == 2
