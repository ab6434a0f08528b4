"""Fine-tuning: a plain torch loop from a pretrained encoder to a saved model with its card.

Texts, labels and a `TrainingArguments` go in; a model folder and its `ModelCard` come out.
Where the texts come from, where models live and which model the site serves are the
application's business (app/lifecycle/).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed

from app.sentiment import backends
from app.sentiment.anchors import NEGATIVE as ANCHORS_NEGATIVE
from app.sentiment.anchors import POSITIVE as ANCHORS_POSITIVE
from app.sentiment.anchors import anchor_head
from app.sentiment.arguments import Precision, TrainingArguments
from app.sentiment.baselines import NBSVM, BaselineClassifier
from app.sentiment.batching import random_window
from app.sentiment.calibration import (
    MIN_FIT_TEXTS,
    Calibration,
    expected_calibration_error,
    fit_temperature,
    fold_into_head,
    reliability,
    with_temperature,
)
from app.sentiment.classifier import (
    TransformerClassifier,
    pad_batch,
    resolve_device,
    special_tokens,
)
from app.sentiment.data import Example, SoftExample, describe
from app.sentiment.distillation import soft_cross_entropy
from app.sentiment.evaluation import Evaluation, evaluate, score_examples
from app.sentiment.modeling import MeanPoolingForSequenceClassification, new_classifier
from app.sentiment.registry import NBSVM as NBSVM_KIND
from app.sentiment.registry import ModelCard, save_model
from app.sentiment.torch_thread import check_cancelled, runs_in_torch_thread

log = logging.getLogger(__name__)


@runs_in_torch_thread
def train(
    *,
    base_model: str,
    out_dir: Path,
    train_examples: Sequence[Example],
    eval_examples: Sequence[Example],
    calibration_examples: Sequence[Example] = (),
    soft_examples: Sequence[SoftExample] = (),
    soft_views: Sequence[Sequence[SoftExample]] = (),
    soft_temperature: float = 1.0,
    args: TrainingArguments = TrainingArguments(),
    base_model_name: str = "",
    dataset: str = "",
    notes: Mapping[str, str] | None = None,
    extra_metrics: Mapping[str, float | int] | None = None,
    progress: bool = True,
) -> ModelCard:
    """Fine-tune the checkpoint at `base_model` on the examples, calibrate its certainty on
    `calibration_examples` (texts kept out of both other sets; skipped with fewer than
    MIN_FIT_TEXTS), score the held-out ones, and save it in `out_dir`. The card names the base
    by `base_model_name` (its public name).

    `soft_examples` are texts with a teacher's probability of positive instead of a label
    (distillation): the loss is the cross-entropy with that distribution, as it is with the
    one-hot distribution of a label, both at `soft_temperature` for the soft ones
    (`distillation.soft_cross_entropy`). `soft_views` are more views of the same texts for
    later passes: pass 1 reads `soft_examples`, pass 2 `soft_views[0]` and so on, cycling
    through them all. `notes` (how the recipe got here) join the card's
    hyperparameters, `extra_metrics` (such as a teacher's accuracy) its metrics."""
    if not train_examples:
        raise ValueError("no training examples")
    if not soft_temperature > 0:
        raise ValueError(f"soft_temperature must be positive, not {soft_temperature}")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists: pick another model name")
    set_seed(args.seed)
    target = resolve_device(args.device)
    model, tokenizer = new_classifier(
        base_model=base_model, max_length=args.max_length, dropout=args.dropout, layers=args.layers
    )
    model.to(target)  # type: ignore[arg-type]  # (transformers' `to` wrapper confuses mypy)
    if any(len(view) != len(soft_examples) for view in soft_views):
        raise ValueError("every view of the soft-labeled texts needs one text for each of them")
    labeled = [(text, float(label)) for text, label in train_examples]
    passes = [[*labeled, *view] for view in (soft_examples, *soft_views)]
    temperatures = [1.0] * len(train_examples) + [soft_temperature] * len(soft_examples)
    epochs = args.epochs_for(len(passes[0]))
    started = time.perf_counter()
    if args.head_init == "anchors":
        anchor_head(model, tokenizer, texts=[text for text, _ in train_examples], seed=args.seed)
    train_loss = _fit(
        model,
        tokenizer,
        passes,
        temperatures,
        args=args,
        epochs=epochs,
        device=target,
        rng=random.Random(args.seed),  # noqa: S311 (shuffling, not secrets)
        progress=progress,
    )
    train_seconds = time.perf_counter() - started
    classifier = TransformerClassifier(
        model, tokenizer, version=out_dir.name, device=str(target), batch_size=args.eval_batch_size
    )
    if len(calibration_examples) >= MIN_FIT_TEXTS:
        calibration, held_out = _calibrate(
            model,
            classifier,
            fit_on=calibration_examples,
            held_out=eval_examples,
            progress=progress,
        )
        metrics = held_out.metrics()
    else:
        calibration = None
        metrics = evaluate(classifier=classifier, examples=eval_examples, progress=progress)
    if calibration is not None:
        metrics["temperature"] = round(calibration.temperature, 4)
        metrics["ece_before_calibration"] = round(expected_calibration_error(calibration.before), 4)
    hyperparameters = {
        key: value
        for key, value in asdict(args).items()
        if key not in ("seed", "device", "eval_batch_size", "head_init", "calibration_size")
        and not (key == "layers" and value is None)
    }
    card = _card(
        out_dir=out_dir,
        train_examples=train_examples,
        dataset=dataset,
        train_seconds=train_seconds,
        device=target,
        base_model=base_model_name or Path(base_model).name,
        seed=args.seed,
        hyperparameters={
            **hyperparameters,
            "epochs": epochs,
            "optimizer": "AdamW",
            "schedule": "linear warmup, then linear decay to 0",
            "head": "mean pooling + linear",
            "head_init": (
                f"label anchors ({len(ANCHORS_POSITIVE)} positive, {len(ANCHORS_NEGATIVE)} "
                "negative sentences)"
                if args.head_init == "anchors"
                else "random"
            ),
            "inputs": f"a random {args.max_length}-token window of each review, new each epoch",
            **(
                {
                    "soft_labeled_texts": len(soft_examples),
                    "distillation_temperature": soft_temperature,
                    **({"soft_label_views": 1 + len(soft_views)} if soft_views else {}),
                }
                if soft_examples
                else {}
            ),
            "device": target.type,
            "precision": _describe_precision(training_precision(args.precision, target)),
            **(notes or {}),
        },
        metrics={**metrics, **(extra_metrics or {}), "train_loss": round(train_loss, 4)},
    )
    _save(model, tokenizer, card, out_dir, calibration)
    return card


def _calibrate(
    model: MeanPoolingForSequenceClassification,
    classifier: TransformerClassifier,
    *,
    fit_on: Sequence[Example],
    held_out: Sequence[Example],
    progress: bool,
) -> tuple[Calibration, Evaluation]:
    """Fit the temperature on `fit_on` and fold it into the head; the calibration, and the
    held-out scores as the calibrated model gives them (the uncalibrated ones with logits
    divided by T: one scoring pass serves the reliability diagrams before and after)."""
    fit = score_examples(classifier=classifier, examples=fit_on, progress=progress)
    temperature = fit_temperature(fit.p_positive, fit.labels)
    before = score_examples(classifier=classifier, examples=held_out, progress=progress)
    fold_into_head(model.classifier, temperature)
    after = replace(
        before, p_positive=[with_temperature(p, temperature) for p in before.p_positive]
    )
    log.info("calibrated on %d texts: temperature %.3f", len(fit_on), temperature)
    calibration = Calibration(
        temperature=temperature,
        n_fit=len(fit_on),
        before=reliability(before.p_positive, before.labels),
        after=reliability(after.p_positive, after.labels),
    )
    return calibration, after


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
    card = _card(
        out_dir=out_dir,
        train_examples=train_examples,
        dataset=dataset,
        train_seconds=train_seconds,
        device=torch.device("cpu"),
        base_model="none (trained from scratch)",
        seed=seed,
        hyperparameters={
            "features": "binary word uni- and bigrams scaled by naive-Bayes log-count ratios",
            "alpha": baseline.alpha,
            "C": baseline.c,
            "linear model": "logistic regression (liblinear, L2)",
        },
        metrics={**metrics},
        kind=NBSVM_KIND,
    )
    save_model(out_dir, card, lambda folder: baseline.save(folder))
    return card


def _card(
    *,
    out_dir: Path,
    train_examples: Sequence[Example],
    dataset: str,
    train_seconds: float,
    device: torch.device,
    **fields: Any,
) -> ModelCard:
    """The card of a model trained on `train_examples`: what every card records, and `fields`."""
    return ModelCard(
        name=out_dir.name,
        n_train=len(train_examples),
        train_seconds=round(train_seconds, 1),
        hardware=describe_hardware(device),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=dataset or f"{describe(train_examples)} labelled texts",
        **fields,
    )


def _fit(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    passes: Sequence[Sequence[SoftExample]],
    temperatures: Sequence[float],
    *,
    args: TrainingArguments,
    epochs: int,
    device: torch.device,
    rng: random.Random,
    progress: bool,
) -> float:
    """Train on `passes[0]`, then `passes[1]`... cycling: the same number of texts each, their
    `temperatures` in the same order; the last pass's mean loss."""
    batch_size = args.batch_size
    prefix, suffix = special_tokens(tokenizer)
    body = args.max_length - len(prefix) - len(suffix)

    def tokenized(examples: Sequence[SoftExample]) -> list[list[int]]:
        ids = tokenizer([text for text, _ in examples], add_special_tokens=False, verbose=False)
        return [list(text_ids) for text_ids in ids["input_ids"]]

    views = [(tokenized(examples), [p for _, p in examples]) for examples in passes]
    steps = epochs * math.ceil(len(temperatures) / batch_size)
    optimizer = _optimizer(model, lr=args.lr, weight_decay=args.weight_decay)
    schedule = _warmup_then_decay(optimizer, steps=steps, warmup_fraction=args.warmup_fraction)
    autocast = _AUTOCAST.get(training_precision(args.precision, device))
    # Loss scaling keeps fp16 gradients from underflowing (bf16 has fp32's range); disabled, it
    # passes through.
    scaler = torch.amp.GradScaler(device.type, enabled=autocast == torch.float16)
    pad_id = tokenizer.pad_token_id or 0
    model.train()
    epoch_loss = 0.0
    with tqdm(total=steps, desc="fine-tuning", unit="step", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            texts, p_positive = views[(epoch - 1) % len(views)]
            order = list(range(len(texts)))
            rng.shuffle(order)
            losses = []
            for start in range(0, len(order), batch_size):
                check_cancelled()  # Ctrl-C stops training between steps
                batch = order[start : start + batch_size]
                windows = [prefix + random_window(texts[i], body, rng) + suffix for i in batch]
                ids, mask = pad_batch(windows, pad_id=pad_id, device=device)
                targets = torch.tensor([p_positive[i] for i in batch], device=device)
                temperature = torch.tensor([temperatures[i] for i in batch], device=device)
                with torch.autocast(
                    device_type=device.type,
                    dtype=autocast or torch.float32,
                    enabled=autocast is not None,
                ):
                    logits = model(input_ids=ids, attention_mask=mask).logits
                loss = soft_cross_entropy(logits, targets, temperature)
                scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
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


_AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16}


def training_precision(
    precision: Precision, device: torch.device
) -> Literal["fp32", "bf16", "fp16"]:
    """What the training passes compute in on `device`: "fp32", or the 16-bit float of mixed
    precision. "auto" takes the 16-bit float the hardware computes, by the rule that picks the
    teacher's labeling backend (`backends.unmeasured`): fp16 on CUDA, bf16 on a CPU with bf16
    instructions, else fp32."""
    if precision == "auto":
        chosen = backends.unmeasured(device)
        return chosen if chosen in ("bf16", "fp16") else "fp32"
    return precision


def _optimizer(model: PreTrainedModel, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
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
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )


def _warmup_then_decay(
    optimizer: torch.optim.Optimizer, *, steps: int, warmup_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, round(steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _save(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    card: ModelCard,
    out_dir: Path,
    calibration: Calibration | None,
) -> None:
    # transformers writes the encoder's source into config.json; name it as the card does, by
    # its public name, not by the folder of the machine that trained.
    encoder_config = getattr(model.config, "encoder", None)
    if isinstance(encoder_config, dict):
        encoder_config["_name_or_path"] = card.base_model
    elif encoder_config is not None:
        encoder_config._name_or_path = card.base_model

    def write_weights(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        if calibration is not None:
            calibration.save(folder)

    save_model(out_dir, card, write_weights)


def _describe_precision(precision: str) -> str:
    if precision == "fp32":
        return "fp32"
    return f"{precision} mixed precision (fp32 weights and optimiser)"


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
