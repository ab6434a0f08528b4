"""The scoring engine against plain scoring: the same scores however texts are batched, bucketed
or windowed; int8 backends close to fp32; sentence scores from the review's own forward pass."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from app.sentiment import backends
from app.sentiment.anchors import anchor_head
from app.sentiment.arguments import TrainingArguments
from app.sentiment.backends import Measurement
from app.sentiment.batching import pack, sentence_windows
from app.sentiment.classifier import analyze
from app.sentiment.dynamic_batching import DynamicBatcher
from app.sentiment.engine import ScoringEngine
from app.sentiment.modeling import new_classifier
from app.sentiment.text import clean, sentence_spans, split_sentences
from app.sentiment.training import training_precision

WINDOW = 64
"""Small, so that a review of a few sentences is read in several windows."""
PLAIN_TOLERANCE = 1e-5
"""fp32 scores may differ from plain scoring by float rounding alone."""
INT8_TOLERANCE = 0.15
"""int8 moves P(positive) of these texts by up to about a tenth: the anchor head's steep
margins magnify quantisation noise (a trained model's scores moved 0.04 on average in int8 and
0.015 in ONNX int8 on 40 aclImdb reviews; the bench reports what that costs in accuracy)."""
ONNX_FP32_TOLERANCE = 1e-4
"""ONNX Runtime in fp32 computes the same function in another order."""
BF16_TOLERANCE = 0.01
"""bf16 keeps 8 bits of mantissa (weights and activations), but the matrix kernels sum in fp32
and the engine pools the final states in float64: it moved P(positive) of these texts by at
most 0.0009 (AMX host)."""

OPENVINO_TOLERANCE = BF16_TOLERANCE
"""OpenVINO computes in bf16 on CPUs with bf16 instructions (fp32 elsewhere): bf16's bound."""
CUDA_FP32_TOLERANCE = 1e-4
"""fp32 on a GPU against fp32 on the CPU: the same arithmetic in another order (no TF32)."""
FP16_TOLERANCE = BF16_TOLERANCE
"""fp16 under autocast on CUDA: more mantissa than bf16, and the same stated bound."""

CALIBRATION = [
    "A dull, lifeless film with nothing to say.",
    "Wonderful acting, a sharp script and a score I still hum. Go and see it.",
    "It starts well. Then it drags for an hour, and the twist is obvious from the poster.",
]
"""Texts for a statically quantised backend to calibrate on, none of them among TEXTS."""

LONG = (
    "The first act is slow and the dialogue is clumsy. " * 4
    + "But the ending is moving, and beautifully shot. " * 6
    + "I would watch it again."
)
TEXTS = [
    "Short.",
    "",
    "A wonderful film.<br /><br />The acting is superb and the music soars!",
    LONG,
    "I hated every minute of it; a dull, lifeless mess. The worst film of the year.",
]


