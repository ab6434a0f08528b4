"""Fine-tuning: a plain torch loop from a pretrained encoder to a saved model with its card."""

from __future__ import annotations

import logging
import math
import os
import platform
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from app.config import Settings
from app.importers.aclimdb import OFFICIAL_URL
from app.importers.sources import resolve
from app.sentiment.anchors import NEGATIVE as ANCHORS_NEGATIVE
from app.sentiment.anchors import POSITIVE as ANCHORS_POSITIVE
from app.sentiment.anchors import anchor_head
from app.sentiment.baselines import NBSVM, BaselineClassifier
from app.sentiment.classifier import (
    TransformerClassifier,
    mixed_precision,
    pad_batch,
    resolve_device,
    special_tokens,
)
from app.sentiment.data import Example, describe, sample_aclimdb
from app.sentiment.evaluation import evaluate
from app.sentiment.modeling import new_classifier
from app.sentiment.registry import FINETUNE, ModelCard, current_model_dir, set_current, write_card
from app.sentiment.registry import NBSVM as NBSVM_KIND
from app.sentiment.text import clean

log = logging.getLogger(__name__)

# Measured on 1,000 held-out test reviews with all-MiniLM-L6-v2, one seed: with 500 labels,
# 3 epochs of 128-token windows beat 2 epochs of 256-token ones in the same time (0.869 vs
# 0.844), probably because the encoder was trained on 128-token inputs; a step costs 2.5x less.
DEFAULT_LR = 1e-4
DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_LENGTH = 128
WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
DROPOUT = 0.1
EVAL_BATCH_SIZE = 32
HEAD_INITS = ("anchors", "random")
DEFAULT_HEAD_INIT = "anchors"  # see app/sentiment/anchors.py for what it measured
ARCHIVE_NAME = "aclImdb_v1.tar.gz"


def train(
    *,
    base_model: str,
    out_dir: Path,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    max_length: int,
    device: str = "auto",
    progress: bool = True,
    dataset: str = "",
    head_init: str = DEFAULT_HEAD_INIT,
) -> ModelCard:
    """Fine-tune `base_model` on the examples, score the held-out ones, and save it in `out_dir`."""
    if not train_examples:
        raise ValueError("no training examples")
    if head_init not in HEAD_INITS:
        raise ValueError(f"unknown head_init {head_init!r}: one of {HEAD_INITS}")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists: pick another model name")
    set_seed(seed)
    target = resolve_device(device)
    model, tokenizer = new_classifier(base_model=base_model, max_length=max_length, dropout=DROPOUT)
    model.to(target)  # type: ignore[arg-type]  # (transformers' `to` wrapper confuses mypy)
    started = time.perf_counter()
    if head_init == "anchors":
        anchor_head(model, tokenizer, texts=[text for text, _ in train_examples], seed=seed)
    train_loss = _fit(
        model,
        tokenizer,
        train_examples,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        max_length=max_length,
        device=target,
        rng=random.Random(seed),  # noqa: S311 (shuffling, not secrets)
        progress=progress,
    )
    train_seconds = time.perf_counter() - started
    classifier = TransformerClassifier(
        model, tokenizer, version=out_dir.name, device=str(target), batch_size=EVAL_BATCH_SIZE
    )
    metrics = evaluate(classifier=classifier, examples=eval_examples, progress=progress)
    card = ModelCard(
        name=out_dir.name,
        base_model=base_model,
        n_train=len(train_examples),
        seed=seed,
        hyperparameters={
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "max_length": max_length,
            "warmup_fraction": WARMUP_FRACTION,
            "weight_decay": WEIGHT_DECAY,
            "max_grad_norm": MAX_GRAD_NORM,
            "dropout": DROPOUT,
            "optimizer": "AdamW",
            "schedule": "linear warmup, then linear decay to 0",
            "head": "mean pooling + linear",
            "head_init": (
                f"label anchors ({len(ANCHORS_POSITIVE)} positive, {len(ANCHORS_NEGATIVE)} "
                "negative sentences)"
                if head_init == "anchors"
                else "random"
            ),
            "inputs": f"a random {max_length}-token window of each review, new each epoch",
            "device": target.type,
        },
        metrics={**metrics, "train_loss": round(train_loss, 4)},
        train_seconds=round(train_seconds, 1),
        hardware=describe_hardware(target),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=dataset or f"{describe(train_examples)} labelled texts",
    )
    _save(model, tokenizer, card, out_dir)
    log.info("saved %s: %s", out_dir, metrics)
    return card


