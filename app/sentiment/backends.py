"""How the encoder runs: fp32, dynamic int8 or bf16 in PyTorch, fp32 or int8 in ONNX Runtime,
OpenVINO in its own precision or in static int8 (calibrated); fp16, bf16 or fp32 on CUDA.

Every backend maps padded token ids and their attention mask to the encoder's final hidden
states (float32, on the CPU); the engine pools them and applies the head itself, so the review
and its sentences come out of one forward pass whatever runs it. Which backend a model folder
uses on a host is measured once (see engine.choose_backend) and kept beside the weights in
ENGINE_DIR, with the exported ONNX file, so that no start repeats the work.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.util
import json
import logging
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, cast, get_args

import torch
from torch import nn
from transformers import PreTrainedModel

from app.sentiment.backend_names import Backend

log = logging.getLogger(__name__)

BACKENDS: tuple[Backend, ...] = get_args(Backend)
ENGINE_DIR = "engine"
"""The folder beside a model's weights holding its exported encoder and the backend chosen."""
CHOICE_FILE = "backend.json"
ACCURACY_TOLERANCE = 0.005
"""A faster backend is chosen only if it loses at most half a point of accuracy to fp32."""
ONNX_OPSET = 17

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""Padded token ids and attention masks, batch by batch, as the engine feeds the encoder."""
Calibration = Callable[[], Batches]
"""The batches a statically quantised backend calibrates on (the engine's own batches of
unlabeled in-domain texts), made only when the quantised encoder is not cached yet."""


class Encoder(Protocol):
    """Token ids and attention mask ([batch, tokens]) to final hidden states, float32 on CPU."""

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor: ...


class TorchEncoder:
    """The encoder as a PyTorch module: in fp32, dynamic int8 or bf16 (its weights), or under
    autocast to fp16 on CUDA (`autocast`)."""

    def __init__(
        self, module: nn.Module, *, device: torch.device, autocast: torch.dtype | None = None
    ) -> None:
        self.module = module
        self.device = device
        self.autocast = autocast

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.device.type,
                dtype=self.autocast or torch.float32,
                enabled=self.autocast is not None,
            ),
        ):
            output = self.module(
                input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
            )
        return cast(torch.Tensor, output.last_hidden_state).float().cpu()


class OnnxEncoder:
    """The encoder exported to ONNX and run by ONNX Runtime on the CPU."""

    def __init__(self, path: Path, *, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's threads spin between runs by default, taking the cores from whatever
        # runs next: the other model of a cascade, PyTorch, the web server. Measured on the VNNI
        # host (2026-12-05, 1,000 aclImdb test reviews, two rounds interleaved): a cascade of
        # two ONNX int8 models 91-97 reviews/s without spinning against 76-78 with it, one model
        # alone 109-112 against 98-101.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feeds = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        [hidden] = self.session.run(["last_hidden_state"], feeds)
        return torch.from_numpy(hidden).float()


class OpenVinoEncoder:
    """The encoder converted to OpenVINO and run by its CPU plugin, which fuses attention, GELU
    and layer norms and computes in the precision it picks for the CPU: bf16 where the CPU has
    bf16 instructions (AMX, AVX-512 BF16), fp32 elsewhere."""

    def __init__(self, path: Path, *, threads: int) -> None:
        import openvino

        core = openvino.Core()
        compiled = core.compile_model(
            core.read_model(path),
            "CPU",
            {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"},
        )
        self.path = path
        # One request, used by one thread at a time: the engine's tensor work runs in the
        # process's PyTorch thread (torch_thread), the OpenVINO calls with it.
        self.request = compiled.create_infer_request()

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        outputs = self.request.infer({0: input_ids.numpy(), 1: attention_mask.numpy()})
        return torch.from_numpy(outputs[0].copy()).float()


BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags of bf16 arithmetic in hardware (AMX tiles, AVX-512 BF16)."""


