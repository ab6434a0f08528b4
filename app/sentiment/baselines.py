"""Cheap baselines for the learning curve: what the fine-tuned encoder has to beat.

NB-SVM transfers nothing; the word-vector baseline transfers only the base encoder's token
embedder (its tokenizer and input embedding matrix), none of its transformer layers. Both
learn from 10,000 reviews in seconds on a CPU.

An NB-SVM can also be saved as a model version (`textflix train --kind nbsvm`), so that the site
compares it with the fine-tuned model on the same stored reviews.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from app.sentiment.classifier import Prediction
from app.sentiment.text import clean

FloatArray = npt.NDArray[np.float32]


class Baseline(Protocol):
    """A classifier trained from scratch on labeled texts; scores are P(positive)."""

    def fit(self, texts: Sequence[str], labels: Sequence[int], *, seed: int) -> None:
        """Learn from `texts` and their labels (1 positive, 0 negative)."""
        ...

    def predict_proba(self, texts: Sequence[str]) -> list[float]:
        """P(positive) for each text, in order."""
        ...


class NBSVM:
    """Wang & Manning (2012): a linear model on binarized uni+bigrams scaled by NB log-count ratios.

    The linear model is a logistic regression rather than their SVM (the NBSVM-LR variant), so
    that its scores are probabilities; without their interpolation, which matters little on
    full-length reviews. Once fitted, the ratios are folded into the regression's weights (one
    weight per n-gram, the same predictions), which is also what `save` writes: a JSON file,
    nothing executable.
    """

    # Words with inner apostrophes ("didn't") stay whole; ! and ? are tokens of their own.
    WORD_PATTERN = r"[\w']+|[!?]"
    NGRAMS = (1, 2)
    FILE_NAME = "nbsvm.json"

    def __init__(self, *, alpha: float = 1.0, c: float = 1.0) -> None:
        self.alpha = alpha
        self.c = c
        self._vectorizer: CountVectorizer | None = None
        self._weights: npt.NDArray[np.float64] | None = None
        self._intercept = 0.0

    def fit(self, texts: Sequence[str], labels: Sequence[int], *, seed: int) -> None:
        """Learn the vocabulary, its log-count ratios and the linear model."""
        y = _labels_array(labels, len(texts))
        vectorizer = self._new_vectorizer()
        counts = vectorizer.fit_transform([clean(text) for text in texts])
        positive = self.alpha + np.asarray(counts[y == 1].sum(axis=0)).ravel()
        negative = self.alpha + np.asarray(counts[y == 0].sum(axis=0)).ravel()
        ratios = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
        model = LogisticRegression(C=self.c, solver="liblinear", max_iter=1000, random_state=seed)
        model.fit(counts.multiply(ratios).tocsr(), y)
        self._vectorizer = vectorizer
        self._weights = model.coef_[0] * ratios
        self._intercept = float(model.intercept_[0])

    def predict_proba(self, texts: Sequence[str]) -> list[float]:
        """P(positive) for each text, in order."""
        if self._vectorizer is None or self._weights is None:
            raise RuntimeError("NBSVM.predict_proba before fit")
        if not texts:
            return []
        counts = self._vectorizer.transform([clean(text) for text in texts])
        margins = counts @ self._weights + self._intercept
        return [float(p) for p in 1.0 / (1.0 + np.exp(-margins))]

    def save(self, folder: Path) -> None:
        """Write the fitted model to `folder`/nbsvm.json (n-grams, weights, tokenisation)."""
        if self._vectorizer is None or self._weights is None:
            raise RuntimeError("NBSVM.save before fit")
        terms = self._vectorizer.get_feature_names_out()
        data = {
            "format": "textflix-nbsvm-1",
            "token_pattern": self.WORD_PATTERN,
            "ngram_range": list(self.NGRAMS),
            "intercept": self._intercept,
            "weights": dict(zip(terms.tolist(), self._weights.tolist(), strict=True)),
        }
        (folder / self.FILE_NAME).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> NBSVM:
        """The model `save` wrote to `folder`."""
        path = folder / cls.FILE_NAME
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != "textflix-nbsvm-1":
            raise ValueError(f"{path} is not a Textflix NB-SVM model")
        model = cls()
        weights: dict[str, float] = data["weights"]
        model._vectorizer = model._new_vectorizer(vocabulary=list(weights))
        model._weights = np.asarray(list(weights.values()), dtype=np.float64)
        model._intercept = float(data["intercept"])
        return model

    def _new_vectorizer(self, vocabulary: list[str] | None = None) -> CountVectorizer:
        return CountVectorizer(
            ngram_range=self.NGRAMS,
            binary=True,
            lowercase=True,
            token_pattern=self.WORD_PATTERN,
            vocabulary=vocabulary,
        )


class BaselineClassifier:
    """A fitted baseline behind the site's Classifier interface, so it can score reviews too."""

    def __init__(self, baseline: Baseline, *, version: str) -> None:
        self.baseline = baseline
        self.version = version

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order; bag-of-n-grams, so any length."""
        return [Prediction(p_positive=p) for p in self.baseline.predict_proba(texts)]


class TokenEmbedder:
    """A pretrained encoder's tokenizer and input embedding matrix, without its layers."""

    def __init__(self, *, tokenizer: Any, embeddings: FloatArray) -> None:
        self.tokenizer = tokenizer
        self.embeddings = embeddings

    @classmethod
    def from_pretrained(cls, path: str) -> TokenEmbedder:
        """Load the tokenizer and token embedding matrix of the checkpoint at `path`."""
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        matrix = AutoModel.from_pretrained(path).get_input_embeddings().weight
        return cls(tokenizer=tokenizer, embeddings=matrix.detach().float().numpy())

    def embed(self, texts: Sequence[str], *, chunk_size: int = 1000) -> FloatArray:
        """Each text's mean wordpiece embedding over the whole text (no length limit)."""
        vectors = np.zeros((len(texts), self.embeddings.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), chunk_size):
            chunk = [clean(text) for text in texts[start : start + chunk_size]]
            # No attention, so nothing bounds the length: verbose=False silences the warning
            # about sequences longer than the encoder's 512 positions.
            encoded = self.tokenizer(
                chunk, add_special_tokens=False, truncation=False, verbose=False
            )
            for offset, ids in enumerate(encoded["input_ids"]):
                if ids:  # an empty text keeps the zero vector
                    vectors[start + offset] = self.embeddings[ids].mean(axis=0)
        return vectors


