"""The local model's estimator: TF-IDF word (1-2) and char_wb (2-5) n-grams, a linear classifier over category
paths, a top-1 confidence calibrator, and the training vectors for nearest-neighbour few-shot examples.

Why a top-1 calibrator rather than ``CalibratedClassifierCV``: MSP histories have many categories with one or
two tickets, and ``CalibratedClassifierCV`` refuses a class with fewer examples than folds. What the cascade
needs is the probability that the *chosen* category is right, so a Platt scaling on the top score and its
margin over the runner-up, fitted on held-out predictions, is both possible and what is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from autotriage.local.lowrank import LowRankSoftmax

Algorithm = Literal["linear_svc", "logreg", "stacked", "nb_svm", "nb_svm_lowrank"]
ALGORITHMS: tuple[Algorithm, ...] = ("linear_svc", "logreg", "stacked", "nb_svm", "nb_svm_lowrank")
MISSING_SCORE = -1e6
#: Every run of word characters, single letters and digits included (what the embedding model averages over).
WORD_TOKENS = r"(?u)\b\w+\b"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def make_vectorizer(algorithm: Algorithm = "linear_svc") -> FeatureUnion:
    """Word uni/bigrams plus character 2-5-grams inside word boundaries (robust to typos and inflection); for
    ``nb_svm_lowrank`` also the raw word uni/bigram counts its embedding model averages over."""
    blocks: list[tuple[str, Any]] = [
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode", min_df=1)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                 strip_accents="unicode", min_df=2)),
    ]
    if algorithm == "nb_svm_lowrank":
        blocks.append(("count", CountVectorizer(ngram_range=(1, 2), token_pattern=WORD_TOKENS,
                                                dtype=np.float32)))
    return FeatureUnion(blocks)


def make_linear(algorithm: Algorithm, c: float, split: int = 0, text_width: int = 0) -> Any:
    """A one-vs-rest linear classifier, or an ensemble (``split``: where the word block ends; ``text_width``:
    where the TF-IDF blocks end and the count block begins)."""
    if algorithm == "linear_svc":
        return LinearSVC(C=c)
    if algorithm == "stacked":
        return StackedLinear(c, split)
    if algorithm == "nb_svm":
        return NaiveBayesSVM(c)
    if algorithm == "nb_svm_lowrank":
        return NaiveBayesLowRank(c, text_width)
    return OneVsRestClassifier(LogisticRegression(C=c, solver="liblinear"))


def _full_scores(model: Any, x: sparse.csr_matrix, classes: IntArray) -> FloatArray:
    """Decision scores over ``classes`` (a class the model never saw scores below every other)."""
    raw = np.asarray(model.decision_function(x), dtype=np.float64)
    if raw.ndim == 1:
        raw = np.column_stack([-raw, raw])
    out = np.full((x.shape[0], len(classes)), raw.min() - 1.0 if raw.size else 0.0)
    out[:, np.searchsorted(classes, model.classes_)] = raw
    return out


class StackedLinear:
    """Three linear SVMs (word + char n-grams, word only, char only) and a multinomial logistic regression over
    their out-of-fold scores: each block's errors differ, and the meta-model learns whom to trust per class.
    Measured on the public IT ticket set: see tools/yardstick_it_tickets.py."""

    FOLDS = 3
    #: Base models fitted at once (liblinear releases the GIL, so threads use both cores of a small node).
    THREADS = 2

    def __init__(self, c: float, split: int, meta_c: float = 1.0) -> None:
        self.c = c
        self.split = split
        self.meta_c = meta_c
        self.bases: list[LinearSVC] = []
        self.meta: LogisticRegression | None = None
        self.classes_: IntArray = np.zeros(0, dtype=np.int64)

    def _blocks(self, x: sparse.csr_matrix) -> list[sparse.csr_matrix]:
        """Union, word and char blocks of unit-length rows (the same scale in training and prediction)."""
        x = normalize(x)
        if not 0 < self.split < x.shape[1]:
            return [x]
        return [x, x[:, : self.split], x[:, self.split :]]

    def fit(self, x: sparse.csr_matrix, y: IntArray, sample_weight: FloatArray | None = None) -> StackedLinear:
        """Out-of-fold base scores -> meta-model; then the bases refit on everything."""
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only the stacked algorithm needs it

        from sklearn.model_selection import KFold  # noqa: PLC0415 - only the stacked algorithm needs it

        self.classes_ = np.unique(y)
        blocks = self._blocks(x)
        width = len(self.classes_)
        oof = np.zeros((x.shape[0], len(blocks) * width))
        folds = [(train, held) for train, held in
                 KFold(min(self.FOLDS, x.shape[0]), shuffle=True, random_state=0).split(np.zeros(x.shape[0]))
                 if len(np.unique(y[train])) >= 2]

        def fit_base(block: sparse.csr_matrix, rows: IntArray | None) -> LinearSVC:
            if rows is None:
                return LinearSVC(C=self.c).fit(block, y, sample_weight=sample_weight)
            weights = None if sample_weight is None else sample_weight[rows]
            return LinearSVC(C=self.c).fit(block[rows], y[rows], sample_weight=weights)

        with ThreadPoolExecutor(self.THREADS) as pool:
            jobs = [(n, held, pool.submit(fit_base, block, train))
                    for train, held in folds for n, block in enumerate(blocks)]
            full = [pool.submit(fit_base, block, None) for block in blocks]
            for n, held, job in jobs:
                oof[held, n * width : (n + 1) * width] = _full_scores(job.result(), blocks[n][held], self.classes_)
            self.meta = LogisticRegression(C=self.meta_c, max_iter=1000).fit(oof, y, sample_weight=sample_weight)
            self.bases = [job.result() for job in full]
        return self

    def decision_function(self, x: sparse.csr_matrix) -> FloatArray:
        """The meta-model's log-odds over ``classes_``."""
        if self.meta is None:
            raise RuntimeError("the stacked model is used before it was fitted")
        features = np.hstack([_full_scores(b, block, self.classes_)
                              for b, block in zip(self.bases, self._blocks(x), strict=True)])
        raw = np.asarray(self.meta.decision_function(features), dtype=np.float64)
        return raw if raw.ndim == 2 else np.column_stack([-raw, raw])