def available(device: torch.device) -> list[Backend]:
    """The backends that can run here: on CUDA fp16 (autocast), bf16 (its weights) and fp32;
    on the CPU fp32, int8, bf16 (PyTorch emulates it on a CPU without bf16 instructions: right,
    but slow), ONNX Runtime fp32 and int8 when onnxruntime is installed, OpenVINO when
    openvino is, and OpenVINO int8 when NNCF (its quantiser) is too."""
    if device.type == "cuda":
        return ["fp16", "bf16", "fp32"]
    backends: list[Backend] = ["fp32", "int8", "bf16"]
    if importlib.util.find_spec("onnxruntime") is not None:
        backends.extend(["onnx-fp32", "onnx-int8"])
    if importlib.util.find_spec("openvino") is not None:
        backends.append("openvino")
        if importlib.util.find_spec("nncf") is not None:
            backends.append("openvino-int8")
    return backends


CALIBRATED: tuple[Backend, ...] = ("openvino-int8",)
"""The backends that cannot be built without texts to calibrate on (the first time)."""


def candidates(device: torch.device, *, calibrated: bool = True) -> list[Backend]:
    """The backends worth measuring here (the bench's rows): those available, less bf16 where
    the CPU or GPU lacks bf16 arithmetic (emulated, it could never be the fastest), and less
    those that calibrate when there is nothing to calibrate on (`calibrated` False)."""
    if device.type == "cuda":
        native_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        native_bf16 = any(flag in host()["instruction_sets"] for flag in BF16_FLAGS)
    return [
        b
        for b in available(device)
        if (b != "bf16" or native_bf16) and (calibrated or b not in CALIBRATED)
    ]


def unmeasured(device: torch.device) -> Backend:
    """The fastest backend that needs no measurement to be trusted: 16-bit floats where the
    hardware computes them (fp16 on CUDA; bf16 on a CPU with bf16 instructions: the MPNet
    teacher's soft labels of 300 unlabeled windows moved 0.0009 on average from fp32's, at
    most 0.021, none across 0.5), else fp32 in PyTorch (on an AVX2-only host OpenVINO and ONNX
    Runtime in fp32 labeled 45-word windows no faster: 11.8 and 11.3 a second against 11.9,
    the same labels). Never int8 there: faster (1.7-1.8 times fp32 on such a host), it moved
    the seed-0 teacher's soft labels of 512 45-word windows by 0.29 on average in PyTorch and
    0.43 in ONNX Runtime, 86 and 237 of them across 0.5. For work such as a teacher's labels,
    where there is no held-out sample to measure backends on."""
    if device.type == "cuda":
        return "fp16"
    return "bf16" if "bf16" in candidates(device) else "fp32"


def build_encoder(
    backend: Backend,
    model: PreTrainedModel,
    *,
    device: torch.device,
    threads: int,
    cache_dir: Path | None,
    calibration: Calibration | None = None,
) -> Encoder:
    """The encoder of `model` (a MeanPoolingForSequenceClassification) run by `backend`
    (`openvino-int8` calibrates on `calibration` the first time)."""
    if backend not in available(device):
        raise ValueError(
            f"backend {backend!r} cannot run on {device.type}: one of {available(device)}"
            + ("; `pip install onnxruntime` adds it" if backend.startswith("onnx") else "")
            + ("; `pip install openvino` adds it" if backend == "openvino" else "")
            + ("; `pip install openvino nncf` adds it" if backend == "openvino-int8" else "")
        )
    encoder = cast(nn.Module, model.encoder)
    if backend == "fp32":
        return TorchEncoder(encoder, device=device)
    if backend == "fp16":
        return TorchEncoder(encoder, device=device, autocast=torch.float16)
    if backend == "bf16":
        # A copy with bf16 weights: autocast would cast every weight at every call, and its
        # fp32 islands (layer norms, GELU inputs) cost casts too. Measured on the AMX host,
        # interleaved in one run, the engine with sentence scores on 600 test reviews: 42-43
        # reviews/s against 34-39 under autocast (fp32 18-20), the same accuracy (88.0%).
        return TorchEncoder(copy.deepcopy(encoder).to(torch.bfloat16), device=device)
    if backend == "int8":
        # Quantising 22M parameters takes under a second, so the result is not cached.
        # PyTorch deprecates its quantised tensors (the notice names a future release, not
        # this one) and says so on stderr at every quantisation, in the middle of `textflix
        # predict`'s output: that one notice is silenced here. Should a release remove them,
        # this backend raises and `auto` leaves it out (ScoringEngine.choose_backend).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
            quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                encoder, {nn.Linear}, dtype=torch.qint8
            )
        return TorchEncoder(quantized, device=device)
    if backend == "openvino":
        return OpenVinoEncoder(openvino_file(encoder, cache_dir=cache_dir), threads=threads)
    if backend == "openvino-int8":
        path = openvino_int8_file(encoder, cache_dir=cache_dir, calibration=calibration)
        return OpenVinoEncoder(path, threads=threads)
    path = onnx_file(encoder, cache_dir=cache_dir, int8=backend == "onnx-int8")
    return OnnxEncoder(path, threads=threads)


