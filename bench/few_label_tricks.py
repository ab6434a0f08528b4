"""Ways to close the few-label gap, measured against the default fine-tune on one training sample.

    python bench/few_label_tricks.py ensemble-self-training [-n 500] [--seed 0] [--unlabeled 3000]
    python bench/few_label_tricks.py setfit [-n 20] [--seed 0]
    python bench/few_label_tricks.py zero-shot

Every figure is accuracy on the learning curve's fixed sample of 2,000 aclImdb *test* reviews,
with training on `textflix experiment`'s sample of n *train* reviews for the seed. Unlabeled
reviews are other aclImdb *train* texts with their labels dropped; the test split is only
scored. Models and predictions are kept in --work (default .cache/few-label-tricks/) so that
a run resumes. Prints figures only; what they showed is in bench/few_label_tricks.md.

ensemble-self-training:
  1. the default fine-tune (`textflix train`'s TrainingArguments, without its calibration) on
     the n labels: the teacher;
  2. NB-SVM on the same n labels, and the two averaged in log-odds (NB-SVM weight 0.3, 0.5);
  3. self-training: the teacher labels --unlabeled train texts, the most confident 80% join
     the n labels, and a student is fine-tuned from the base on them (2 epochs).
setfit:
  frozen sentence embeddings (mean pooling, first 256 tokens) with logistic regression, then
  SetFit-style contrastive fine-tuning (20 same/different-label pairs per example, cosine
  loss, lr 2e-5, 128 tokens) with a new logistic regression on top.
zero-shot:
  the untrained classifier with its head set by the label anchors (app/sentiment/anchors.py),
  scored as the site scores reviews; no labels at all. Fine-tuning from there is the trainer's
  default; `textflix experiment --models finetune,finetune-random-head` measures what it adds.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from sklearn.linear_model import LogisticRegression
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from app.config import PROJECT_ROOT, Settings
from app.lifecycle.datasets import aclimdb_pools
from app.sentiment import torch_thread, training
from app.sentiment.anchors import anchor_head
from app.sentiment.arguments import TrainingArguments
from app.sentiment.baselines import NBSVM
from app.sentiment.data import Example
from app.sentiment.engine import ScoringEngine
from app.sentiment.modeling import mean_pool, new_classifier
from app.sentiment.registry import read_card

EVAL_SIZE = 2000
VALIDATION_SIZE = 200
"""Other train reviews the trainer scores itself on (never the test split)."""
Floats = npt.NDArray[np.float64]


def accuracy(p_positive: Sequence[float] | Floats, labels: Floats) -> float:
    return float(((np.asarray(p_positive) >= 0.5) == labels).mean())


def log_odds(p: Floats) -> Floats:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def blend(p_a: Floats, p_b: Floats, weight_b: float) -> Floats:
    return 1 / (1 + np.exp(-((1 - weight_b) * log_odds(p_a) + weight_b * log_odds(p_b))))


class Workbench:
    """One training sample, the evaluation sample, and a cache of models and predictions."""

    def __init__(self, *, n: int, seed: int, work: Path) -> None:
        self.settings = Settings()
        self.seed = seed
        self.data = aclimdb_pools(settings=self.settings, progress=False)
        self.train = self.data.train_sample(n=n, seed=seed)
        # The end of the same shuffle as the training sample: never trained on.
        self.validation = self.data.calibration_sample(
            n=VALIDATION_SIZE, seed=seed, disjoint_from=n
        )
        self.evaluation = self.data.eval_sample(EVAL_SIZE)
        self.labels = np.array([label for _, label in self.evaluation], dtype=np.float64)
        self.base = self.settings.resolved_base_model()
        self.work = work / f"n{n}-s{seed}"
        self.work.mkdir(parents=True, exist_ok=True)

    def unlabeled(self, k: int) -> list[str]:
        """k train texts outside this run's labeled and validation reviews, labels dropped."""
        taken = {text for text, _ in self.train} | {text for text, _ in self.validation}
        pool = [text for text in self.data.train_texts() if text not in taken]
        random.Random(f"unl-{self.seed}").shuffle(pool)  # noqa: S311 (sampling)
        return pool[:k]

    def finetune(
        self, name: str, examples: Sequence[Example], epochs: int | None
    ) -> tuple[Path, float]:
        """`textflix train`'s fine-tune on `examples` (epochs None: the trainer's default for
        their number), uncalibrated as when the figures were measured; cached by `name`."""
        out = self.work / name
        if not out.exists():
            training.train(
                base_model=self.base,
                out_dir=out,
                train_examples=examples,
                eval_examples=self.validation,
                args=TrainingArguments(seed=self.seed, epochs=epochs, device=self.settings.device),
                progress=False,
            )
        return out, read_card(out).train_seconds

    def predictions(self, model_dir: Path, texts: Sequence[str], cache: str) -> Floats:
        path = self.work / f"{cache}.npy"
        if not path.exists():
            engine = ScoringEngine.from_pretrained(model_dir, device="cpu", backend="fp32")
            np.save(path, np.array([p.p_positive for p in engine.predict(texts)]))
        return np.asarray(np.load(path), dtype=np.float64)