@pytest.fixture(scope="module")
def anchored(base_model: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The real encoder with the label-anchor head: a zero-shot classifier with real margins."""
    model, tokenizer = new_classifier(base_model=base_model, max_length=WINDOW)
    anchor_head(model, tokenizer, texts=[clean(text) for text in TEXTS if text], seed=0)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def engine(anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase]) -> ScoringEngine:
    model, tokenizer = anchored
    return ScoringEngine(model, tokenizer, version="anchored", device="cpu", backend="fp32")


def windows_of(engine: ScoringEngine, text: str) -> list[list[int]]:
    """The text's tokens in the windows the engine should read: cut where a sentence starts
    (its first token is the first whose characters end after the sentence starts)."""
    encoded = engine.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    breaks = [
        next((i for i, (_, end) in enumerate(offsets) if end > start), len(ids))
        for start, _ in sentence_spans(text)
    ]
    return [ids[a:b] for a, b in sentence_windows(len(ids), breaks, size=WINDOW - 2)]


def plain_fp32(engine: ScoringEngine, text: str, *, by_length: bool = True) -> float:
    """P(positive) the plain way: each window alone through the model's own forward, with its
    [CLS] and [SEP], and the windows' logits averaged, each weighted by its length (the mean
    of all windows' states, through the linear head), or all alike."""
    tokenizer = engine.tokenizer
    logits, weights = [], []
    for window in windows_of(engine, text):
        full = torch.tensor([[tokenizer.cls_token_id, *window, tokenizer.sep_token_id]])
        with torch.inference_mode():
            logits.append(engine.model(input_ids=full, attention_mask=torch.ones_like(full)).logits)
        weights.append(full.shape[1] if by_length else 1)
    mean = (torch.cat(logits) * torch.tensor(weights)[:, None]).sum(dim=0) / sum(weights)
    return float(mean.softmax(dim=0)[1])


@pytest.mark.parametrize("token_budget", [1, 150, 100_000])
def test_scores_equal_plain_unbatched_fp32_scoring(
    engine: ScoringEngine, token_budget: int
) -> None:
    reference = [plain_fp32(engine, text) for text in TEXTS]
    engine.token_budget = token_budget
    try:
        forward = [p.p_positive for p in engine.predict(TEXTS)]
        backward = [p.p_positive for p in engine.predict(TEXTS[::-1])][::-1]
    finally:
        engine.token_budget = 2048

    assert len(windows_of(engine, LONG)) > 1
    assert forward == pytest.approx(reference, abs=PLAIN_TOLERANCE)
    assert backward == pytest.approx(reference, abs=PLAIN_TOLERANCE)


def test_a_very_sure_score_stays_short_of_certain(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase], engine: ScoringEngine
) -> None:
    model, tokenizer = anchored
    text = TEXTS[2]
    gap = torch.logit(torch.tensor(engine.predict([text])[0].p_positive, dtype=torch.float64))
    sure = copy.deepcopy(model)
    with torch.no_grad():  # a head 25 logits sure: float32's softmax would round it to 1.0
        sure.classifier.weight.mul_(25 / abs(float(gap)))
        sure.classifier.bias.mul_(25 / abs(float(gap)))
    scored = ScoringEngine(sure, tokenizer, version="sure", device="cpu", backend="fp32")

    p_positive = scored.predict([text])[0].p_positive

    assert torch.softmax(torch.tensor([0.0, 25.0]), dim=0)[1] == 1.0  # float32 saturates
    assert abs(p_positive - 0.5) > 0.5 - 1e-9 and p_positive not in (0.0, 1.0)


def test_a_text_is_the_mean_of_its_windows_each_weighing_as_much_as_it_holds(
    engine: ScoringEngine,
) -> None:
    text = LONG + " A dull and lifeless coda, badly acted."
    lengths = [len(window) for window in windows_of(engine, text)]

    [prediction] = engine.predict([text])

    assert len(lengths) == 3 and min(lengths) < max(lengths) / 2
    assert prediction.p_positive == pytest.approx(plain_fp32(engine, text), abs=PLAIN_TOLERANCE)
    assert prediction.p_positive != pytest.approx(
        plain_fp32(engine, text, by_length=False), abs=1e-4
    )


def test_a_review_scores_the_same_in_analyze_as_in_predict(engine: ScoringEngine) -> None:
    analyses = engine.analyze(TEXTS)
    cleaned = engine.predict([clean(text) for text in TEXTS])

    assert [a.prediction.p_positive for a in analyses] == pytest.approx(
        [p.p_positive for p in cleaned], abs=PLAIN_TOLERANCE
    )
    assert [[s.text for s in a.sentences] for a in analyses] == [
        split_sentences(text) for text in TEXTS
    ]
    assert engine.analyze([]) == [] and engine.predict([]) == []


def test_a_sentence_score_is_the_head_on_the_mean_of_its_tokens_in_the_review(
    engine: ScoringEngine,
) -> None:
    review = "A wonderful film. The plot drags in the middle. The ending is a joy."
    tokenizer, model = engine.tokenizer, engine.model
    ids = tokenizer(review, add_special_tokens=False)["input_ids"]
    full = torch.tensor([[tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]])
    with torch.inference_mode():
        hidden = model.encoder(input_ids=full, attention_mask=torch.ones_like(full))
    by_hand = []
    for sentence in split_sentences(review):
        tokens = tokenizer(sentence, add_special_tokens=False)["input_ids"]
        start = next(i for i in range(len(ids)) if ids[i : i + len(tokens)] == tokens)
        span = hidden.last_hidden_state[0, 1 + start : 1 + start + len(tokens)]
        with torch.inference_mode():
            by_hand.append(float(model.classifier(span.mean(dim=0)).softmax(dim=0)[1]))

    [analysis] = engine.analyze([review])

    assert len(by_hand) == 3
    assert [s.p_positive for s in analysis.sentences] == pytest.approx(by_hand, abs=1e-5)
    # Read in context, not alone: the plain score of the sentence on its own differs.
    assert analysis.sentences[1].p_positive != pytest.approx(
        plain_fp32(engine, split_sentences(review)[1]), abs=1e-4
    )


