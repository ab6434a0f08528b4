"""Texts as the model reads them: windows of its length, padded batches packed by length."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
from transformers import PreTrainedTokenizerBase

UNBOUNDED_LENGTH = 100_000
"""Tokenizers without a length limit report a huge sentinel as their maximum length."""
FALLBACK_MAX_TOKENS = 512


def special_tokens(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single text ([CLS] and [SEP] for BERT)."""
    # Transformers 5 tokenizers no longer expose build_inputs_with_special_tokens, so read the
    # template off the encoding of one word, which works for every BERT-family tokenizer.
    bare = tokenizer("review", add_special_tokens=False)["input_ids"]
    full = tokenizer("review")["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ValueError(f"cannot tell where {type(tokenizer).__name__} puts its special tokens")


def max_tokens(tokenizer: PreTrainedTokenizerBase) -> int:
    """The longest input, special tokens included, that the model was trained to read."""
    limit = int(tokenizer.model_max_length)
    return limit if limit < UNBOUNDED_LENGTH else FALLBACK_MAX_TOKENS


def sentence_windows(n_tokens: int, breaks: Sequence[int], *, size: int) -> list[tuple[int, int]]:
    """The windows, (start, end) token positions, in which a text of `n_tokens` is read: each at
    most `size` tokens, cut only where a sentence starts (`breaks`, token positions), whole
    sentences packed into a window while they fit. A sentence longer than a window is cut into
    equal pieces, the last of which takes the sentences after it while they fit. Every token is
    read once, so no token costs twice and no sentence is cut that fits in a window.

    (Measured against the windows of a fixed length overlapping by a quarter that they
    replaced, on aclImdb test reviews in bf16: 28% fewer tokens to run and 7-32% more reviews
    a second, the same accuracy on 4,000 reviews: 87.8% against 87.9% for the 6-layer model,
    87.8 against 87.85 for the 3-layer one; see the README's "Windows between sentences".)"""
    if size < 1:
        raise ValueError(f"a window holds at least one token, not {size}")
    bounds = sorted({0, n_tokens, *(b for b in breaks if 0 < b < n_tokens)})
    windows: list[tuple[int, int]] = []
    start = end = 0
    for stop in bounds[1:]:
        if stop - start > size:
            if end > start:  # the window so far is full: the next sentence starts a new one
                windows.append((start, end))
                start = end
            if stop - start > size:  # a sentence longer than a window, cut in equal pieces
                pieces = -(-(stop - start) // size)
                edges = [start + (stop - start) * i // pieces for i in range(pieces + 1)]
                windows.extend(zip(edges[:-2], edges[1:-1], strict=True))
                start = edges[-2]
        end = stop
    windows.append((start, end))
    return windows


def random_window(token_ids: Sequence[int], size: int, rng: random.Random) -> list[int]:
    """A random stretch of `size` tokens of a longer text (the whole of a shorter one): training
    reads a fresh one each time, and so sees more of a long text than a fixed cut would show."""
    if len(token_ids) <= size:
        return list(token_ids)
    start = rng.randrange(len(token_ids) - size + 1)
    return list(token_ids[start : start + size])


def padded_length(n_tokens: int, multiple: int) -> int:
    """`n_tokens` rounded up to a multiple of `multiple`."""
    return -(-n_tokens // multiple) * multiple


def pad_batch(
    sequences: Sequence[Sequence[int]],
    *,
    pad_id: int,
    device: torch.device | None = None,
    multiple: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids padded to the longest sequence (rounded up to a multiple of `multiple`), and
    the attention mask that hides the padding."""
    longest = padded_length(max(len(sequence) for sequence in sequences), multiple)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    if device is None:
        return ids, mask
    return ids.to(device), mask.to(device)


def pack(lengths: Sequence[int], *, token_budget: int, max_rows: int) -> list[list[int]]:
    """Row indices in batches: sorted by length, each batch filled while its padded size
    (rows x longest) stays within `token_budget` and it has at most `max_rows` rows."""
    batches: list[list[int]] = []
    current: list[int] = []
    for row in sorted(range(len(lengths)), key=lambda index: lengths[index]):
        if current and (
            (len(current) + 1) * lengths[row] > token_budget or len(current) >= max_rows
        ):
            batches.append(current)
            current = []
        current.append(row)
    if current:
        batches.append(current)
    return batches
