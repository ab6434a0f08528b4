"""The scoring engine: reviews of any length and their sentences, scored in one forward pass.

Tokenise once (the fast tokenizer, with character offsets); cut each text into windows of at
most the model's length, between sentences (batching.sentence_windows: every token read once,
nothing cut off); sort the windows by length and pack them into batches under a token budget,
padded to a multiple of 16 tokens, so that little compute goes to padding; run the encoder (see
backends); then pool. With a mean-pooling linear head, a span's logit is the head applied to the
mean of its final hidden states, so one pass gives both:

- a review's logits: the mean of its windows' logits weighted by their lengths (the head on the
  mean of all its windows' states, special tokens included), each window's exactly as
  `model(window)` would give them;
- a sentence's logits: the head on the mean of the states of the sentence's tokens, read in the
  context of its review (a sentence longer than a window is read in the pieces of it).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from app.sentiment import backends, torch_thread
from app.sentiment.backend_names import Backend, BackendSetting
from app.sentiment.backends import Measurement
from app.sentiment.batching import (
    max_tokens,
    pack,
    pad_batch,
    padded_length,
    sentence_windows,
    special_tokens,
)
from app.sentiment.labels import POSITIVE, label_of
from app.sentiment.modeling import offline
from app.sentiment.predictions import Analysis, Kind, Prediction, SentencePrediction
from app.sentiment.registry import ModelNotFoundError
from app.sentiment.text import clean, sentence_spans

log = logging.getLogger(__name__)

DEFAULT_TOKEN_BUDGET = 2048
"""Padded tokens per batch: large enough to keep the cores busy, small enough to stay in cache."""
CALIBRATION_TOKEN_BUDGET = 512
"""Padded tokens per batch of the texts a quantiser calibrates on: its statistics pass keeps
every quantised layer's input of a batch at once, and on the AMD host batches of 2,048 tokens
took the start-up measurement's peak memory to 1,499 MiB against 1,091 with 512 (the same
accuracy, the same time)."""
DEFAULT_BATCH_SIZE = 64
"""At most this many windows per batch, however short."""
PAD_MULTIPLE = 16
"""A batch's length is padded up to a multiple of 16 tokens (the padding masked): the kernels
see a few shapes instead of one per length, and whole tiles of AMX's 16 rows. Measured on the
AMX host, the 3-layer student on 1,000 aclImdb test reviews, interleaved in one process: 10-14%
more reviews a second in `openvino`, 18-23% in `bf16`, the same accuracy (multiples of 32:
less of a gain)."""

SentenceReading = Literal["in-context", "alone"]
"""Sentences scored from the review's own pass (in context, at almost no cost), or each read
alone in a pass of its own as before the engine (see bench/bench_engine.py for how the two
differ on real reviews)."""
Sample = Callable[[], Sequence[tuple[str, int]]]
"""Held-out labeled texts to measure backends on, fetched only when a measurement is needed."""
CalibrationTexts = Callable[[], Sequence[str]]
"""Unlabeled in-domain texts that a statically quantised backend (`openvino-int8`) measures its
activation ranges on, fetched only when it is built for the first time for a model."""


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


@dataclass
class _Plan:
    """Windows to run, and the spans of their hidden states that pool into each target (the
    texts first, then every sentence of every text in order)."""

    rows: list[list[int]] = field(default_factory=list)
    # Per row: (target, first position, end position, weight); a target's pooled vector is the
    # weighted sum of its spans' summed states.
    spans: list[list[tuple[int, int, int, float]]] = field(default_factory=list)
    n_targets: int = 0


@dataclass
class Prepared:
    """A call to the engine up to its encoder pass (see ScoringEngine.prepare): what to run,
    and how its targets' scores become the call's results."""

    kind: Kind
    plan: _Plan
    n_texts: int
    sentences: list[list[str]] = field(default_factory=list)
    """Per text, its sentences (analyze only), whose targets follow the texts' in the plan."""
    version: str = ""

    def results(self, p_positive: list[float]) -> list[Prediction] | list[Analysis]:
        """The call's predictions or analyses from its targets' P(positive)."""
        if self.kind == "predict":
            return [Prediction(p) for p in p_positive[: self.n_texts]]
        analyses = []
        position = self.n_texts
        for index, texts_of_review in enumerate(self.sentences):
            scored = [
                SentencePrediction(text, p_positive[position + offset])
                for offset, text in enumerate(texts_of_review)
            ]
            position += len(texts_of_review)
            analyses.append(Analysis(Prediction(p_positive[index]), scored, self.version))
        return analyses


