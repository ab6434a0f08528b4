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


def window_starts(n_tokens: int, *, size: int, step: int) -> list[int]:
    """Where windows of `size` tokens, `step` apart, start so as to cover all `n_tokens`."""
    if n_tokens <= size:
        return [0]
    # The last window ends at the last token instead of holding a short leftover scrap, which
    # would be scored on too little text and get the same say as a full window.
    return [*range(0, n_tokens - size, step), n_tokens - size]


def token_windows(token_ids: Sequence[int], *, size: int, step: int) -> list[list[int]]:
    """Windows of `size` tokens, `step` apart, that together cover every token of the text."""
    return [
        list(token_ids[start : start + size])
        for start in window_starts(len(token_ids), size=size, step=step)
    ]


def random_window(token_ids: Sequence[int], size: int, rng: random.Random) -> list[int]:
    """A random stretch of `size` tokens of a longer text (the whole of a shorter one): training
    reads a fresh one each time, and so sees more of a long text than a fixed cut would show."""
    if len(token_ids) <= size:
        return list(token_ids)
    start = rng.randrange(len(token_ids) - size + 1)
    return list(token_ids[start : start + size])


def pad_batch(
    sequences: Sequence[Sequence[int]], *, pad_id: int, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids padded to the longest sequence, and the attention mask that hides the padding."""
    longest = max(len(sequence) for sequence in sequences)
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
