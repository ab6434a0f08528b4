"""The labeled texts the model side learns from, adapted from where the application keeps them:
the aclImdb dataset (the local copy, else the official download) and people's labels."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from app.config import Settings
from app.importers.aclimdb import OFFICIAL_URL, iter_reviews
from app.importers.sources import resolve
from app.lifecycle.pretrained import TEACHER_NAME, teacher_checkpoint
from app.sentiment.data import Example, LabeledText, Pools
from app.sentiment.recipes import RecipeArguments, Resources
from app.sentiment.text import clean

log = logging.getLogger(__name__)

LOCAL_COPIES = ("aclImdb_v1.tar.gz", "aclImdb")
"""What `aclimdb_source` looks for in the data folder: the archive, or it unpacked."""


def aclimdb_source(*, settings: Settings, progress: bool = True) -> Path:
    """The aclImdb copy in the data folder, or else the official archive, downloaded once
    into the cache folder (SourceError if that fails)."""
    for name in LOCAL_COPIES:
        local = settings.data_dir / name
        if local.exists():
            return local
    log.info("no aclImdb in %s: using %s", settings.data_dir, OFFICIAL_URL)
    return resolve(OFFICIAL_URL, cache_dir=settings.cache_dir, progress=progress)


def aclimdb_pools(*, settings: Settings, progress: bool = True) -> Pools:
    """Both aclImdb splits as the model side's sampling pools, texts cleaned."""
    source = aclimdb_source(settings=settings, progress=progress)
    reviews = iter_reviews(source, splits=("train", "test"), on_error=_skip)
    return Pools(LabeledText(r.split, r.review_id, clean(r.text), r.label) for r in reviews)


def local_pools(*, settings: Settings) -> Pools | None:
    """Both aclImdb splits from the local copy in the data folder, or None without one: what
    scoring backends are measured and calibrated on (a server start never downloads it)."""
    if not any((settings.data_dir / name).exists() for name in LOCAL_COPIES):
        log.info("no aclImdb in %s to measure or calibrate scoring backends on", settings.data_dir)
        return None
    return aclimdb_pools(settings=settings, progress=False)


def backend_sample(pools: Pools | None, *, size: int) -> list[Example]:
    """`size` held-out aclImdb test reviews to choose the scoring backend on (none without a
    local copy)."""
    if pools is None:
        return []
    return pools.eval_sample(min(size, pools.size("test")))


CALIBRATION_TEXTS = 300
"""aclImdb train reviews that `openvino-int8` measures activation ranges on (unlabeled use:
the test split stays for measuring). Quantising on them took 35 s on 2 cores, once per model."""


def calibration_texts(pools: Pools | None) -> list[str]:
    """Unlabeled in-domain texts for int8 with static ranges to calibrate on: aclImdb train
    reviews, the same for every model (none without a local copy)."""
    if pools is None:
        return []
    texts = pools.train_texts()
    rng = random.Random("calibration")  # noqa: S311 (a sample, not a secret)
    return rng.sample(texts, min(CALIBRATION_TEXTS, len(texts)))


def recipe_resources(*, settings: Settings, pools: Pools, recipe: RecipeArguments) -> Resources:
    """What a recipe's levers need: the base model, the aclImdb train texts as unlabeled
    in-domain text (the test split stays for evaluation), and the teacher if it distills or
    is the version trained."""
    return Resources(
        base_model=settings.resolved_base_model(),
        base_model_name=settings.base_model_name(),
        unlabeled_texts=pools.train_texts() if recipe.adapt or recipe.distill else (),
        cache_dir=settings.cache_dir / "recipes",
        teacher_model=(
            str(teacher_checkpoint(settings.cache_dir))
            if recipe.distill or recipe.serve_teacher
            else None
        ),
        teacher_name=TEACHER_NAME,
    )


def cleaned(examples: Iterable[tuple[str, int]]) -> list[Example]:
    """Texts as stored on the site (with markup) made the model's plain input."""
    return [(clean(text), label) for text, label in examples]


def describe_sample(
    *, source: str, sampled: str, extra: Sequence[Example], held_out: str, seed: int
) -> str:
    """The `dataset` line of a model card."""
    return (
        f"aclImdb v1 (Maas et al., 2011) from {source}: {sampled} reviews sampled at random "
        "from the train split"
        + (f" plus {len(extra)} labeled on the site" if extra else "")
        + f", evaluated on {held_out} from the test split, seed {seed}"
    )


def _skip(location: str, reason: str) -> None:
    # One unreadable review should not stop a training run; the sample just skips it.
    log.warning("skipping %s: %s", location, reason)