class NaiveBayesSVM:
    """NBSVM (Wang & Manning, 2012): one linear SVM per class over features scaled by their naive-Bayes log-count
    ratio for that class, so words typical of the class weigh more before the SVM sees them. One binary fit per
    class (two at a time: liblinear releases the GIL). The effective weights are folded into two matrices, so
    scoring is two sparse-dense products: ``(x . w*r) / ||x*r|| + b``."""

    #: Additive smoothing of the per-class feature sums (on unit-length TF-IDF rows).
    ALPHA = 1.0
    THREADS = 2

    def __init__(self, c: float, alpha: float = ALPHA) -> None:
        self.c = c
        self.alpha = alpha
        self.classes_: IntArray = np.zeros(0, dtype=np.int64)
        self.weights: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self.ratios_squared: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self.intercepts: FloatArray = np.zeros(0)

    def _ratio(self, x: sparse.csr_matrix, positive: NDArray[np.bool_], weights: FloatArray) -> FloatArray:
        p = self.alpha + np.asarray(x.T @ (weights * positive)).ravel()
        q = self.alpha + np.asarray(x.T @ (weights * ~positive)).ravel()
        ratio: FloatArray = np.log((p / p.sum()) / (q / q.sum()))
        return ratio

    def fit(self, x: sparse.csr_matrix, y: IntArray, sample_weight: FloatArray | None = None) -> NaiveBayesSVM:
        """One NB-scaled binary SVM per class of ``y``."""
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only this algorithm needs it

        x = sparse.csr_matrix(normalize(x))
        self.classes_ = np.unique(y)
        weights = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

        def fit_class(label: int) -> tuple[FloatArray, FloatArray, float]:
            positive = y == label
            ratio = self._ratio(x, positive, weights)
            svm = LinearSVC(C=self.c).fit(normalize(x @ sparse.diags(ratio)), positive.astype(np.int64),
                                          sample_weight=sample_weight)
            return ratio, svm.coef_.ravel() * ratio, float(svm.intercept_[0])

        with ThreadPoolExecutor(self.THREADS) as pool:
            fitted = list(pool.map(fit_class, self.classes_.tolist()))
        self.ratios_squared = np.vstack([r * r for r, _, _ in fitted]).astype(np.float32)
        self.weights = np.vstack([w for _, w, _ in fitted]).astype(np.float32)
        self.intercepts = np.array([b for _, _, b in fitted])
        return self

    def _by_feature(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Weights and squared ratios as contiguous (feature x class) arrays, built once per process: a sparse row
        times a transposed (non-contiguous) matrix copies the whole matrix first, about 11 ms per ticket on 455k
        features. Not pickled (``__getstate__``), so model files stay as they were."""
        cached: tuple[NDArray[np.float32], NDArray[np.float32]] | None = self.__dict__.get("_columns")
        if cached is None:
            cached = (np.ascontiguousarray(self.weights.T), np.ascontiguousarray(self.ratios_squared.T))
            self.__dict__["_columns"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_columns"}

    def decision_function(self, x: sparse.csr_matrix) -> FloatArray:
        """Per class: the SVM margin of the NB-scaled, unit-length row."""
        x = sparse.csr_matrix(normalize(x), dtype=np.float32)
        weights, ratios_squared = self._by_feature()
        dots = np.asarray(x @ weights, dtype=np.float64)
        norms = np.sqrt(np.asarray(x.multiply(x) @ ratios_squared, dtype=np.float64))
        scores: FloatArray = dots / np.maximum(norms, 1e-12) + self.intercepts
        return scores


class NaiveBayesLowRank:
    """NBSVM on the TF-IDF blocks plus ``LOWRANK_WEIGHT`` times the lift (log-probability over the class
    frequency) of a low-rank softmax (averaged word-n-gram embeddings, what fastText trains) on the count block:
    the two err on different tickets. The weight was chosen on out-of-fold scores of the public IT ticket set
    (tools/yardstick_it_tickets.py). The two are fitted at once (liblinear releases the GIL)."""

    LOWRANK_WEIGHT = 0.2

    def __init__(self, c: float, text_width: int) -> None:
        self.text_width = text_width
        self.nb_svm = NaiveBayesSVM(c)
        self.lowrank = LowRankSoftmax()
        self.classes_: IntArray = np.zeros(0, dtype=np.int64)

    def _split(self, x: sparse.spmatrix) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        x = sparse.csr_matrix(x)
        return x[:, : self.text_width], x[:, self.text_width :]

    def fit(self, x: sparse.csr_matrix, y: IntArray, sample_weight: FloatArray | None = None) -> NaiveBayesLowRank:
        """Both members on the same tickets."""
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only this algorithm needs it

        text, counts = self._split(x)
        with ThreadPoolExecutor(1) as pool:
            lowrank = pool.submit(self.lowrank.fit, counts, y, sample_weight)
            self.nb_svm.fit(text, y, sample_weight)
            lowrank.result()
        self.classes_ = self.nb_svm.classes_
        return self

    def decision_function(self, x: sparse.csr_matrix) -> FloatArray:
        """NBSVM margins + weight x lift, per class of ``classes_``."""
        text, counts = self._split(x)
        scores: FloatArray = self.nb_svm.decision_function(text) + self.LOWRANK_WEIGHT * self.lowrank.lift(counts)
        return scores


def top_two(scores: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per row: index of the best score, the best score, and its margin over the second best."""
    best = np.argmax(scores, axis=1)
    top = scores[np.arange(len(scores)), best]
    if scores.shape[1] < 2:
        return best, top, np.full(len(scores), 10.0)
    second = np.partition(scores, -2, axis=1)[:, -2]
    margin = np.where(second <= MISSING_SCORE / 2, 10.0, top - second)
    return best, top, margin


@dataclass(frozen=True)
class TopCalibrator:
    """P(the top-1 category is right) = sigmoid(a * top + b * margin + c)."""

    a: float = 1.0
    b: float = 3.0
    c: float = -1.0

    @classmethod
    def fit(cls, top: FloatArray, margin: FloatArray, correct: NDArray[np.bool_]) -> TopCalibrator:
        """Platt scaling on two features, with two weak anchor points so that a held-out set that is all
        right (or all wrong) still gives a usable, conservative fit."""
        if len(top) == 0:
            return cls()
        features = np.column_stack([top, np.minimum(margin, 10.0)])
        anchors = np.array([[features[:, 0].min() - 1, 0.0], [features[:, 0].max() + 1, features[:, 1].max() + 1]])
        x = np.vstack([features, anchors])
        y = np.concatenate([correct.astype(int), [0, 1]])
        weights = np.concatenate([np.ones(len(features)), [0.5, 0.5]])
        model = LogisticRegression(C=1.0).fit(x, y, sample_weight=weights)
        return cls(float(model.coef_[0][0]), float(model.coef_[0][1]), float(model.intercept_[0]))

    def __call__(self, top: FloatArray, margin: FloatArray) -> FloatArray:
        z = self.a * top + self.b * np.minimum(margin, 10.0) + self.c
        result: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return result


@dataclass
class TextModel:
    """A fitted vectorizer + linear classifier over ``n_labels`` label indices, and what few-shot needs."""

    vectorizer: FeatureUnion
    linear: Any
    n_labels: int
    calibrator: TopCalibrator
    vectors: sparse.csr_matrix | None = None
    vector_labels: IntArray | None = None
    snippets: list[str] | None = None

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], n_labels: int, *, algorithm: Algorithm = "linear_svc",
            c: float = 0.5, snippets: Sequence[str] | None = None,
            weights: Sequence[float] | None = None) -> TextModel:
        """Fit vectorizer and classifier (the calibrator is set by the trainer); with ``snippets`` (one per text)
        also keep the training vectors for nearest-neighbour look-ups; ``weights``: per-text sample weights."""
        vectorizer = make_vectorizer(algorithm)
        x = vectorizer.fit_transform(list(texts))
        y = np.asarray(labels, dtype=np.int64)
        fit_args = {} if weights is None or all(w == 1.0 for w in weights) else \
            {"sample_weight": np.asarray(weights, dtype=np.float64)}
        widths = [len(block.vocabulary_) for _, block in vectorizer.transformer_list]
        linear = make_linear(algorithm, c, widths[0], widths[0] + widths[1]).fit(x, y, **fit_args)
        model = cls(vectorizer, linear, n_labels, TopCalibrator())
        if snippets is not None:
            model.vectors = normalize(x).astype(np.float32)
            model.vector_labels = y
            model.snippets = list(snippets)
        return model

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF vectors, each row scaled to unit length (so a dot product is the cosine)."""
        matrix: sparse.csr_matrix = normalize(self.vectorizer.transform(list(texts)))
        return matrix

    def scores(self, x: sparse.csr_matrix) -> FloatArray:
        """Decision scores over all label indices (labels the classifier never saw get ``MISSING_SCORE``)."""
        raw = np.asarray(self.linear.decision_function(x), dtype=np.float64)
        if raw.ndim == 1:
            raw = np.column_stack([-raw, raw])
        out = np.full((x.shape[0], self.n_labels), MISSING_SCORE)
        out[:, np.asarray(self.linear.classes_, dtype=np.int64)] = raw
        return out

    def neighbours(self, x: sparse.csr_matrix, k: int, allowed: NDArray[np.bool_]) -> list[tuple[int, float]]:
        """The ``k`` most similar stored tickets (row index, cosine) whose label is ``allowed``."""
        if self.vectors is None or self.vector_labels is None or k <= 0:
            return []
        similarity = np.asarray((self.vectors @ x.T.astype(np.float32)).todense()).ravel()
        similarity[~allowed[self.vector_labels]] = -1.0
        count = min(k, len(similarity))
        best = np.argpartition(-similarity, count - 1)[:count]
        ranked = sorted(best, key=lambda i: -similarity[i])
        return [(int(i), float(similarity[i])) for i in ranked if similarity[i] > 0]