class ScoringEngine:
    """A fine-tuned mean-pooling sentiment model that scores texts of any length in windows,
    batched by length under a token budget, with sentence scores from the same pass."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        version: str,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        backend: BackendSetting = "auto",
        threads: int | None = None,
        cache_dir: Path | None = None,
        sentences: SentenceReading = "in-context",
        calibration: CalibrationTexts | None = None,
    ) -> None:
        if model.config.num_labels != 2:
            raise ValueError(
                f"a sentiment model has 2 labels (0 negative, 1 positive); this one has "
                f"{model.config.num_labels}"
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("the engine needs a fast tokenizer (it reads character offsets)")
        if threads is not None:
            torch_thread.run(torch.set_num_threads, threads)
        self.version = version
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.threads = torch_thread.run(torch.get_num_threads)
        self.cache_dir = cache_dir
        self.calibration = calibration
        self.sentences = sentences
        # transformers wraps `to` in a way mypy misreads; the call is the plain nn.Module one.
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        self.tokenizer = tokenizer
        self._prefix, self._suffix = special_tokens(tokenizer)
        self.window = max_tokens(tokenizer) - len(self._prefix) - len(self._suffix)
        self.measurements: list[Measurement] = []
        self.backend: Backend = "fp32"
        # Unmeasured, "auto" is fp32 on every device: the others round differently, and on a
        # GPU the small model is not even faster in 16 bits (see choose_backend).
        if backend == "auto":
            backend = "fp32"
        self.use_backend(backend)

    @classmethod
    def from_pretrained(
        cls,
        path: Path,
        *,
        device: str = "auto",
        backend: BackendSetting = "auto",
        threads: int | None = None,
        sample: Sample | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        sentences: SentenceReading = "in-context",
        calibration: CalibrationTexts | None = None,
    ) -> ScoringEngine:
        """The model saved in `path` (Hugging Face format), named after the folder. With
        backend "auto", the backend measured for it on this host before, or measured now on
        `sample` (held-out labeled texts), or fp32 when there is no sample. `calibration`:
        what `openvino-int8` calibrates on (without it, that backend is not measured)."""
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"no model in {path} (no config.json): run `textflix train` to make one"
            )
        offline()
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        engine = cls(
            model,
            tokenizer,
            version=path.name,
            device=device,
            batch_size=batch_size,
            token_budget=token_budget,
            backend="fp32" if backend == "auto" else backend,
            threads=threads,
            cache_dir=path / backends.ENGINE_DIR,
            sentences=sentences,
            calibration=calibration,
        )
        if backend == "auto":
            engine.use_backend(engine.choose_backend(sample))
        return engine

    def use_backend(self, backend: Backend) -> None:
        """Run the encoder with `backend` from now on."""
        # Building runs the model (ONNX export, quantisation): PyTorch work like any other.
        self._encoder = torch_thread.run(
            backends.build_encoder,
            backend,
            self.model,
            device=self.device,
            threads=self.threads,
            cache_dir=self.cache_dir,
            calibration=self._calibration(),
        )
        self.backend = backend

    def _calibration(self) -> backends.Calibration | None:
        texts = self.calibration
        if texts is None:
            return None
        return lambda: self._encoder_inputs(texts(), token_budget=CALIBRATION_TOKEN_BUDGET)

    def choose_backend(self, sample: Sample | None) -> Backend:
        """The fastest backend here whose accuracy on `sample` stays within half a point of
        fp32's: measured once per model version and host (and GPU), then read from the cache.
        On CUDA too: on an H100 the 6-layer model scored 750 reviews/s in fp32 against 374 in
        bf16 and 235 in fp16 under autocast (300 held-out reviews, 2026-12-05): at this size,
        16 bits did not pay there, so no 16-bit backend is a safe default on a GPU either."""
        if self.cache_dir is None:
            return "fp32"
        key = backends.cache_key(
            fingerprint=backends.weights_fingerprint(self.model),
            threads=self.threads,
            device=self.device,
            calibrated=self.calibration is not None,
        )
        cached = backends.cached_choice(self.cache_dir, key)
        if cached is not None and cached in backends.available(self.device):
            return cached
        examples = list(sample()) if sample is not None else []
        if not examples:
            log.info("no held-out reviews to measure backends on: scoring in fp32")
            return "fp32"
        log.info("measuring backends on %d held-out reviews (once per model)", len(examples))
        self.measurements = []
        for name in backends.candidates(self.device, calibrated=self.calibration is not None):
            try:
                self.measurements.append(self.measure(name, examples))
            except Exception:  # a backend that fails here is not one to serve with
                if name == "fp32":
                    raise
                log.exception("backend %s failed on this host: leaving it out", name)
        chosen = backends.pick(self.measurements)
        backends.save_choice(self.cache_dir, key, chosen, self.measurements)
        log.info("backend %s chosen: %s", chosen, self.measurements)
        return chosen

    def measure(self, backend: Backend, examples: Sequence[tuple[str, int]]) -> Measurement:
        """Reviews per second (sentence scores included) and accuracy of `backend`."""
        previous = self.backend
        self.use_backend(backend)
        try:
            texts = [text for text, _ in examples]
            self.analyze(texts[:4])  # the first calls pay for lazy initialisation
            started = time.perf_counter()
            analyses = self.analyze(texts)
            seconds = time.perf_counter() - started
        finally:
            self.use_backend(previous)
        correct = sum(
            label_of(analysis.prediction.p_positive) == label
            for analysis, (_, label) in zip(analyses, examples, strict=True)
        )
        return Measurement(backend, len(texts) / seconds, correct / len(examples))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order, each over the whole text however long."""
        [predictions] = self.run([self.prepare("predict", texts)])
        return cast(list[Prediction], predictions)

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        """Each review scored whole (cleaned of markup), and each of its sentences: in the
        context of the review, from the same forward pass, or read alone (`sentences`)."""
        [analyses] = self.run([self.prepare("analyze", texts)])
        return cast(list[Analysis], analyses)

    def prepare(self, kind: Kind, texts: Sequence[str]) -> Prepared:
        """Everything before the encoder, for `predict` or `analyze` of `texts`: tokenising,
        the sentences' token spans and the windows. Callers of one `run` (a dynamic batcher's
        requests) can each prepare their own texts in their own thread."""
        # `analyze` reads reviews cleaned of markup and quotes their sentences; `predict` reads
        # texts as given. Both read them in the same windows, cut between sentences.
        plains = [clean(text) for text in texts] if kind == "analyze" else list(texts)
        encodings, sentence_tokens, sentences = [], [], []
        for plain, (ids, offsets) in zip(plains, self._tokenise(plains), strict=True):
            spans = sentence_spans(plain)
            encodings.append(ids)
            token_starts = [token_start for token_start, _ in offsets]
            token_ends = [token_end for _, token_end in offsets]
            sentence_tokens.append(
                [
                    # The tokens whose characters overlap the sentence's.
                    (bisect_right(token_ends, start), bisect_left(token_starts, end))
                    for start, end in spans
                ]
            )
            if kind == "analyze":  # the texts of the sentences, for the quotes
                sentences.append([plain[start:end] for start, end in spans])
        breaks = [[first for first, _ in per_text] for per_text in sentence_tokens]
        if kind == "predict":
            plan = self._plan(encodings, breaks, [[] for _ in texts])
            return Prepared(kind, plan, len(texts), version=self.version)
        if self.sentences == "alone":
            # Each sentence as a text of its own, batched with the reviews' windows.
            flat = [text for per_review in sentences for text in per_review]
            alone = [ids for ids, _ in self._tokenise(flat)]
            plan = self._plan(
                encodings + alone, breaks + [[0] for _ in alone], [[] for _ in encodings + alone]
            )
        else:
            plan = self._plan(encodings, breaks, sentence_tokens)
        return Prepared(kind, plan, len(texts), sentences, self.version)

    def run(self, prepared: Sequence[Prepared]) -> list[list[Prediction] | list[Analysis]]:
        """The results of each prepared call, in order, from one pass of the encoder over all
        their windows together (packed by length as one batch of texts would be)."""
        merged = _Plan()
        for part in prepared:
            merged.rows.extend(part.plan.rows)
            shift = merged.n_targets
            merged.spans.extend(
                [(target + shift, first, end, weight) for target, first, end, weight in spans]
                for spans in part.plan.spans
            )
            merged.n_targets += part.plan.n_targets
        p_positive = self._score(merged).tolist() if merged.rows else []
        results: list[list[Prediction] | list[Analysis]] = []
        position = 0
        for part in prepared:
            results.append(part.results(p_positive[position : position + part.plan.n_targets]))
            position += part.plan.n_targets
        return results

    def _tokenise(self, texts: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """Each text's token ids and their character offsets, in one call of the fast
        tokenizer (half the time of a call per text on aclImdb reviews). Special tokens are
        added per window; verbose=False silences the warning about texts longer than the
        model, which the windows take care of."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        return list(zip(encoded["input_ids"], encoded["offset_mapping"], strict=True))

    def _plan(
        self,
        encodings: Sequence[list[int]],
        breaks: Sequence[Sequence[int]],
        sentence_tokens: Sequence[list[tuple[int, int]]],
    ) -> _Plan:
        """The windows of every text (`sentence_windows`, cut at `breaks`, where its sentences
        start) and the spans that pool each text and each of `sentence_tokens`."""
        plan = _Plan(n_targets=len(encodings))
        sentence_targets = []
        for spans in sentence_tokens:
            sentence_targets.append(range(plan.n_targets, plan.n_targets + len(spans)))
            plan.n_targets += len(spans)
        counts = [0] * plan.n_targets
        occurrences: list[tuple[int, int, int, int]] = []  # row, target, first, end
        offset = len(self._prefix)
        specials = len(self._prefix) + len(self._suffix)
        for text, ids in enumerate(encodings):
            windows = sentence_windows(len(ids), breaks[text], size=self.window)
            # The text is the mean of all its windows' states, special tokens included: each
            # window weighs as much as it holds (one window: the plain mean of its states).
            total = sum(end - start + specials for start, end in windows)
            for start, end_of_window in windows:
                row = len(plan.rows)
                window = self._prefix + ids[start:end_of_window] + self._suffix
                plan.rows.append(window)
                plan.spans.append([(text, 0, len(window), 1.0 / total)])
                for target, (first, end) in zip(
                    sentence_targets[text], sentence_tokens[text], strict=True
                ):
                    first, end = max(first, start), min(end, end_of_window)
                    if first < end:
                        occurrences.append(
                            (row, target, offset + first - start, offset + end - start)
                        )
                        counts[target] += end - first
        for row, target, first, end in occurrences:
            plan.spans[row].append((target, first, end, 1.0 / counts[target]))
        # A sentence with no tokens (none is shorter than a word, but to be safe) reads as its
        # review's first window.
        for text, targets in enumerate(sentence_targets):
            for target in targets:
                if counts[target] == 0:
                    row = next(r for r, spans in enumerate(plan.spans) if spans[0][0] == text)
                    plan.spans[row].append(
                        (target, 0, len(plan.rows[row]), 1 / len(plan.rows[row]))
                    )
        return plan

    def _encoder_inputs(self, texts: Sequence[str], *, token_budget: int) -> backends.Batches:
        """What the encoder reads to score `texts`, batched as scoring would (under
        `token_budget`)."""
        plan = self.prepare("analyze", texts).plan
        pad_id = self.tokenizer.pad_token_id or 0
        for batch in self._batches(plan, token_budget=token_budget):
            yield pad_batch([plan.rows[row] for row in batch], pad_id=pad_id, multiple=PAD_MULTIPLE)

    def _batches(self, plan: _Plan, *, token_budget: int | None = None) -> list[list[int]]:
        """The plan's rows packed by length under the token budget (see batching.pack)."""
        return pack(
            [padded_length(len(row), PAD_MULTIPLE) for row in plan.rows],
            token_budget=token_budget or self.token_budget,
            max_rows=self.batch_size,
        )

    def _score(self, plan: _Plan) -> torch.Tensor:
        """P(positive) of every target of the plan. The tensor work runs in the PyTorch thread
        (see torch_thread), one batch at a time, so that callers take turns batch by batch."""
        head = self.model.classifier
        pooled = torch_thread.run(
            torch.zeros, (plan.n_targets, head.in_features), dtype=torch.float64
        )
        for batch in self._batches(plan):
            torch_thread.run(self._pool_batch, plan, batch, pooled)
        return torch_thread.run(self._head, pooled)

    def _pool_batch(self, plan: _Plan, batch: Sequence[int], pooled: torch.Tensor) -> None:
        """Run the encoder on the batch's rows and add each target's weighted sum of final
        hidden states, over its spans in these rows, to `pooled`: one matrix product of the
        spans' weights (a row per target, a column per token of the batch) with the states.
        (It replaced float64 prefix sums and a scatter-add, 14% of a bf16 batch's profiled
        time: the same scores within 2e-7, bf16 scoring 5-30% faster in one interleaved run,
        fp32 unchanged.)"""
        pad_id = self.tokenizer.pad_token_id or 0
        ids, mask = pad_batch(
            [plan.rows[row] for row in batch], pad_id=pad_id, multiple=PAD_MULTIPLE
        )
        hidden = self._encoder(ids, mask)
        n_rows, length = ids.shape
        slots: dict[int, int] = {}
        for row in batch:
            for target, *_ in plan.spans[row]:
                slots.setdefault(target, len(slots))
        weights = np.zeros((len(slots), n_rows * length), dtype=np.float32)
        for position, row in enumerate(batch):
            for target, first, end, weight in plan.spans[row]:
                weights[slots[target], position * length + first : position * length + end] = weight
        sums = torch.from_numpy(weights) @ hidden.reshape(n_rows * length, -1)
        pooled[torch.tensor(list(slots))] += sums.double()

    def _head(self, pooled: torch.Tensor) -> torch.Tensor:
        """P(positive) of each pooled vector, in float64 like the pooling: in float32 the
        softmax of a very sure review rounds to exactly 1.0 (a logit gap beyond about 17)."""
        head = self.model.classifier
        weight, bias = head.weight.detach().double().cpu(), head.bias.detach().double().cpu()
        logits = pooled @ weight.T + bias
        return cast(torch.Tensor, logits.softmax(dim=1)[:, POSITIVE])
