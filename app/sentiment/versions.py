"""A saved model version as a Classifier, whatever its kind (see registry)."""

from __future__ import annotations

from pathlib import Path

from app.sentiment.backend_names import BackendSetting
from app.sentiment.baselines import NBSVM, BaselineClassifier
from app.sentiment.cascade import Cascade, Members
from app.sentiment.classifier import Classifier, TransformerClassifier
from app.sentiment.engine import CalibrationTexts, Sample, SentenceReading
from app.sentiment.registry import CASCADE, FINETUNE, ModelNotFoundError, model_dir, read_card
from app.sentiment.registry import NBSVM as NBSVM_KIND


def load(
    path: Path,
    *,
    device: str = "auto",
    backend: BackendSetting = "auto",
    threads: int | None = None,
    sample: Sample | None = None,
    sentences: SentenceReading = "in-context",
    calibration: CalibrationTexts | None = None,
) -> Classifier:
    """The classifier saved in the model folder `path`, named after the folder (see
    ScoringEngine.from_pretrained for the backend, `sample` that measures it and `calibration`
    that int8 with static ranges calibrates on)."""
    model_dir(path.parent, path.name)  # ModelNotFoundError unless card and weights are there
    kind = read_card(path).kind
    if kind == NBSVM_KIND:
        return BaselineClassifier(NBSVM.load(path), version=path.name)
    if kind == CASCADE:
        members = Members.load(path)
        first, second = (
            _engine(
                model_dir(path.parent, name),
                device,
                backend,
                threads,
                sample,
                sentences,
                calibration,
            )
            for name in (members.first, members.second)
        )
        return Cascade(first, second, certainty=members.certainty, version=path.name)
    return _engine(path, device, backend, threads, sample, sentences, calibration)


def _engine(
    path: Path,
    device: str,
    backend: BackendSetting,
    threads: int | None,
    sample: Sample | None,
    sentences: SentenceReading,
    calibration: CalibrationTexts | None,
) -> TransformerClassifier:
    kind = read_card(path).kind
    if kind != FINETUNE:
        raise ModelNotFoundError(
            f"{path} holds a {kind} model: a cascade is made of fine-tuned ones"
        )
    return TransformerClassifier.from_pretrained(
        path,
        device=device,
        backend=backend,
        threads=threads,
        sample=sample,
        sentences=sentences,
        calibration=calibration,
    )