def train_nbsvm(
    *,
    out_dir: Path,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    seed: int,
    progress: bool = True,
    dataset: str = "",
) -> ModelCard:
    """Fit the NB-SVM baseline on the examples, score the held-out ones, and save it in `out_dir`:
    a version to compare the fine-tuned model with, on the site as in the learning curve."""
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists: pick another model name")
    baseline = NBSVM()
    started = time.perf_counter()
    baseline.fit([text for text, _ in train_examples], [y for _, y in train_examples], seed=seed)
    train_seconds = time.perf_counter() - started
    classifier = BaselineClassifier(baseline, version=out_dir.name)
    metrics = evaluate(classifier=classifier, examples=eval_examples, progress=progress)
    card = ModelCard(
        name=out_dir.name,
        base_model="none (trained from scratch)",
        n_train=len(train_examples),
        seed=seed,
        hyperparameters={
            "features": "binary word uni- and bigrams scaled by naive-Bayes log-count ratios",
            "alpha": baseline.alpha,
            "C": baseline.c,
            "linear model": "logistic regression (liblinear, L2)",
        },
        metrics={**metrics},
        train_seconds=round(train_seconds, 1),
        hardware=describe_hardware(torch.device("cpu")),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=dataset or f"{describe(train_examples)} labelled texts",
        kind=NBSVM_KIND,
    )
    _save_files(out_dir, card, lambda folder: baseline.save(folder))
    log.info("saved %s: %s", out_dir, metrics)
    return card