def openvino_file(encoder: nn.Module, *, cache_dir: Path | None) -> Path:
    """The encoder converted to OpenVINO's format (an .xml graph beside its .bin weights, kept
    in fp32: the CPU plugin picks its precision when it loads them): made once per weights and
    kept in `cache_dir` (a temporary folder when there is none or it cannot be written)."""
    import openvino

    folder = _writable(cache_dir)
    path = folder / f"encoder-openvino-{weights_fingerprint(encoder)}.xml"
    if not path.is_file():
        log.info("converting the encoder to OpenVINO in %s (once per model version)", path)
        ids, mask = _example_inputs()
        encoder = copy.deepcopy(encoder)
        if isinstance(encoder, PreTrainedModel):
            # The tracer reads every attribute, `loss_function` too, and transformers warns
            # that a bare encoder has no loss it recognises; it has none to trace either.
            encoder.loss_function = nn.functional.cross_entropy
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constant shape checks
            converted = openvino.convert_model(
                HiddenStates(encoder).cpu().eval(),
                example_input=(ids, mask),
                input=[openvino.PartialShape([-1, -1]), openvino.PartialShape([-1, -1])],
            )
        partial = folder / f".{path.stem}.partial.xml"
        openvino.save_model(converted, partial, compress_to_fp16=False)
        # The weights first: an .xml under its final name always has its .bin beside it.
        partial.with_suffix(".bin").rename(path.with_suffix(".bin"))
        partial.rename(path)
    return path


def openvino_int8_file(
    encoder: nn.Module, *, cache_dir: Path | None, calibration: Calibration | None
) -> Path:
    """The OpenVINO encoder quantised to int8 by NNCF (OpenVINO's own quantiser): weights per
    channel, activations with ranges measured on the `calibration` batches (so the int8 kernels
    run from one layer to the next without a float pass in between), in its transformer mode
    (SmoothQuant first, softmax and layer norms kept in float): made once per weights and kept
    in `cache_dir`. Measured on the AMD EPYC host (AVX-512 VNNI, no AMX), 600 aclImdb test
    reviews, interleaved in one process (2026-12-06): 69-74 reviews/s against 42-46 for
    `openvino` and `onnx-int8`, P(positive) 0.006 from fp32's on average (`onnx-int8`: 0.019),
    88.2% against fp32's 88.5 (`onnx-int8`: 86.8); in the bench's 1,000 other reviews 0.6 point
    below fp32, just outside `auto`'s half point (as `onnx-int8` there): which of them `auto`
    picks can depend on the sample it measures on."""
    folder = _writable(cache_dir)
    path = folder / f"encoder-openvino-int8-{weights_fingerprint(encoder)}.xml"
    if path.is_file():
        return path
    if calibration is None:
        raise ValueError(
            "openvino-int8 calibrates on unlabeled in-domain texts the first time, and none "
            "were given (the app gives aclImdb train reviews when a local copy is there)"
        )
    import nncf
    import openvino

    # NNCF logs and draws its progress on stdout, where `textflix predict` writes its results.
    for handler in logging.getLogger("nncf").handlers:
        if type(handler) is logging.StreamHandler:  # its console handler (not a log file)
            handler.setStream(sys.stderr)
    source = openvino_file(encoder, cache_dir=cache_dir)
    batches = [(ids.numpy(), mask.numpy()) for ids, mask in calibration()]
    if not batches:
        raise ValueError("openvino-int8 needs at least one batch of texts to calibrate on")
    log.info("quantising the encoder to int8 on %d batches (once per model version)", len(batches))
    model = openvino.Core().read_model(source)
    names = [port.get_any_name() for port in model.inputs]
    with contextlib.redirect_stdout(sys.stderr):
        quantized = nncf.quantize(
            model,
            nncf.Dataset(batches, lambda batch: dict(zip(names, batch, strict=True))),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(batches),
        )
    partial = folder / f".{path.stem}.partial.xml"
    openvino.save_model(quantized, partial, compress_to_fp16=False)
    partial.with_suffix(".bin").rename(path.with_suffix(".bin"))
    partial.rename(path)
    return path


