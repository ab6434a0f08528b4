"""Domain-adaptive pretraining: more masked-language-model training of the encoder on unlabeled
in-domain text (Gururangan et al., 2020, "Don't Stop Pretraining"), before any fine-tune.

Texts and typed arguments in, an encoder checkpoint out (the Hugging Face format, loadable as a
base model): `adapt` reads random windows of the texts, masks 15% of their tokens with
transformers' own masking collator, and trains the encoder to restore them.

Sentence encoders such as all-MiniLM-L6-v2 ship without their masked-language-model head, so
`AutoModelForMaskedLM` starts one (its output layer tied to the word embeddings); the first
`head_only_steps` train that head alone, so its random start does not send large gradients into
the pretrained encoder.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import (
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    PreTrainedModel,
    set_seed,
)

from app.sentiment.batching import random_window, special_tokens
from app.sentiment.modeling import offline
from app.sentiment.torch_thread import check_cancelled, runs_in_torch_thread

log = logging.getLogger(__name__)

REPORT = "adaptation.json"
"""What an adapted checkpoint records beside its weights: arguments, texts, loss, seconds."""


@dataclass(frozen=True)
class AdaptationArguments:
    """How long and how to continue the encoder's masked-language-model training."""

    seed: int = 0
    """Seeds the masking, the windows read and the head's start."""
    steps: int = 120
    """Optimiser steps (each `batch_size` windows)."""
    batch_size: int = 32
    """Windows per step."""
    max_length: int = 128
    """Tokens per window, special tokens included (the length the fine-tune reads)."""
    lr: float = 5e-5
    """Peak learning rate of AdamW after a linear warm-up over 6% of the steps, then linear
    decay to 0."""
    mlm_probability: float = 0.15
    """Share of tokens masked (of those, 80% become [MASK], 10% a random token, 10% stay)."""
    head_only_steps: int = 20
    """First steps that train the new masked-language-model head alone, encoder frozen."""
    head_lr: float = 1e-3
    """Peak learning rate of the new head."""
    weight_decay: float = 0.01


@dataclass(frozen=True)
class Adaptation:
    """What `adapt` did: where the checkpoint is and what it cost."""

    path: Path
    texts: int
    windows: int
    first_loss: float
    last_loss: float
    seconds: float


@runs_in_torch_thread
def adapt(
    *,
    base_model: str,
    texts: Sequence[str],
    out_dir: Path,
    args: AdaptationArguments = AdaptationArguments(),
    base_model_name: str = "",
    progress: bool = True,
) -> Adaptation:
    """Continue `base_model`'s masked-language-model training on `texts` and save the encoder
    (without the head) with its tokenizer in `out_dir`, written next door and renamed when
    complete. Evaluation texts must never be among `texts`."""
    if not texts:
        raise ValueError("no texts to adapt the encoder on")
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists")
    offline()
    set_seed(args.seed)
    rng = random.Random(args.seed)  # noqa: S311 (sampling, not secrets)
    tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(base_model, local_files_only=True)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm=True, mlm_probability=args.mlm_probability, return_tensors="pt"
    )
    prefix, suffix = special_tokens(tokenizer)
    body = args.max_length - len(prefix) - len(suffix)
    order = list(range(len(texts)))
    rng.shuffle(order)
    needed = args.steps * args.batch_size
    chosen = [texts[order[i % len(order)]] for i in range(min(needed, len(order)))]
    token_ids = tokenizer(chosen, add_special_tokens=False, verbose=False)["input_ids"]
    encoder = model.base_model
    # The new head learns from scratch, so faster than the pretrained encoder is nudged.
    head = [p for n, p in model.named_parameters() if not n.startswith(model.base_model_prefix)]
    optimizer = torch.optim.AdamW(
        [
            {"params": list(encoder.parameters()), "lr": args.lr},
            {"params": head, "lr": args.head_lr},
        ],
        weight_decay=args.weight_decay,
    )
    warmup = max(1, math.ceil(0.06 * args.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            (step + 1) / warmup
            if step < warmup
            else max(0.0, (args.steps - step) / max(1, args.steps - warmup))
        ),
    )
    head_module = _mlm_head(model)
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    with tqdm(
        total=args.steps, desc="in-domain pretraining", unit="step", disable=not progress
    ) as bar:
        for step in range(args.steps):
            check_cancelled()  # Ctrl-C stops training between steps
            encoder.requires_grad_(step >= args.head_only_steps)
            batch = [
                prefix
                + random_window(
                    (token_ids[(step * args.batch_size + i) % len(token_ids)]), body, rng
                )
                + suffix
                for i in range(args.batch_size)
            ]
            inputs = collator([{"input_ids": ids} for ids in batch])
            loss = _masked_loss(model, head_module, inputs)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
    seconds = time.perf_counter() - started
    adaptation = Adaptation(
        path=out_dir,
        texts=len(chosen),
        windows=args.steps * args.batch_size,
        first_loss=_mean(losses[:10]),
        last_loss=_mean(losses[-10:]),
        seconds=round(seconds, 1),
    )
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    report = {
        **asdict(adaptation),
        "path": out_dir.name,
        "arguments": asdict(args),
        "base_model": base_model_name or Path(base_model).name,
    }
    (partial / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    partial.rename(out_dir)
    log.info(
        "adapted %s on %d texts in %.0f s: loss %.3f -> %.3f",
        base_model,
        len(chosen),
        seconds,
        adaptation.first_loss,
        adaptation.last_loss,
    )
    return adaptation


def _masked_loss(
    model: PreTrainedModel, head: torch.nn.Module | None, inputs: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    # The vocabulary projection costs more than the whole small encoder when applied at every
    # position, so apply it only where a token was masked (the loss ignores the rest anyway).
    if head is None:
        loss: torch.Tensor = model(**inputs).loss
        return loss
    hidden = model.base_model(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
    ).last_hidden_state
    masked = inputs["labels"] != -100
    return torch.nn.functional.cross_entropy(head(hidden[masked]), inputs["labels"][masked])


def _mlm_head(model: PreTrainedModel) -> torch.nn.Module | None:
    """The masked-language-model head when it is one module beside the encoder (BERT's `cls`,
    MPNet's and RoBERTa's `lm_head`); None for models built otherwise."""
    heads = [module for name, module in model.named_children() if name != model.base_model_prefix]
    return heads[0] if len(heads) == 1 else None


def read_adaptation(path: Path) -> dict[str, object]:
    """The report `adapt` wrote beside an adapted checkpoint."""
    loaded: dict[str, object] = json.loads((path / REPORT).read_text())
    return loaded


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")