def test_the_dynamic_batcher_gives_each_concurrent_caller_the_engines_own_scores(
    engine: ScoringEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: dict[str, set[str]] = {"prepare": set(), "run": set()}

    def recorded(name: str) -> Any:
        method = getattr(engine, name)

        def call(*args: Any) -> Any:
            threads[name].add(threading.current_thread().name)
            return method(*args)

        return call

    for name in threads:
        monkeypatch.setattr(engine, name, recorded(name))
    batcher = DynamicBatcher(engine, max_wait_ms=5, max_batch=4)
    texts = [f"{text} ({n})" for n in range(4) for text in TEXTS]
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="caller") as pool:
        batched = list(pool.map(lambda text: analyze(batcher, [text])[0], texts))
        predicted = list(pool.map(lambda text: batcher.predict([text])[0], texts))
    batcher.close(timeout=60)
    monkeypatch.undo()
    alone = [engine.analyze([text])[0] for text in texts]

    # Each caller tokenises its own texts; the batching thread only runs the model.
    assert threads["prepare"] and all(name.startswith("caller") for name in threads["prepare"])
    assert threads["run"] == {"batcher-anchored"}
    assert [p.p_positive for p in predicted] == pytest.approx(
        [engine.predict([text])[0].p_positive for text in texts], abs=PLAIN_TOLERANCE
    )

    assert [a.model_version for a in batched] == ["anchored"] * len(texts)
    assert [a.prediction.p_positive for a in batched] == pytest.approx(
        [a.prediction.p_positive for a in alone], abs=PLAIN_TOLERANCE
    )
    assert [[s.p_positive for s in a.sentences] for a in batched] == [
        pytest.approx([s.p_positive for s in a.sentences], abs=PLAIN_TOLERANCE) for a in alone
    ]


def test_analyze_runs_each_window_once_and_no_sentence_on_its_own(engine: ScoringEngine) -> None:
    reviews = [TEXTS[2], LONG]
    windows = sum(len(windows_of(engine, clean(review))) for review in reviews)
    rows: list[int] = []

    def count(module: torch.nn.Module, args: object, kwargs: dict[str, torch.Tensor]) -> None:
        rows.append(len(kwargs["input_ids"]))

    hook = engine.model.encoder.register_forward_pre_hook(count, with_kwargs=True)
    try:
        analyses = analyze(engine, reviews)
    finally:
        hook.remove()

    assert sum(len(a.sentences) for a in analyses) > len(reviews)
    assert sum(rows) == windows


def test_sentences_read_alone_score_as_texts_of_their_own(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase], engine: ScoringEngine
) -> None:
    model, tokenizer = anchored
    alone = ScoringEngine(model, tokenizer, version="a", backend="fp32", sentences="alone")

    analyses = alone.analyze(TEXTS)

    for analysis, in_context in zip(analyses, engine.analyze(TEXTS), strict=True):
        texts = [s.text for s in analysis.sentences]
        assert [s.p_positive for s in analysis.sentences] == pytest.approx(
            [p.p_positive for p in engine.predict(texts)], abs=PLAIN_TOLERANCE
        )
        assert analysis.prediction.p_positive == pytest.approx(
            in_context.prediction.p_positive, abs=PLAIN_TOLERANCE
        )


