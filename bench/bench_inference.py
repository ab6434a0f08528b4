"""Reviews per second of TransformerClassifier.predict on the CPU at batch sizes 1, 8 and 32.

    python bench/bench_inference.py [MODEL_DIR] [--reviews 256] [--max-length 128]

Without MODEL_DIR it measures the base encoder with an untrained head, which costs the same
as a fine-tuned model with the same window. Reviews come from the aclImdb test split when the
archive is in the data folder (real lengths matter: long reviews take several windows), else
from a built-in text repeated to typical review lengths. Prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from app.config import Settings
from app.sentiment.classifier import TransformerClassifier, token_windows
from app.sentiment.data import sample_aclimdb
from app.sentiment.modeling import new_classifier
from app.sentiment.training import ARCHIVE_NAME

BATCH_SIZES = (1, 8, 32)
FALLBACK_SENTENCE = "The plot moves slowly but the acting is strong and the ending works. "


def load(model_dir: Path | None, *, max_length: int) -> TransformerClassifier:
    if model_dir is not None:
        return TransformerClassifier.from_pretrained(model_dir, device="cpu")
    model, tokenizer = new_classifier(
        base_model=Settings().resolved_base_model(), max_length=max_length
    )
    return TransformerClassifier(model, tokenizer, version="base-untrained", device="cpu")


def reviews(n: int) -> tuple[list[str], str]:
    archive = Settings().data_dir / ARCHIVE_NAME
    if archive.exists():
        _, held_out = sample_aclimdb(source=archive, n_train=0, n_eval=n, seed=0)
        return [text for text, _ in held_out], f"{n} aclImdb test reviews"
    lengths = [2, 5, 9, 14, 25]  # sentences: roughly the spread of aclImdb review lengths
    texts = [FALLBACK_SENTENCE * lengths[i % len(lengths)] for i in range(n)]
    return texts, f"{n} synthetic reviews (no {archive})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--reviews", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=128, help="window without a model")
    args = parser.parse_args()

    classifier = load(args.model_dir, max_length=args.max_length)
    texts, source = reviews(args.reviews)
    encoded = classifier.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    lengths = [len(ids) for ids in encoded]
    windows = sum(
        len(token_windows(ids, size=classifier.window, step=classifier.step)) for ids in encoded
    )
    print(f"model     {classifier.version} (window {classifier.window} tokens + specials)")
    print(f"reviews   {source}: median {statistics.median(lengths):.0f} tokens, {windows} windows")
    print(f"device    cpu, {torch.get_num_threads()} torch threads")
    classifier.predict(texts[:8])  # first calls pay for lazy initialisation

    print(f"\n{'batch size':>10} {'reviews/s':>10} {'windows/s':>10} {'ms/review':>10}")
    for batch_size in BATCH_SIZES:
        classifier.batch_size = batch_size
        started = time.perf_counter()
        for start in range(0, len(texts), batch_size):
            classifier.predict(texts[start : start + batch_size])
        seconds = time.perf_counter() - started
        print(
            f"{batch_size:>10} {len(texts) / seconds:>10.1f} {windows / seconds:>10.1f} "
            f"{1000 * seconds / len(texts):>10.1f}"
        )


if __name__ == "__main__":
    main()
