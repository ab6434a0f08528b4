"""Inference: texts of any length are scored whole, in batches, the same whatever the batching."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from app.sentiment.batching import sentence_windows
from app.sentiment.classifier import (
    TransformerClassifier,
    analyze,
    pad_batch,
    resolve_device,
    special_tokens,
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


@pytest.mark.parametrize(
    ("n_tokens", "breaks", "expected"),
    [
        (0, [], [(0, 0)]),
        (5, [0], [(0, 5)]),
        # Whole sentences packed while they fit, a new window where the next would not.
        (25, [0, 4, 8, 15, 22], [(0, 8), (8, 15), (15, 25)]),
        # A sentence longer than a window: equal pieces, the last takes what follows.
        (30, [0, 25], [(0, 8), (8, 16), (16, 25), (25, 30)]),
        (24, [0, 3], [(0, 3), (3, 10), (10, 17), (17, 24)]),
        (10, [0, 5, 5, 12, -1], [(0, 10)]),  # breaks repeated or outside the text: ignored
    ],
)
def test_windows_cut_between_sentences(
    n_tokens: int, breaks: list[int], expected: list[tuple[int, int]]
) -> None:
    assert sentence_windows(n_tokens, breaks, size=10) == expected


@pytest.mark.parametrize("n_tokens", [0, 1, 9, 10, 11, 37, 200, 1001])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windows_read_every_token_once_and_cut_no_sentence_that_fits(
    n_tokens: int, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    breaks = sorted({0, *(rng.randrange(n_tokens + 1) for _ in range(n_tokens // 4))})
    sentences = list(zip(breaks, [*breaks[1:], n_tokens], strict=True))

    windows = sentence_windows(n_tokens, breaks, size=10)

    assert windows[0][0] == 0 and windows[-1][1] == n_tokens
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert all(0 < end - start <= 10 for start, end in windows) or windows == [(0, 0)]
    cuts = {start for start, _ in windows}
    for start, end in sentences:
        if end - start <= 10:
            assert not any(start < cut < end for cut in cuts), (start, end)
    # Not more windows than whole sentences packed greedily need.
    assert len(windows) <= max(1, sum(-(-(end - start) // 10) for start, end in sentences))


def test_padding_is_masked() -> None:
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, device=torch.device("cpu"))

    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]

    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, multiple=4)

    assert ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]


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
    # One sentence of 1,500 tokens: read in equal pieces, each token once.
    assert sorted(token for window in seen for token in window[1:-1]) == sorted(text_ids)
    assert len(seen) == len(sentence_windows(len(text_ids), [0], size=WINDOW - 2))


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
