"""Inference: texts of any length are scored whole, in batches, the same whatever the batching."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.sentiment.classifier import (
    TransformerClassifier,
    analyze,
    pad_batch,
    resolve_device,
    special_tokens,
    token_windows,
)
from app.sentiment.modeling import new_classifier
from app.sentiment.registry import ModelNotFoundError

WINDOW = 128


@pytest.fixture(scope="module")
def untrained(base_model: str) -> TransformerClassifier:
    """The real encoder with a fresh head: the real tokenizer and shapes, meaningless scores."""
    torch.manual_seed(0)
    model, tokenizer = new_classifier(base_model=base_model, max_length=WINDOW)
    return TransformerClassifier(model, tokenizer, version="untrained", device="cpu", batch_size=8)


@pytest.mark.parametrize("length", [0, 1, 95, 126, 127, 200, 221, 1000, 1001])
def test_windows_cover_every_token_in_overlapping_full_windows(length: int) -> None:
    token_ids = list(range(length))

    windows = token_windows(token_ids, size=126, step=95)

    starts = [window[0] if window else 0 for window in windows]
    assert all(
        window == token_ids[start : start + len(window)]
        for start, window in zip(starts, windows, strict=True)
    )
    assert {token for window in windows for token in window} == set(token_ids)
    assert starts[0] == 0
    assert all(
        0 < later - earlier <= 95 for earlier, later in zip(starts, starts[1:], strict=False)
    )
    if length > 126:
        assert all(len(window) == 126 for window in windows)
    else:
        assert windows == [token_ids]


def test_padding_is_masked() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))

    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="TEXTFLIX_DEVICE"):
            resolve_device("cuda")


def test_special_tokens_of_a_bert_tokenizer(untrained: TransformerClassifier) -> None:
    tokenizer = untrained.tokenizer

    assert special_tokens(tokenizer) == ([tokenizer.cls_token_id], [tokenizer.sep_token_id])
    assert untrained.window == WINDOW - 2


def test_every_token_of_a_long_review_reaches_the_model(untrained: TransformerClassifier) -> None:
    # Whole words of the vocabulary each encode to one distinct token, so the ids the model
    # receives show exactly which parts of the text it read.
    vocab = untrained.tokenizer.get_vocab()
    words = sorted(word for word in vocab if word.isalpha() and word.isascii() and len(word) > 3)
    text = " ".join(words[:1500])
    text_ids = untrained.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(text_ids) == len(set(text_ids)) == 1500
    seen: list[list[int]] = []

    def record(module: torch.nn.Module, args: object, kwargs: dict[str, torch.Tensor]) -> None:
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        seen.extend(row[row_mask.bool()].tolist() for row, row_mask in zip(ids, mask, strict=True))

    hook = untrained.model.encoder.register_forward_pre_hook(record, with_kwargs=True)
    try:
        [prediction] = untrained.predict([text])
    finally:
        hook.remove()

    assert 0.0 <= prediction.p_positive <= 1.0
    assert all(len(window) <= WINDOW for window in seen)
    assert {token for window in seen for token in window} >= set(text_ids)
    assert len(seen) == len(token_windows(text_ids, size=WINDOW - 2, step=untrained.step))


def test_predictions_do_not_depend_on_batching_or_order(untrained: TransformerClassifier) -> None:
    texts = [
        "Short.",
        "",
        "A much longer review that goes on about the plot. " * 40,
        "Medium length: the acting was fine, the story less so.",
    ]

    batched = [p.p_positive for p in untrained.predict(texts)]
    untrained.batch_size = 1
    try:
        one_by_one = [p.p_positive for p in untrained.predict(texts[::-1])][::-1]
    finally:
        untrained.batch_size = 8

    assert one_by_one == pytest.approx(batched, abs=1e-5)
    assert untrained.predict([]) == []


def test_analyze_scores_reviews_and_their_sentences(untrained: TransformerClassifier) -> None:
    [analysis] = analyze(untrained, ["Loved the first half!<br /><br />The ending was a mess."])

    assert [s.text for s in analysis.sentences] == [
        "Loved the first half!",
        "The ending was a mess.",
    ]
    assert 0.0 <= analysis.prediction.p_positive <= 1.0


def test_only_two_label_models_are_sentiment_models(base_model: str) -> None:
    model, tokenizer = new_classifier(base_model=base_model, max_length=WINDOW)
    model.config.num_labels = 3

    with pytest.raises(ValueError, match="2 labels"):
        TransformerClassifier(model, tokenizer, version="three", device="cpu")


def test_loading_from_a_folder_without_a_model_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="run `textflix train`"):
        TransformerClassifier.from_pretrained(tmp_path / "models" / "nothing")


def test_a_missing_base_model_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TEXTFLIX_BASE_MODEL"):
        new_classifier(base_model=str(tmp_path / "nothing"), max_length=WINDOW)
