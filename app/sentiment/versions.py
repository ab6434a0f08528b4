"""A saved model version as a Classifier, whatever its kind (see registry)."""

from __future__ import annotations

from pathlib import Path

from app.sentiment.backends import BackendSetting
from app.sentiment.baselines import NBSVM, BaselineClassifier
from app.sentiment.classifier import Classifier, TransformerClassifier
from app.sentiment.engine import Sample, SentenceReading
from app.sentiment.registry import NBSVM as NBSVM_KIND
from app.sentiment.registry import model_dir, read_card


def load(
    path: Path,
    *,
    device: str = "auto",
    backend: BackendSetting = "auto",
    threads: int | None = None,
    sample: Sample | None = None,
    sentences: SentenceReading = "in-context",
) -> Classifier:
    """The classifier saved in the model folder `path`, named after the folder (see
    ScoringEngine.from_pretrained for the backend, and `sample` that measures it)."""
    model_dir(path.parent, path.name)  # ModelNotFoundError unless card and weights are there
    if read_card(path).kind == NBSVM_KIND:
        return BaselineClassifier(NBSVM.load(path), version=path.name)
    return TransformerClassifier.from_pretrained(
        path, device=device, backend=backend, threads=threads, sample=sample, sentences=sentences
    )