@pytest.mark.parametrize(
    ("backend", "tolerance"),
    [
        ("int8", INT8_TOLERANCE),
        ("bf16", BF16_TOLERANCE),
        ("onnx-fp32", ONNX_FP32_TOLERANCE),
        ("onnx-int8", INT8_TOLERANCE),
        ("openvino", OPENVINO_TOLERANCE),
        ("openvino-int8", INT8_TOLERANCE),
    ],
)
def test_other_backends_stay_close_to_fp32(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase],
    engine: ScoringEngine,
    backend: str,
    tolerance: float,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if backend.startswith("onnx"):
        pytest.importorskip("onnxruntime")
    if backend.startswith("openvino"):
        pytest.importorskip("openvino")
    if backend == "openvino-int8":
        pytest.importorskip("nncf")
    model, tokenizer = anchored
    calibrated: list[int] = []

    def calibration() -> list[str]:
        calibrated.append(1)
        return CALIBRATION

    fast = ScoringEngine(
        model,
        tokenizer,
        version="anchored",
        device="cpu",
        backend=backend,
        cache_dir=tmp_path,
        calibration=calibration,
    )

    reference, quantized = engine.analyze(TEXTS), fast.analyze(TEXTS)

    assert fast.backend == backend
    for exact, close in zip(reference, quantized, strict=True):
        assert close.prediction.p_positive == pytest.approx(
            exact.prediction.p_positive, abs=tolerance
        )
        assert [s.p_positive for s in close.sentences] == pytest.approx(
            [s.p_positive for s in exact.sentences], abs=tolerance
        )
    if backend == "onnx-fp32":
        import onnx

        [exported] = tmp_path.glob("encoder-fp32-*.onnx")
        kernels = {node.op_type for node in onnx.load(exported).graph.node}
        # ONNX Runtime's fused transformer kernels, not the plain export's operators.
        assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= kernels
    if backend == "onnx-int8":
        [exported] = tmp_path.glob("encoder-int8-*.onnx")
        stamp = exported.stat().st_mtime_ns
        ScoringEngine(model, tokenizer, version="again", backend="onnx-int8", cache_dir=tmp_path)
        assert exported.stat().st_mtime_ns == stamp  # exported once, then reused
    if backend == "openvino":
        [converted] = tmp_path.glob("encoder-openvino-*.xml")
        assert converted.with_suffix(".bin").is_file()
        stamp = converted.stat().st_mtime_ns
        ScoringEngine(model, tokenizer, version="again", backend="openvino", cache_dir=tmp_path)
        assert converted.stat().st_mtime_ns == stamp  # converted once, then reused
    if backend == "openvino-int8":
        assert calibrated == [1]
        [quantized_file] = tmp_path.glob("encoder-openvino-int8-*.xml")
        assert quantized_file.with_suffix(".bin").is_file()
        # Quantised once, then reused: without texts to calibrate on, as a later start has.
        ScoringEngine(model, tokenizer, version="again", backend=backend, cache_dir=tmp_path)
        # NNCF's log and progress stay off stdout, where `textflix predict` writes results.
        assert capfd.readouterr().out == ""
    else:
        assert calibrated == []  # only a statically quantised backend calibrates


def test_openvino_int8_without_texts_to_calibrate_on_says_so_and_auto_leaves_it_out(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("nncf")
    model, tokenizer = anchored
    with pytest.raises(ValueError, match="calibrates on unlabeled in-domain texts"):
        ScoringEngine(model, tokenizer, version="a", backend="openvino-int8", cache_dir=tmp_path)
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    monkeypatch.setattr(backends, "available", lambda device: ["fp32", "openvino-int8"])
    sample = [(TEXTS[2], 1), (TEXTS[4], 0)]

    auto = ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", sample=lambda: sample)

    assert auto.backend == "fp32"
    assert [m.backend for m in auto.measurements] == ["fp32"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(
    ("backend", "tolerance"),
    [("fp32", CUDA_FP32_TOLERANCE), ("fp16", FP16_TOLERANCE), ("bf16", BF16_TOLERANCE)],
)
def test_on_cuda_every_backend_stays_close_to_fp32_on_the_cpu(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase],
    engine: ScoringEngine,
    backend: str,
    tolerance: float,
) -> None:
    model, tokenizer = anchored
    on_cpu = engine.analyze(TEXTS)
    gpu = ScoringEngine(
        copy.deepcopy(model), tokenizer, version="anchored", device="cuda", backend=backend
    )

    on_gpu = gpu.analyze(TEXTS)

    assert gpu.device.type == "cuda" and gpu.backend == backend
    for exact, close in zip(on_cpu, on_gpu, strict=True):
        assert close.prediction.p_positive == pytest.approx(
            exact.prediction.p_positive, abs=tolerance
        )
        assert [s.p_positive for s in close.sentences] == pytest.approx(
            [s.p_positive for s in exact.sentences], abs=tolerance
        )


def test_windows_are_packed_by_length_within_the_token_budget() -> None:
    lengths = [5, 130, 7, 64, 64, 3, 200, 12]

    batches = pack(lengths, token_budget=128, max_rows=3)

    assert sorted(row for batch in batches for row in batch) == list(range(len(lengths)))
    in_order = [lengths[row] for batch in batches for row in batch]
    assert in_order == sorted(lengths)
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[row] for row in batch) <= 128