def onnx_file(encoder: nn.Module, *, cache_dir: Path | None, int8: bool) -> Path:
    """The encoder exported to ONNX, its attention, GELU and layer norms fused into ONNX
    Runtime's transformer kernels (with int8 weights if `int8`): made once per weights and kept
    in `cache_dir` (a temporary folder when there is none or it cannot be written)."""
    folder = _writable(cache_dir)
    fingerprint = weights_fingerprint(encoder)
    # The file names name the recipe too, so that a changed recipe makes new files.
    fp32 = folder / f"encoder-fp32-fused-{fingerprint}.onnx"
    if not fp32.is_file():
        log.info("exporting the encoder to ONNX in %s (once per model version)", fp32)
        exported = folder / f".{fp32.name}.exported"
        _export_onnx(encoder, exported)
        partial = folder / f".{fp32.name}.partial"
        _fuse(exported, partial, config=getattr(encoder, "config", None))
        exported.unlink(missing_ok=True)
        partial.rename(fp32)
    if not int8:
        return fp32
    path = folder / f"encoder-int8-fused-per-channel-{fingerprint}.onnx"
    if not path.is_file():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        partial = folder / f".{path.name}.partial"
        # Per-channel weight scales: measured on aclImdb reviews, they halve the int8 error
        # in P(positive) against one scale per tensor. The fused kernels' outputs have no
        # inferred type, hence the default (float) the quantiser is told to assume.
        quantize_dynamic(
            fp32,
            partial,
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        partial.rename(path)
    return path


def _fuse(source: Path, target: Path, *, config: Any) -> None:
    """ONNX Runtime's transformer optimizer on a BERT-family export: attention, GELU and layer
    norms fused into single kernels (exact in fp32; with int8 weights, measured on aclImdb
    reviews, about 1.2-1.3x the unfused graph's speed). An encoder it cannot read is kept
    unfused: slower, never wrong."""
    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(
            str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
        )
        fused.save_model_to_file(str(target))
        log.info("fused kernels: %s", fused.get_fused_operator_statistics())
    except Exception:  # a failure of the optimizer leaves the plain export, which works
        log.exception("could not fuse the ONNX encoder's kernels: keeping the plain export")
        source.replace(target)


class HiddenStates(nn.Module):
    """An encoder as a function of (input ids, attention mask) to its final hidden states, as
    exporters and converters want it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        output = self.inner(input_ids=input_ids, attention_mask=attention_mask)
        return cast(torch.Tensor, output.last_hidden_state)


def _example_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Two token-id rows (one padded) and their attention mask, to trace an encoder with."""
    ids = torch.tensor([[101, 2023, 3185, 2001, 2307, 102], [101, 2307, 102, 0, 0, 0]])
    return ids, (ids != 0).long()


def _export_onnx(encoder: nn.Module, path: Path) -> None:
    # Attention written out in plain operators ("eager"), which ONNX Runtime's optimizer
    # recognises and fuses; the fused scaled-dot-product export it does not. On a copy, so
    # that the model served in PyTorch keeps its own attention.
    encoder = copy.deepcopy(encoder)
    if isinstance(encoder, PreTrainedModel):
        encoder.set_attn_implementation("eager")
    ids, mask = _example_inputs()
    dynamic = {0: "batch", 1: "tokens"}
    # The TorchScript exporter (dynamo=False) needs no extra packages and handles BERT's
    # dynamic shapes; the newer exporter would add onnxscript to the dependencies.
    # The tracer warns that shape checks in transformers' masking become constants: they hold
    # for every input of an encoder (no past keys, no causal mask), so the warnings are noise.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            HiddenStates(encoder).cpu().eval(),
            (ids, mask),
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic},
            opset_version=ONNX_OPSET,
        )


ENGINE_SOURCES = ("engine.py", "backends.py", "batching.py", "text.py")
"""The modules whose code decides how fast a backend scores: what it runs, in which batches."""


