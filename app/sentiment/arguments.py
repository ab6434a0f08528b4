"""Typed training arguments, in the manner of transformers' `TrainingArguments`: every knob of
a fine-tune documented in one place. No torch here, so the CLI can offer the choices cheaply."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

HeadInit = Literal["anchors", "random"]
HEAD_INITS: tuple[HeadInit, ...] = ("anchors", "random")
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainingArguments:
    """How to fine-tune the encoder; the defaults are what `textflix train` and the learning
    curve use.

    Measured on 1,000 held-out test reviews with all-MiniLM-L6-v2, one seed: with 500 labels,
    3 epochs of 128-token windows beat 2 epochs of 256-token ones in the same time (0.869 vs
    0.844), probably because the encoder was trained on 128-token inputs; a step costs 2.5x less.
    """

    seed: int = 0
    """Seeds the head, dropout, shuffling and the windows read from each text."""
    epochs: int | None = None
    """Passes over the training texts; None: `default_epochs(n)`, about 100 optimiser steps."""
    lr: float = 1e-4
    """Peak learning rate of AdamW, reached after the warm-up."""
    batch_size: int = 16
    """Texts per optimiser step."""
    max_length: int = 128
    """Tokens per training window, special tokens included; each step reads a fresh random
    window of each longer text (inference reads whole texts in windows of the model's limit)."""
    warmup_fraction: float = 0.1
    """Share of the steps over which the learning rate rises linearly from 0; then it decays
    linearly to 0."""
    weight_decay: float = 0.01
    """AdamW weight decay, on weight matrices only (not biases or normalisation gains)."""
    max_grad_norm: float = 1.0
    """Gradients are clipped to this norm."""
    dropout: float = 0.1
    """Dropout before the classification head."""
    head_init: HeadInit = "anchors"
    """"anchors": the head starts as the zero-shot classifier of app/sentiment/anchors.py;
    "random": the usual random head."""
    device: str = "auto"
    """"auto" (CUDA when there is one, else the CPU), "cpu" or "cuda"."""
    precision: Precision = "auto"
    """The arithmetic of the training passes. "auto": mixed precision where the hardware
    computes 16-bit floats (fp16 on CUDA; bf16 on a CPU with AMX or AVX-512 BF16: a step of
    32 windows of 128 tokens on 2 cores took, for MiniLM, 1.2 s against 2.1-2.3 s in fp32 with
    AMX and 1.5 s against 2.2-2.7 s with AVX-512 BF16 alone; for MPNet 3.9-4.0 s against
    11.5-13.7 s and 7.2-8.0 s against 13.4-16.5 s), fp32 elsewhere; "fp32"; "bf16" (mixed
    precision even where the CPU only emulates it: right, but slow). In mixed precision the
    weights, gradients and optimiser stay fp32; only the passes compute in 16 bits."""
    calibration_size: int = 500
    """Labeled train texts outside the training sample on which the temperature that makes the
    model's certainty honest is fitted (app/sentiment/calibration.py); 0: no calibration."""
    eval_batch_size: int = 32
    """Windows per forward pass when scoring the held-out texts."""
    layers: int | None = None
    """Keep only this many of the encoder's layers, evenly spaced and the last among them (a
    shallower student: 3 of MiniLM's 6 cost about half the compute per text); None: all."""

    def __post_init__(self) -> None:
        if self.head_init not in HEAD_INITS:
            raise ValueError(f"unknown head_init {self.head_init!r}: one of {HEAD_INITS}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}: one of {PRECISIONS}")
        if self.layers is not None and self.layers < 1:
            raise ValueError(f"layers must be at least 1, not {self.layers}")

    def epochs_for(self, n_train: int) -> int:
        """The epochs to run for `n_train` texts."""
        return self.epochs or default_epochs(n_train)


def default_epochs(n_train: int) -> int:
    """Enough passes for about 100 optimiser steps at the default batch size, 3 to 12."""
    # Measured: 100 labels need about 12 epochs (0.80 accuracy), 500 labels 3 (0.87).
    return min(12, max(3, math.ceil(1500 / max(1, n_train))))
