"""The low-rank softmax (fastText's model in numpy) learns, is deterministic, honours weights and lifts nothing
where the text tells nothing; nb_svm_lowrank is exactly NBSVM plus the weighted lift, trains and classifies through
the product's path (model file, classifier, ``learn``), and a retrain keeps it and is hot-reloaded."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from autotriage.local.dataset import holdout_split
from autotriage.local.estimator import WORD_TOKENS, NaiveBayesLowRank, NaiveBayesSVM, TextModel
from autotriage.local.lowrank import LowRankSoftmax, embedding_gradient
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model
from tests.unit.test_local_model import assert_classifies_after_a_reload, synthetic

TOPICS = {
    0: ["vpn tunnel drops", "vpn client cannot connect", "remote vpn disconnects every hour"],
    1: ["printer paper jam", "printer tray empty", "printer prints blank pages"],
    2: ["new laptop request", "order a monitor", "purchase a docking station"],
}


def _corpus(copies: int, seed: int = 1) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for i in range(copies):
            texts.append(f"{rng.choice(phrases)} please help {rng.choice(['today', 'asap', 'thanks'])} {i % 7}")
            labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def test_lowrank_softmax_learns_is_deterministic_and_honours_weights() -> None:
    texts, y = _corpus(30)
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=WORD_TOKENS)
    x = vectorizer.fit_transform(texts)
    model = LowRankSoftmax(dim=16, epochs=20, learning_rate=0.5).fit(x, y)
    probe = vectorizer.transform(["my vpn drops", "paper jam in the printer", "please order a laptop"])
    assert list(model.log_proba(probe).argmax(1)) == [0, 1, 2]
    assert np.allclose(np.exp(model.log_proba(probe)).sum(1), 1.0, atol=1e-4)
    again = LowRankSoftmax(dim=16, epochs=20, learning_rate=0.5).fit(x, y)
    np.testing.assert_array_equal(model.embedding, again.embedding)
    odd = vectorizer.transform(["printer paper jam please help today 3"])  # relabelled to "vpn" below
    relabelled = np.append(y, 0)
    with_odd = vectorizer.transform([*texts, "printer paper jam please help today 3"])
    plain = LowRankSoftmax(dim=16, epochs=20, learning_rate=0.5).fit(with_odd, relabelled)
    heavy = LowRankSoftmax(dim=16, epochs=20, learning_rate=0.5).fit(
        with_odd, relabelled, sample_weight=np.append(np.ones(len(y)), 40.0))
    assert int(plain.log_proba(odd).argmax()) == 1
    assert int(heavy.log_proba(odd).argmax()) == 0


def test_embedding_gradient_sums_every_row_and_ngram_pair() -> None:
    """The per-n-gram gradient equals accumulating each (row, n-gram) pair on its own, n-grams shared by several
    rows and repeated indices included; untouched n-grams are not returned."""
    rng = np.random.default_rng(3)
    dense = (rng.random((5, 40)) * (rng.random((5, 40)) < 0.2)).astype(np.float32)
    dense[:, 7] = 0.5  # an n-gram every row has
    canonical = sparse.csr_matrix(dense)
    # and one row that names an n-gram twice (a matrix whose duplicates were not summed)
    indices = np.concatenate([canonical.indices[: canonical.indptr[1]], [7], canonical.indices[canonical.indptr[1]:]])
    data = np.concatenate([canonical.data[: canonical.indptr[1]], [0.25], canonical.data[canonical.indptr[1]:]])
    indptr = canonical.indptr + np.array([0] + [1] * 5)
    rows = sparse.csr_matrix((data.astype(np.float32), indices, indptr), shape=(5, 40))
    back = rng.standard_normal((5, 4)).astype(np.float32)
    expected = np.zeros((40, 4), dtype=np.float32)
    owner = np.repeat(np.arange(5), np.diff(rows.indptr))
    np.add.at(expected, rows.indices, rows.data[:, None] * back[owner])
    touched, gradient = embedding_gradient(rows, back)
    assert sorted(touched.tolist()) == sorted(set(rows.indices.tolist()))
    np.testing.assert_allclose(gradient, expected[touched], rtol=1e-5, atol=1e-6)
    assert not np.any(np.delete(expected, touched, axis=0))


def test_lift_is_zero_where_the_text_tells_nothing_about_the_class() -> None:
    texts = ["same words every time"] * 70 + ["same words every time"] * 30
    y = np.array([0] * 70 + [1] * 30, dtype=np.int64)
    x = CountVectorizer(token_pattern=WORD_TOKENS).fit_transform(texts)
    model = LowRankSoftmax(dim=8, epochs=30).fit(x, y)
    np.testing.assert_allclose(model.log_prior, np.log([0.7, 0.3]))
    assert np.abs(model.lift(x[:1])).max() < 0.05
    informative, labels = _corpus(30)
    vectorizer = CountVectorizer(token_pattern=WORD_TOKENS)
    learned = LowRankSoftmax(dim=8, epochs=30).fit(vectorizer.fit_transform(informative), labels)
    assert learned.lift(vectorizer.transform(["vpn drops"]))[0, 0] > 0.5


def test_blend_is_nb_svm_plus_weighted_lift() -> None:
    rows = synthetic(per_category=12)
    texts = [feature_text(e.summary, e.description) for e in rows]
    paths = sorted({e.path for e in rows if e.path})
    model = TextModel.fit(texts, [paths.index(e.path) for e in rows if e.path], len(paths),
                          algorithm="nb_svm_lowrank")
    blend = model.linear
    assert isinstance(blend, NaiveBayesLowRank) and isinstance(blend.nb_svm, NaiveBayesSVM)
    x = model.transform(texts[:20])
    text, counts = x[:, : blend.text_width], x[:, blend.text_width :]
    expected = blend.nb_svm.decision_function(text) + blend.LOWRANK_WEIGHT * blend.lowrank.lift(counts)
    np.testing.assert_allclose(blend.decision_function(x), expected)
    assert counts.shape[1] == len(model.vectorizer.transformer_list[2][1].vocabulary_)


def test_nb_svm_lowrank_trains_saves_and_classifies_noisy_data(tmp_path: Path) -> None:
    rows = synthetic(per_category=30, label_noise=0.15)
    train, test = holdout_split(rows, 0.25, seed="lowrank")
    model = train_model(train, tenant="t", config=TrainingConfig(keep_neighbours=True, algorithm="nb_svm_lowrank"))
    assert model.meta.holdout_accuracy is not None and model.meta.holdout_accuracy > 0.6
    scores = model.estimator.scores(model.estimator.transform([feature_text(e.summary, e.description)
                                                               for e in test]))
    accuracy = np.mean([model.meta.labels[int(i)] == e.path for i, e in zip(scores.argmax(1), test, strict=True)])
    assert accuracy > 0.6
    classifier = assert_classifies_after_a_reload(model, tmp_path / "lowrank.joblib", test[0])
    assert classifier.meta.algorithm == "nb_svm_lowrank"
