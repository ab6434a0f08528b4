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

    def fine_tuned(folder: Path) -> TransformerClassifier:
        kind = read_card(folder).kind
        if kind != FINETUNE:
            raise ModelNotFoundError(
                f"{folder} holds a {kind} model: a cascade is made of fine-tuned ones"
            )
        return TransformerClassifier.from_pretrained(
            folder,
            device=device,
            backend=backend,
            threads=threads,
            sample=sample,
            sentences=sentences,
            calibration=calibration,
        )

    kind = read_card(path).kind
    if kind == NBSVM_KIND:
        return BaselineClassifier(NBSVM.load(path), version=path.name)
    if kind == CASCADE:
        members = Members.load(path)
        first, second = (
            fine_tuned(model_dir(path.parent, name)) for name in (members.first, members.second)
        )
        return Cascade(first, second, certainty=members.certainty, version=path.name)
    return fine_tuned(path)
