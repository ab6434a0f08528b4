"""The scoring backends' names, in a module of their own that imports nothing heavy: the
settings offer exactly these (`app.config`), and reading settings must not load torch."""

from __future__ import annotations

from typing import Literal

Backend = Literal[
    "fp32", "int8", "bf16", "onnx-fp32", "onnx-int8", "openvino", "openvino-int8", "fp16"
]
"""A way to run the encoder (see `app.sentiment.backends`)."""
BackendSetting = Literal["auto", Backend]
"""A backend, or "auto": the fastest that keeps accuracy, measured on this machine."""