def test_the_fastest_backend_within_half_a_point_of_fp32_is_picked() -> None:
    measured = [
        Measurement("fp32", 10.0, 0.880),
        Measurement("int8", 20.0, 0.876),
        Measurement("onnx-int8", 40.0, 0.870),
    ]

    assert backends.pick(measured) == "int8"
    assert backends.pick(measured[:1]) == "fp32"
    with pytest.raises(ValueError, match="fp32"):
        backends.pick(measured[1:])


def test_auto_measures_once_per_model_and_keeps_the_choice_beside_it(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, tokenizer = anchored
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    monkeypatch.setattr(backends, "available", lambda device: ["fp32", "int8"])
    asked: list[int] = []

    def sample() -> list[tuple[str, int]]:
        asked.append(1)
        return [(TEXTS[2], 1), (TEXTS[4], 0), (LONG, 1)]

    first = ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", sample=sample)
    second = ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", sample=sample)
    unmeasured = ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", backend="int8")

    record = json.loads((tmp_path / "m" / "engine" / "backend.json").read_text())
    assert asked == [1]
    assert first.backend == second.backend == record["chosen"]
    assert {m["backend"] for m in record["measurements"]} == {"fp32", "int8"}
    assert record["key"]["threads"] == first.threads
    assert unmeasured.backend == "int8"

    # Texts to calibrate on, where there were none, measure again (openvino-int8 among them).
    monkeypatch.setattr(backends, "available", lambda device: ["fp32", "int8", "openvino-int8"])
    measured: list[str] = []
    real_measure = ScoringEngine.measure

    def measure(self: ScoringEngine, backend: str, examples: list[tuple[str, int]]) -> object:
        measured.append(backend)
        if backend == "openvino-int8":  # its build is tested above; here only what is measured
            return backends.Measurement(backend, 0.0, 0.0)
        return real_measure(self, backend, examples)  # type: ignore[arg-type]

    monkeypatch.setattr(ScoringEngine, "measure", measure)
    ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", sample=sample)
    assert measured == []  # nothing to calibrate on: the same candidates, the cached choice
    ScoringEngine.from_pretrained(
        tmp_path / "m", device="cpu", sample=sample, calibration=lambda: [TEXTS[2]]
    )
    assert measured == ["fp32", "int8", "openvino-int8"]
    assert asked == [1, 1]

    # New engine code (other windows, other batches) measures again.
    monkeypatch.setattr(backends, "code_fingerprint", lambda: "other code")
    ScoringEngine.from_pretrained(tmp_path / "m", device="cpu", sample=sample)
    assert asked == [1, 1, 1]
    assert (
        json.loads((tmp_path / "m" / "engine" / "backend.json").read_text())["key"]["engine"]
        == "other code"
    )


def test_an_instruction_set_cap_is_part_of_the_host_a_choice_was_measured_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def key() -> dict[str, object]:
        backends.host.cache_clear()  # the host is read once per process, caps with it
        return backends.cache_key(fingerprint="w", threads=2, device=torch.device("cpu"))

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("OV_CPU_MAX_ISA", raising=False)
    uncapped = key()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("OV_CPU_MAX_ISA", "AVX2")
    try:
        capped = key()
    finally:
        monkeypatch.undo()
        backends.host.cache_clear()

    assert "ONEDNN_MAX_CPU_ISA" not in uncapped["isa_caps"]
    assert capped["isa_caps"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert capped["isa_caps"]["OV_CPU_MAX_ISA"] == "AVX2"
    # A choice measured at AVX-512 is not reused by a process kept to AVX2, nor the reverse.
    assert capped != uncapped


def test_callers_in_several_threads_share_one_pytorch_thread_and_get_the_same_scores(
    engine: ScoringEngine,
) -> None:
    # On an AMX host bf16 slows by a fifth or more in every thread once a second thread has
    # run PyTorch (see app/sentiment/torch_thread.py); the encoder must only ever see one.
    alone = [analysis.prediction.p_positive for analysis in engine.analyze(TEXTS)]
    seen: set[str] = set()
    encoder = engine._encoder

    def recording(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        seen.add(threading.current_thread().name)
        return encoder(ids, mask)

    engine._encoder = recording
    try:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="caller") as pool:
            results = list(pool.map(lambda _: engine.analyze(TEXTS), range(8)))
    finally:
        engine._encoder = encoder

    assert seen == {"torch"}
    for analyses in results:
        scores = [analysis.prediction.p_positive for analysis in analyses]
        assert scores == pytest.approx(alone, abs=PLAIN_TOLERANCE)


@pytest.mark.parametrize(("flags", "measured"), [(["avx2"], False), (["avx2", "amx_bf16"], True)])
def test_bf16_is_measured_only_where_the_cpu_has_bf16_instructions(
    flags: list[str], measured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        backends, "host", lambda: {"cpu": "x", "cores": 2, "instruction_sets": flags}
    )
    cpu = torch.device("cpu")

    assert "bf16" in backends.available(cpu)  # it runs anywhere (emulated where it must be)
    assert ("bf16" in backends.candidates(cpu)) is measured
    # What a teacher labels with, unmeasured: bf16 only where the CPU computes it.
    assert backends.unmeasured(cpu) == ("bf16" if measured else "fp32")
    assert backends.unmeasured(torch.device("cuda")) == "fp16"


@pytest.mark.parametrize("bf16_supported", [False, True])
def test_bf16_is_measured_on_cuda_only_where_the_gpu_has_bf16_arithmetic(
    bf16_supported: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16_supported)
    cuda = torch.device("cuda")

    assert backends.available(cuda) == ["fp16", "bf16", "fp32"]
    assert ("bf16" in backends.candidates(cuda)) is bf16_supported
    assert "fp16" in backends.candidates(cuda)


def test_auto_without_a_sample_or_a_measurement_is_fp32(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase], tmp_path: Path
) -> None:
    model, tokenizer = anchored
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")

    assert ScoringEngine.from_pretrained(tmp_path / "m", device="cpu").backend == "fp32"


def test_a_saved_model_loads_in_a_transformers_pipeline_and_agrees_with_the_engine(
    anchored: tuple[PreTrainedModel, PreTrainedTokenizerBase],
    engine: ScoringEngine,
    tmp_path: Path,
) -> None:
    model, tokenizer = anchored
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    texts = [clean(text) for text in TEXTS if text and text != LONG]
    # In a process of its own that never imports Textflix: only the modeling code saved
    # beside the weights can build the model there.
    script = (
        "import json, sys\n"
        "from transformers import pipeline\n"
        "classify = pipeline('text-classification', model=sys.argv[1], trust_remote_code=True)\n"
        "results = classify(json.loads(sys.argv[2]))\n"
        "assert not any(name == 'app' or name.startswith('app.') for name in sys.modules)\n"
        "print(json.dumps(results))\n"
    )

    finished = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script, str(tmp_path / "m"), json.dumps(texts)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""},
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    results = json.loads(finished.stdout.strip().splitlines()[-1])
    predictions = engine.predict(texts)
    assert [r["label"] for r in results] == [p.label for p in predictions]
    assert [r["score"] for r in results] == pytest.approx(
        [p.certainty for p in predictions], abs=1e-4
    )


