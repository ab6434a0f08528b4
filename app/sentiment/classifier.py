"""Inference: a small swappable interface, and the fine-tuned transformer behind it."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from app.sentiment.labels import is_positive, name_of
from app.sentiment.modeling import offline
from app.sentiment.registry import ModelNotFoundError
from app.sentiment.text import clean, split_sentences

POSITIVE = 1
"""Index of the positive class in every model's logits."""
UNBOUNDED_LENGTH = 100_000
"""Tokenizers without a length limit report a huge sentinel as their maximum length."""
FALLBACK_MAX_TOKENS = 512


@dataclass(frozen=True)
class Prediction:
    p_positive: float

    @property
    def is_positive(self) -> bool:
        return is_positive(self.p_positive)

    @property
    def label(self) -> str:
        return name_of(self.p_positive)

    @property
    def certainty(self) -> float:
        return max(self.p_positive, 1.0 - self.p_positive)


@dataclass(frozen=True)
class SentencePrediction:
    text: str
    p_positive: float


@dataclass(frozen=True)
class Analysis:
    """A whole review's score and the scores of its sentences, in order."""

    prediction: Prediction
    sentences: list[SentencePrediction]
    model_version: str


class Classifier(Protocol):
    """Anything that scores texts; `version` names the model that produced the scores."""

    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order; texts of any length."""
        ...


def analyze(classifier: Classifier, texts: Sequence[str]) -> list[Analysis]:
    """Score whole reviews and each of their sentences, in one batched pass each."""
    whole = classifier.predict([clean(text) for text in texts])
    per_text = [split_sentences(text) for text in texts]
    flat = [sentence for sentences in per_text for sentence in sentences]
    flat_predictions = iter(classifier.predict(flat)) if flat else iter(())
    analyses = []
    for prediction, sentences in zip(whole, per_text, strict=True):
        scored = [SentencePrediction(s, next(flat_predictions).p_positive) for s in sentences]
        analyses.append(Analysis(prediction, scored, classifier.version))
    return analyses


def resolve_device(setting: str) -> torch.device:
    """The torch device for a setting: "auto" means CUDA when there is one, else the CPU."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(setting)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {setting!r} asked for, but torch sees no CUDA GPU: set TEXTFLIX_DEVICE=auto"
        )
    return device


def mixed_precision(device: torch.device) -> AbstractContextManager[None]:
    """fp16 autocast on CUDA; a no-op elsewhere, so one code path serves both."""
    return torch.autocast(
        device_type=device.type, dtype=torch.float16, enabled=device.type == "cuda"
    )


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


def token_windows(token_ids: Sequence[int], *, size: int, step: int) -> list[list[int]]:
    """Windows of `size` tokens, `step` apart, that together cover every token of the text."""
    if len(token_ids) <= size:
        return [list(token_ids)]
    starts = list(range(0, len(token_ids) - size, step))
    # The last window ends at the last token instead of holding a short leftover scrap, which
    # would be scored on too little text and get the same say as a full window.
    starts.append(len(token_ids) - size)
    return [list(token_ids[start : start + size]) for start in starts]


def pad_batch(
    sequences: Sequence[Sequence[int]], *, pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids padded to the longest sequence, and the attention mask that hides the padding."""
    longest = max(len(sequence) for sequence in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids.to(device), mask.to(device)


class TransformerClassifier:
    """A fine-tuned two-label sequence classifier that scores texts of any length, in windows."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        version: str,
        device: str = "auto",
        batch_size: int = 32,
    ) -> None:
        if model.config.num_labels != 2:
            raise ValueError(
                f"a sentiment model has 2 labels (0 negative, 1 positive); this one has "
                f"{model.config.num_labels}"
            )
        self.version = version
        self.device = resolve_device(device)
        self.batch_size = batch_size
        # transformers wraps `to` in a way mypy misreads; the call is the plain nn.Module one.
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        self.tokenizer = tokenizer
        self._prefix, self._suffix = special_tokens(tokenizer)
        self.window = max_tokens(tokenizer) - len(self._prefix) - len(self._suffix)
        # Windows overlap by a quarter so that a sentence cut at one window's edge is read
        # whole by its neighbour.
        self.step = self.window - self.window // 4

    @classmethod
    def from_pretrained(
        cls, path: Path, *, device: str = "auto", batch_size: int = 32
    ) -> TransformerClassifier:
        """The model saved in `path` (Hugging Face format), named after the folder."""
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"no model in {path} (no config.json): run `textflix train` to make one"
            )
        offline()
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        return cls(model, tokenizer, version=path.name, device=device, batch_size=batch_size)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order, each over the whole text however long."""
        if not texts:
            return []
        windows: list[list[int]] = []
        owners: list[int] = []
        for index, token_ids in enumerate(self._tokenise(texts)):
            for window in token_windows(token_ids, size=self.window, step=self.step):
                windows.append(self._prefix + window + self._suffix)
                owners.append(index)
        logits = self._infer(windows)
        return self._postprocess(logits, torch.tensor(owners), n_texts=len(texts))

    def _tokenise(self, texts: Sequence[str]) -> list[list[int]]:
        # Special tokens are added per window; verbose=False silences the warning about texts
        # longer than the model, which the windows take care of.
        encoded = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [list(ids) for ids in encoded["input_ids"]]

    def _infer(self, windows: Sequence[Sequence[int]]) -> torch.Tensor:
        # Batching windows of similar length wastes little compute on padding.
        order = sorted(range(len(windows)), key=lambda index: len(windows[index]))
        logits = torch.empty((len(windows), 2), dtype=torch.float32)
        pad_id = self.tokenizer.pad_token_id or 0
        with torch.inference_mode(), mixed_precision(self.device):
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                ids, mask = pad_batch(
                    [windows[index] for index in batch], pad_id=pad_id, device=self.device
                )
                output = self.model(input_ids=ids, attention_mask=mask)
                logits[batch] = output.logits.float().cpu()
        return logits

    def _postprocess(
        self, logits: torch.Tensor, owners: torch.Tensor, *, n_texts: int
    ) -> list[Prediction]:
        # A text's logits are the mean of its windows' logits (windows are all full length
        # except a text's only one, so this is also the token-weighted mean). Logits rather
        # than probabilities because with a mean-pooling linear head the mean of the windows'
        # logits is exactly the head applied to the mean of the windows' token embeddings:
        # mean pooling over the whole review, as in training, with context limited to a window.
        sums = torch.zeros((n_texts, logits.shape[1])).index_add_(0, owners, logits)
        counts = torch.bincount(owners, minlength=n_texts).clamp(min=1)
        probabilities = (sums / counts.unsqueeze(1)).softmax(dim=1)
        return [Prediction(p_positive=float(p)) for p in probabilities[:, POSITIVE]]