class WordVectorBaseline:
    """Logistic regression on a review's mean token embedding from the pretrained base."""

    def __init__(self, *, embedder: TokenEmbedder, c: float = 0.1) -> None:
        self.embedder = embedder
        self.c = c
        self._model: Pipeline | None = None

    def fit(self, texts: Sequence[str], labels: Sequence[int], *, seed: int) -> None:
        """Embed the texts and fit a standardized logistic regression on them."""
        y = _labels_array(labels, len(texts))
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.c, max_iter=2000, random_state=seed)
        )
        model.fit(self.embedder.embed(texts), y)
        self._model = model

    def predict_proba(self, texts: Sequence[str]) -> list[float]:
        """P(positive) for each text, in order."""
        if self._model is None:
            raise RuntimeError("WordVectorBaseline.predict_proba before fit")
        if not texts:
            return []
        return _positive_column(self._model.predict_proba(self.embedder.embed(texts)))


def _labels_array(labels: Sequence[int], n_texts: int) -> npt.NDArray[np.int64]:
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != n_texts:
        raise ValueError(f"{n_texts} texts but {len(y)} labels")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError("training needs both labels, 1 (positive) and 0 (negative)")
    return y


def _positive_column(probabilities: npt.NDArray[np.float64]) -> list[float]:
    return [float(p) for p in probabilities[:, 1]]