def test_the_int8_backend_prints_no_deprecation_notice(base_model: str) -> None:
    """PyTorch's notice that its quantised tensors are deprecated went to stderr at a process's
    first int8 quantisation, in the middle of `textflix predict`'s output. PyTorch gives it once
    per process, hence a process of its own."""
    script = (
        "import sys\n"
        "from app.sentiment.engine import ScoringEngine\n"
        "from app.sentiment.modeling import new_classifier\n"
        "model, tokenizer = new_classifier(base_model=sys.argv[1], max_length=128)\n"
        "engine = ScoringEngine(model.eval(), tokenizer, version='v', backend='int8')\n"
        "print(engine.backend, engine.predict(['A fine film.'])[0].label)\n"
    )

    finished = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script, base_model],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.split()[0] == "int8"
    assert "quantized tensor creation functions" not in finished.stderr


@pytest.mark.parametrize(("flags", "native"), [(["avx2"], False), (["avx2", "amx_bf16"], True)])
def test_training_in_auto_precision_is_16_bit_only_where_the_hardware_computes_it(
    flags: list[str], native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        backends, "host", lambda: {"cpu": "x", "cores": 2, "instruction_sets": flags}
    )
    cpu, cuda = torch.device("cpu"), torch.device("cuda")

    assert training_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert training_precision("auto", cuda) == "fp16"
    assert training_precision("fp32", cuda) == "fp32"
    assert training_precision("bf16", cpu) == "bf16"  # asked for, even where emulated
    with pytest.raises(ValueError, match="unknown precision"):
        TrainingArguments(precision="fp16")  # type: ignore[arg-type]
