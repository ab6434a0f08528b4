"""Label anchors: a classifier head that starts out as a zero-shot sentiment classifier.

all-MiniLM-L6-v2 was trained so that texts that mean similar things have similar mean-pooled
embeddings. The embeddings of a few plainly positive and plainly negative sentences about
films (written for this purpose, taken from no dataset, and the same for every run) give a
direction in that space from negative to positive. The linear head starts along that
direction, so that the untrained model already tells praise from scorn (74.5% on the learning
curve's 2,000 test reviews with no labels at all, 2026-12-05), and fine-tuning refines a classifier
rather than looking for one from a random start. Measured with the default recipe, seed 0:
20 labels 67.1% against 59.0% from a random head, 100 labels 82.0% against 79.8%
(bench/few_label_tricks.md).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

from app.sentiment.classifier import POSITIVE as POSITIVE_INDEX
from app.sentiment.modeling import MeanPoolingForSequenceClassification, mean_pool

POSITIVE = (
    "This movie was great, I loved it.",
    "A wonderful, moving film with superb acting.",
    "One of the best films I have ever seen.",
    "I highly recommend this movie.",
)
NEGATIVE = (
    "This movie was terrible, I hated it.",
    "A boring, awful film with bad acting.",
    "One of the worst films I have ever seen.",
    "Do not waste your time on this movie.",
)
SPREAD = 2.0
"""Standard deviation of the starting logit difference over the training texts: confident
enough to carry the prior, small enough for the first steps to move it."""
SCALE_SAMPLE = 256  # training texts that set the scale; more would only cost time


def anchor_head(
    model: MeanPoolingForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    *,
    texts: Sequence[str],
    seed: int = 0,
) -> None:
    """Point the two-label head of `model` from the negative anchors to the positive ones.

    `texts` (the training texts, labels unused) only set the scale of the logits.
    """
    if not texts:
        raise ValueError("anchoring the head needs some training texts to set its scale")
    was_training = model.training
    model.eval()  # type: ignore[no-untyped-call]
    direction = _mean_direction(model, tokenizer, POSITIVE) - _mean_direction(
        model, tokenizer, NEGATIVE
    )
    sample = random.Random(seed).sample(list(texts), min(len(texts), SCALE_SAMPLE))  # noqa: S311
    margins = _pooled(model, tokenizer, sample) @ direction
    spread = float(margins.std()) if len(sample) > 1 else float(margins.abs().mean())
    scale = SPREAD / max(spread, 1e-6)
    with torch.no_grad():
        weight = model.classifier.weight
        weight.zero_()
        weight[POSITIVE_INDEX] = scale * direction / 2
        weight[1 - POSITIVE_INDEX] = -scale * direction / 2
        model.classifier.bias.zero_()
    model.train(was_training)


def _mean_direction(
    model: MeanPoolingForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[str],
) -> torch.Tensor:
    return torch.nn.functional.normalize(_pooled(model, tokenizer, sentences), dim=-1).mean(0)


def _pooled(
    model: MeanPoolingForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int = 32,
) -> torch.Tensor:
    """The attention-masked mean of the encoder's last layer over each text's first window."""
    device = next(model.parameters()).device
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                truncation=True,
                max_length=tokenizer.model_max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            hidden = model.encoder(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
            chunks.append(mean_pool(hidden, batch["attention_mask"]).float())
    return torch.cat(chunks).clone()
