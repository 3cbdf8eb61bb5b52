"""A low-rank softmax text classifier (the model fastText trains), written with numpy only.

Each ticket is the average of learned ``dim``-wide embeddings of its words and word bigrams (an L1-normalised
count row times the embedding matrix); a softmax layer over those averages gives class probabilities. Trained by
plain mini-batch SGD on the cross-entropy with a linearly decaying learning rate, from a fixed seed, so a fit is
deterministic. Its errors differ from a linear SVM's on the same words (the embedding shares strength between
words seen in the same classes), which is what makes it worth blending with one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.preprocessing import normalize

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Float32Array = NDArray[np.float32]


def embedding_gradient(rows: sparse.csr_matrix, back: Float32Array) -> tuple[IntArray, Float32Array]:
    """The n-grams a mini-batch touches (each once) and their embeddings' gradient: per n-gram, the sum over the
    batch's rows of the row's weight for it times the row's back-propagated error. One small sparse product (a
    per-(row, n-gram) ``np.add.at`` cost 2.5x as much for the whole fit)."""
    touched, column = np.unique(rows.indices, return_inverse=True)
    local = sparse.csr_matrix((rows.data, column, rows.indptr), shape=(rows.shape[0], len(touched)))
    gradient: Float32Array = np.asarray(local.T @ back)
    return touched.astype(np.int64), gradient


class LowRankSoftmax:
    """Averaged n-gram embeddings -> softmax; ``fit`` on word count rows, ``log_proba`` per class."""

    def __init__(self, dim: int = 100, epochs: int = 5, learning_rate: float = 0.25, batch: int = 16,
                 seed: int = 0) -> None:
        self.dim = dim
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch = batch
        self.seed = seed
        self.classes_: IntArray = np.zeros(0, dtype=np.int64)
        self.embedding: Float32Array = np.zeros((0, dim), dtype=np.float32)
        self.output: Float32Array = np.zeros((0, dim), dtype=np.float32)
        self.bias: Float32Array = np.zeros(0, dtype=np.float32)
        self.log_prior: FloatArray = np.zeros(0)

    @staticmethod
    def _rows(x: sparse.spmatrix) -> sparse.csr_matrix:
        """Count rows scaled to sum 1 (the average of the row's embeddings)."""
        return sparse.csr_matrix(normalize(sparse.csr_matrix(x, dtype=np.float32), norm="l1"))

    def fit(self, x: sparse.spmatrix, y: IntArray, sample_weight: FloatArray | None = None) -> LowRankSoftmax:
        """SGD over shuffled mini-batches; ``sample_weight`` scales each ticket's gradient."""
        rows = self._rows(x)
        rng = np.random.default_rng(self.seed)
        self.classes_ = np.unique(y)
        target = np.searchsorted(self.classes_, y)
        onehot = np.eye(len(self.classes_), dtype=np.float32)[target]
        weights = np.ones(rows.shape[0], dtype=np.float32) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float32)
        self.embedding = rng.uniform(-1 / self.dim, 1 / self.dim, (rows.shape[1], self.dim)).astype(np.float32)
        self.output = np.zeros((len(self.classes_), self.dim), dtype=np.float32)
        self.bias = np.zeros(len(self.classes_), dtype=np.float32)
        self.log_prior = np.log(np.bincount(target, weights=weights, minlength=len(self.classes_)) / weights.sum())
        n = rows.shape[0]
        steps = max(1, self.epochs * -(-n // self.batch))
        step = 0
        for _ in range(self.epochs):
            order = rng.permutation(n)
            for start in range(0, n, self.batch):
                rate = np.float32(self.learning_rate * (1 - step / steps))
                step += 1
                chosen = order[start : start + self.batch]
                xb = rows[chosen]
                hidden = np.asarray(xb @ self.embedding)
                error = (self._softmax(hidden @ self.output.T + self.bias) - onehot[chosen]) * weights[chosen, None]
                back = error @ self.output
                self.output -= rate * (error.T @ hidden)
                self.bias -= rate * error.sum(axis=0)
                touched, gradient = embedding_gradient(xb, back)
                self.embedding[touched] -= rate * gradient
        return self

    @staticmethod
    def _softmax(z: Float32Array) -> Float32Array:
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        result: Float32Array = e / e.sum(axis=1, keepdims=True)
        return result

    def log_proba(self, x: sparse.spmatrix) -> FloatArray:
        """Per row and class of ``classes_``: the log-probability (floored at 1e-6)."""
        hidden = np.asarray(self._rows(x) @ self.embedding)
        probability = self._softmax(hidden @ self.output.T + self.bias).astype(np.float64)
        result: FloatArray = np.log(probability + 1e-6)
        return result

    def lift(self, x: sparse.spmatrix) -> FloatArray:
        """Per row and class: log P(class | text) - log P(class), what the text adds to the class frequency (zero
        for a model that learned nothing but the frequencies, so a weak fit cannot push tickets to big classes)."""
        result: FloatArray = self.log_proba(x) - self.log_prior
        return result