def _fit(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    max_length: int,
    device: torch.device,
    rng: random.Random,
    progress: bool,
) -> float:
    prefix, suffix = special_tokens(tokenizer)
    body = max_length - len(prefix) - len(suffix)
    token_ids = tokenizer([text for text, _ in examples], add_special_tokens=False, verbose=False)
    texts: list[list[int]] = [list(ids) for ids in token_ids["input_ids"]]
    labels = [label for _, label in examples]
    steps = epochs * math.ceil(len(examples) / batch_size)
    optimizer = _optimizer(model, lr=lr)
    schedule = _warmup_then_decay(optimizer, steps=steps)
    # Loss scaling keeps fp16 gradients from underflowing; disabled, it passes through (CPU).
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    pad_id = tokenizer.pad_token_id or 0
    model.train()
    epoch_loss = 0.0
    with tqdm(total=steps, desc="fine-tuning", unit="step", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            order = list(range(len(texts)))
            rng.shuffle(order)
            losses = []
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                windows = [prefix + _random_window(texts[i], body, rng) + suffix for i in batch]
                ids, mask = pad_batch(windows, pad_id=pad_id, device=device)
                targets = torch.tensor([labels[i] for i in batch], device=device)
                with mixed_precision(device):
                    loss = model(input_ids=ids, attention_mask=mask, labels=targets).loss
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                scaler.step(optimizer)
                scaler.update()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                bar.update()
                bar.set_postfix(epoch=epoch, loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
            epoch_loss = sum(losses) / len(losses)
            log.info("epoch %d/%d: mean training loss %.4f", epoch, epochs, epoch_loss)
    return epoch_loss


def _random_window(token_ids: list[int], size: int, rng: random.Random) -> list[int]:
    # A fresh random stretch of each long review every epoch: the model sees more of the text
    # than a fixed cut would show it, at the cost of short, cheap inputs.
    if len(token_ids) <= size:
        return token_ids
    start = rng.randrange(len(token_ids) - size + 1)
    return token_ids[start : start + size]


def _optimizer(model: PreTrainedModel, *, lr: float) -> torch.optim.AdamW:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        # Weight decay on biases and normalisation gains only pulls them away from their
        # pretrained values; the usual BERT recipe leaves them out.
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name else decay).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": WEIGHT_DECAY},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )


def _warmup_then_decay(
    optimizer: torch.optim.Optimizer, *, steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, round(steps * WARMUP_FRACTION))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _save(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, card: ModelCard, out_dir: Path
) -> None:
    def write_weights(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    _save_files(out_dir, card, write_weights)


def _save_files(out_dir: Path, card: ModelCard, write_weights: Callable[[Path], None]) -> None:
    # Written next door and renamed when complete, so that an interrupted training never
    # leaves a half-written model where the registry would find it.
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    write_weights(partial)
    write_card(partial, card)
    _mode_from_umask(partial)
    partial.rename(out_dir)


def _mode_from_umask(folder: Path) -> None:
    # safetensors writes model.safetensors as 0600, so a site running as another user than the
    # one who trained could not read it; give every file the mode the umask gives new files.
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def describe_hardware(device: torch.device) -> str:
    """The processor that trained, for the model card: GPU name or CPU model, torch threads."""
    cpu = f"CPU {_cpu_name()} ({os.cpu_count()} cores), {torch.get_num_threads()} torch threads"
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}; {cpu}"
    return cpu


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or platform.machine() or "unknown"


def default_epochs(n_train: int) -> int:
    """Enough passes for about 100 optimiser steps at the default batch size, 3 to 12."""
    # Measured: 100 labels need about 12 epochs (0.80 accuracy), 500 labels 3 (0.87).
    return min(12, max(3, math.ceil(1500 / max(1, n_train))))


def default_name(*, settings: Settings, n_train: int, seed: int, kind: str = FINETUNE) -> str:
    """A model folder name such as minilm-n500-s0-20250101-120000 (nbsvm-n500-... for NB-SVM)."""
    base = "minilm"
    if kind != FINETUNE:
        base = kind
    elif settings.base_model:
        base = re.sub(r"[^a-z0-9]+", "-", Path(settings.base_model).name.lower()).strip("-")
    return f"{base or 'model'}-n{n_train}-s{seed}-{datetime.now():%Y%m%d-%H%M%S}"


def dataset_source(*, settings: Settings, progress: bool = True) -> Path:
    """The aclImdb archive in the data folder, or else the official one, downloaded once."""
    local = settings.data_dir / ARCHIVE_NAME
    if local.exists():
        return local
    log.info("%s not found: using %s", local, OFFICIAL_URL)
    return resolve(OFFICIAL_URL, cache_dir=settings.models_dir.parent / ".cache", progress=progress)


def run_training(
    *,
    settings: Settings,
    name: str | None,
    n_train: int = 500,
    n_eval: int = 1000,
    seed: int = 0,
    epochs: int | None = None,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_length: int = DEFAULT_MAX_LENGTH,
    make_current: bool = True,
    progress: bool = True,
    extra_examples: Sequence[Example] = (),
    kind: str = FINETUNE,
    head_init: str = DEFAULT_HEAD_INIT,
) -> ModelCard:
    """Fine-tune the configured base model on aclImdb (plus `extra_examples`, e.g. people's
    labels from the site) and save it in the models folder; with kind "nbsvm", fit the NB-SVM
    baseline on the same reviews instead."""
    if kind not in (FINETUNE, NBSVM_KIND):
        raise ValueError(f"unknown kind of model {kind!r}: {FINETUNE} or {NBSVM_KIND}")
    source = dataset_source(settings=settings, progress=progress)
    train_examples, eval_examples = sample_aclimdb(
        source=source, n_train=n_train, n_eval=n_eval, seed=seed
    )
    sampled = describe(train_examples)
    train_examples = [*train_examples, *((clean(text), label) for text, label in extra_examples)]
    name = name or default_name(settings=settings, n_train=n_train, seed=seed, kind=kind)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    dataset = (
        f"aclImdb v1 (Maas et al., 2011) from {source}: {sampled} reviews "
        f"sampled at random from the train split"
        + (f" plus {len(extra_examples)} labeled on the site" if extra_examples else "")
        + f", evaluated on {describe(eval_examples)} "
        f"from the test split, seed {seed}"
    )
    if kind == NBSVM_KIND:
        card = train_nbsvm(
            out_dir=settings.models_dir / name,
            train_examples=train_examples,
            eval_examples=eval_examples,
            seed=seed,
            progress=progress,
            dataset=dataset,
        )
    else:
        card = train(
            base_model=settings.resolved_base_model(),
            out_dir=settings.models_dir / name,
            train_examples=train_examples,
            eval_examples=eval_examples,
            seed=seed,
            epochs=epochs or default_epochs(n_train),
            lr=lr,
            batch_size=batch_size,
            max_length=max_length,
            device=settings.device,
            progress=progress,
            dataset=dataset,
            head_init=head_init,
        )
    # Until models are compared before promotion, a new model only becomes current when
    # there is none, so retraining never silently swaps the model the site serves.
    if make_current and current_model_dir(settings.models_dir) is None:
        set_current(settings.models_dir, card.name)
    return card