@functools.cache
def code_fingerprint() -> str:
    """A short hash of the engine's code (ENGINE_SOURCES): a choice measured with other code
    (other windows, other batches) is measured again."""
    digest = hashlib.sha256()
    for name in ENGINE_SOURCES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def weights_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's weights: an artefact made from them is valid while it holds."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def _writable(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            probe = cache_dir / ".probe"
            probe.touch()
            probe.unlink()
            return cache_dir
        except OSError as exc:
            log.warning("cannot write to %s (%s): the export is not kept", cache_dir, exc)
    return Path(tempfile.mkdtemp(prefix="textflix-engine-"))


@dataclass(frozen=True)
class Measurement:
    """One backend on the held-out sample: its speed (sentence scores included) and accuracy."""

    backend: Backend
    reviews_per_second: float
    accuracy: float


def pick(measurements: Sequence[Measurement], *, tolerance: float = ACCURACY_TOLERANCE) -> Backend:
    """The fastest backend whose accuracy is within `tolerance` of fp32's (fp32 if none is)."""
    reference = next((m.accuracy for m in measurements if m.backend == "fp32"), None)
    if reference is None:
        raise ValueError("pick needs the fp32 measurement as the reference")
    good = [m for m in measurements if m.accuracy >= reference - tolerance]
    return max(good, key=lambda m: m.reviews_per_second).backend


ISA_CAPS = (
    "ONEDNN_MAX_CPU_ISA",
    "OV_CPU_MAX_ISA",
    "MKL_ENABLE_INSTRUCTIONS",
    "ATEN_CPU_CAPABILITY",
)
"""Environment variables that keep the runtimes below the CPU's instruction sets (oneDNN, in
PyTorch and in OpenVINO's CPU plugin; OpenVINO's own kernels; MKL, PyTorch's BLAS; PyTorch's own
kernels), read once when each library loads. Set to AVX2 (avx2 for the last) on an AVX-512
host they stand in for an AVX2-only host of the same cores and caches; ONNX Runtime's kernels
(MLAS) and PyTorch's int8 ones (fbgemm) have no such switch and keep the CPU's instruction
sets."""


def isa_caps() -> dict[str, str]:
    """The instruction-set caps this process runs under (empty: the CPU's own)."""
    return {name: os.environ[name] for name in ISA_CAPS if os.environ.get(name)}


@functools.cache
def host() -> dict[str, Any]:
    """What makes a backend fast or slow here: the CPU, its instruction sets (and any cap the
    environment puts on them, see `ISA_CAPS`), the threads."""
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass  # not Linux: the model name from platform is all there is
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "instruction_sets": [flag for flag in wanted if flag in flags],
        "isa_caps": isa_caps(),
    }


def cache_key(
    *, fingerprint: str, threads: int, device: torch.device, calibrated: bool = True
) -> dict[str, Any]:
    """What a cached choice depends on: the weights, the engine's code, the host, the threads,
    the runtimes, and the backends there were to measure (a new one is measured against the old
    choice; so is one that calibrates, once there are texts to calibrate on)."""
    versions = {"torch": torch.__version__}
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    if importlib.util.find_spec("openvino") is not None:
        import openvino

        versions["openvino"] = openvino.__version__
    return {
        "weights": fingerprint,
        "engine": code_fingerprint(),
        **host(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": threads,
        "versions": versions,
        "candidates": candidates(device, calibrated=calibrated),
    }


def cached_choice(cache_dir: Path, key: dict[str, Any]) -> Backend | None:
    """The backend measured before for this key, if it is still one that can run."""
    try:
        saved = json.loads((cache_dir / CHOICE_FILE).read_text())
    except (OSError, ValueError):
        return None
    chosen = saved.get("chosen") if isinstance(saved, dict) else None
    if saved.get("key") != key or chosen not in BACKENDS:
        return None
    return cast(Backend, chosen)


def save_choice(
    cache_dir: Path, key: dict[str, Any], chosen: Backend, measurements: Sequence[Measurement]
) -> None:
    """Keep the measured choice beside the weights (a warning if the folder is read-only)."""
    record = {
        "key": key,
        "chosen": chosen,
        "tolerance": ACCURACY_TOLERANCE,
        "measurements": [asdict(m) for m in measurements],
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / CHOICE_FILE).write_text(json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        log.warning("cannot keep the backend choice in %s (%s)", cache_dir, exc)