def ensemble_and_self_training(bench: Workbench, *, unlabeled: int) -> None:
    texts = [text for text, _ in bench.evaluation]
    teacher, seconds = bench.finetune("teacher", bench.train, None)
    p_teacher = bench.predictions(teacher, texts, "teacher-eval")
    teacher_accuracy = accuracy(p_teacher, bench.labels)
    print(f"fine-tuned (default recipe): {teacher_accuracy:.4f}, trained {seconds:.0f} s")
    nbsvm = NBSVM()
    nbsvm.fit([t for t, _ in bench.train], [y for _, y in bench.train], seed=bench.seed)
    p_nbsvm = np.array(nbsvm.predict_proba(texts))
    print(f"NB-SVM: {accuracy(p_nbsvm, bench.labels):.4f}")
    for weight in (0.3, 0.5):
        blended = blend(p_teacher, p_nbsvm, weight)
        print(f"fine-tuned + NB-SVM, NB-SVM weight {weight}: {accuracy(blended, bench.labels):.4f}")

    pool = bench.unlabeled(unlabeled)
    started = time.perf_counter()
    p_pool = bench.predictions(teacher, pool, f"teacher-unlabeled-{unlabeled}")
    seconds = time.perf_counter() - started
    print(f"teacher labelled {unlabeled} unlabeled reviews in {seconds:.0f} s")
    confident = np.argsort(-np.abs(p_pool - 0.5))[: int(0.8 * unlabeled)]
    pseudo = [(pool[i], int(p_pool[i] >= 0.5)) for i in confident]
    student, seconds = bench.finetune(f"student-{unlabeled}", [*bench.train, *pseudo], 2)
    p_student = bench.predictions(student, texts, f"student-{unlabeled}-eval")
    print(
        f"self-trained student (+{len(pseudo)} pseudo-labels): "
        f"{accuracy(p_student, bench.labels):.4f}, trained {seconds:.0f} s; "
        f"with NB-SVM at 0.3: {accuracy(blend(p_student, p_nbsvm, 0.3), bench.labels):.4f}"
    )


def embed(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]
) -> Floats:
    model.eval()  # type: ignore[no-untyped-call]
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), 32):
            batch = tokenizer(
                list(texts[start : start + 32]),
                truncation=True,
                max_length=256,
                padding=True,
                return_tensors="pt",
            )
            chunks.append(torch.nn.functional.normalize(_pool(model, batch), dim=-1).numpy())
    return np.concatenate(chunks).astype(np.float64)


def _pool(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])


def setfit(bench: Workbench, *, iterations: int = 20) -> None:
    torch.manual_seed(bench.seed)
    tokenizer = AutoTokenizer.from_pretrained(bench.base)
    model = AutoModel.from_pretrained(bench.base)
    texts = [text for text, _ in bench.train]
    labels = [label for _, label in bench.train]
    eval_texts = [text for text, _ in bench.evaluation]

    def fit_and_score() -> float:
        head = LogisticRegression(C=1.0, max_iter=2000).fit(embed(model, tokenizer, texts), labels)
        return accuracy(head.predict(embed(model, tokenizer, eval_texts)), bench.labels)

    print(f"frozen sentence embeddings + LR: {fit_and_score():.4f}")
    rng = random.Random(bench.seed)  # noqa: S311 (sampling)
    pairs: list[tuple[int, int, float]] = []
    for _ in range(iterations):
        for i, label in enumerate(labels):
            same = [j for j, other in enumerate(labels) if other == label and j != i]
            different = [j for j, other in enumerate(labels) if other != label]
            pairs += [(i, rng.choice(same), 1.0), (i, rng.choice(different), 0.0)]
    rng.shuffle(pairs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    started = time.perf_counter()
    for start in range(0, len(pairs), 16):
        batch = pairs[start : start + 16]
        left, right = (
            tokenizer(
                [texts[index] for index in side],
                truncation=True,
                max_length=128,
                padding=True,
                return_tensors="pt",
            )
            for side in ([i for i, _, _ in batch], [j for _, j, _ in batch])
        )
        similarity = torch.nn.functional.cosine_similarity(_pool(model, left), _pool(model, right))
        loss = torch.nn.functional.mse_loss(similarity, torch.tensor([t for *_, t in batch]))
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        optimizer.zero_grad()
    seconds = time.perf_counter() - started
    print(f"SetFit ({len(pairs)} pairs, {seconds:.0f} s) + LR: {fit_and_score():.4f}")


def zero_shot(bench: Workbench) -> None:
    # Built and anchored as the trainer does it, in the PyTorch thread that the engine scores in.
    model, tokenizer = torch_thread.run(
        new_classifier, base_model=bench.base, max_length=TrainingArguments().max_length
    )
    texts = [text for text, _ in bench.train]
    torch_thread.run(anchor_head, model, tokenizer, texts=texts, seed=bench.seed)
    engine = ScoringEngine(model, tokenizer, version="anchors-only", device="cpu", backend="fp32")
    p_positive = [p.p_positive for p in engine.predict([t for t, _ in bench.evaluation])]
    print(f"label anchors, no fine-tuning: {accuracy(p_positive, bench.labels):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trick", choices=["ensemble-self-training", "setfit", "zero-shot"])
    parser.add_argument("-n", type=int, default=None, help="labels (500, or 20 for setfit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unlabeled", type=int, default=3000)
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / ".cache" / "few-label-tricks")
    args = parser.parse_args()
    n = args.n or {"setfit": 20, "zero-shot": 100}.get(args.trick, 500)
    bench = Workbench(n=n, seed=args.seed, work=args.work)
    used = f"no labels ({n} unlabeled train texts)" if args.trick == "zero-shot" else f"{n} labels"
    print(f"{args.trick}: {used}, seed {args.seed}, {EVAL_SIZE} test reviews")
    if args.trick == "setfit":
        setfit(bench)
    elif args.trick == "zero-shot":
        zero_shot(bench)
    else:
        ensemble_and_self_training(bench, unlabeled=args.unlabeled)


if __name__ == "__main__":
    main()
