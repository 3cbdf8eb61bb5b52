"""NBSVM: its folded scoring equals the SVM over NB-scaled rows it was fitted on, it trains and predicts through
the product's path (model file, classifier), copes with two classes, singletons and weights, and a retrain keeps it
and is hot-reloaded."""

from __future__ import annotations

import json
import pickle
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from autotriage.cli import main
from autotriage.feedback.retrain import retrain
from autotriage.local.dataset import LabelledTicket, holdout_split
from autotriage.local.estimator import Algorithm, NaiveBayesSVM, TextModel, make_vectorizer
from autotriage.local.provider import LocalClassifier
from autotriage.local.store import load_model, read_meta, save_model
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model
from tests.unit.test_local_model import assert_classifies_after_a_reload, synthetic, taxonomy


def _accuracy(model: TextModel, labels: list[tuple[str, ...]], rows: list[LabelledTicket]) -> float:
    scores = model.scores(model.transform([feature_text(e.summary, e.description) for e in rows]))
    return float(np.mean([labels[int(i)] == e.path for i, e in zip(scores.argmax(1), rows, strict=True)]))


def _fitted() -> tuple[NaiveBayesSVM, sparse.csr_matrix, np.ndarray, list[tuple[str, ...]]]:
    """An NBSVM fitted on the synthetic history: the model, its rows, labels and label paths."""
    rows = synthetic(per_category=12)
    texts = [feature_text(e.summary, e.description) for e in rows]
    paths = sorted({e.path for e in rows if e.path})
    y = np.array([paths.index(e.path) for e in rows if e.path], dtype=np.int64)
    x = make_vectorizer().fit_transform(texts)
    return NaiveBayesSVM(0.5).fit(x, y), x, y, paths


def test_folded_scores_equal_the_svm_over_nb_scaled_rows() -> None:
    model, x, y, paths = _fitted()
    unit = normalize(x)
    for label in (0, len(paths) - 1):
        positive = y == label
        p = 1.0 + np.asarray(unit[positive].sum(0)).ravel()
        q = 1.0 + np.asarray(unit[~positive].sum(0)).ravel()
        scale = sparse.diags(np.log((p / p.sum()) / (q / q.sum())))
        reference = LinearSVC(C=0.5).fit(normalize(unit @ scale), positive.astype(int))
        expected = reference.decision_function(normalize(unit @ scale))
        np.testing.assert_allclose(model.decision_function(x)[:, label], expected, atol=1e-4)


def test_nb_svm_trains_saves_and_classifies_noisy_data(tmp_path: Path) -> None:
    rows = synthetic(per_category=30, label_noise=0.15)
    train, test = holdout_split(rows, 0.25, seed="nb")
    config = TrainingConfig(keep_neighbours=False)
    single = train_model(train, tenant="t", config=config)
    nb = train_model(train, tenant="t", config=replace(config, algorithm="nb_svm"))
    assert isinstance(nb.estimator.linear, NaiveBayesSVM)
    assert nb.meta.holdout_accuracy is not None and nb.meta.holdout_accuracy > 0.6
    a_single = _accuracy(single.estimator, single.meta.labels, test)
    a_nb = _accuracy(nb.estimator, nb.meta.labels, test)
    assert a_nb >= a_single - 0.05, (a_nb, a_single)
    classifier = assert_classifies_after_a_reload(nb, tmp_path / "nb.joblib", test[0])
    assert classifier.meta.algorithm == "nb_svm"


def test_nb_svm_copes_with_two_classes_singletons_and_weights() -> None:
    rows = [LabelledTicket(f"vpn drops {i}", "tunnel", ("Network", "VPN"), id=f"v{i}") for i in range(8)]
    rows += [LabelledTicket(f"printer jam {i}", "tray", ("Hardware", "Printer"), id=f"p{i}") for i in range(8)]
    texts = [feature_text(e.summary, e.description) for e in rows]
    labels = [0 if e.path == ("Network", "VPN") else 1 for e in rows]
    model = TextModel.fit(texts, labels, 2, algorithm="nb_svm")
    assert list(model.scores(model.transform(["vpn tunnel drops", "printer tray jam"])).argmax(1)) == [0, 1]
    odd = "vpn drops 3"  # one odd example: learned when weighted heavily, outvoted when not
    plain = TextModel.fit([*texts, odd, "unique singleton topic"], [*labels, 1, 2], 3, algorithm="nb_svm")
    heavy = TextModel.fit([*texts, odd, "unique singleton topic"], [*labels, 1, 2], 3, algorithm="nb_svm",
                          weights=[1.0] * 16 + [25.0, 1.0])
    assert int(plain.scores(plain.transform([odd])).argmax()) == 0
    assert int(heavy.scores(heavy.transform([odd])).argmax()) == 1
    assert int(plain.scores(plain.transform(["unique singleton topic"])).argmax()) == 2


@pytest.mark.parametrize("algorithm", ["nb_svm", "nb_svm_lowrank"])
def test_a_retrain_keeps_the_algorithm_and_the_classifier_reloads_it(tmp_path: Path, algorithm: Algorithm) -> None:
    history = synthetic(per_category=20)
    path = tmp_path / "acme.joblib"
    save_model(train_model(history, tenant="acme", config=TrainingConfig(algorithm=algorithm,
                                                                          keep_neighbours=False)), path)
    classifier = LocalClassifier(load_model(path), path, reload_check_s=0.0)
    first = classifier.name
    paths = sorted({e.path for e in history if e.path})
    rng = random.Random(5)
    text = ("Badge reader at the loading dock rejects every card", "The loading dock badge reader beeps red")
    target = paths[0]
    recent = [LabelledTicket(f"{text[0]} {i}", text[1], target, "1", f"r{i}") for i in range(40)]
    recent += [replace(e, id=f"h{i}") for i, e in enumerate(rng.sample(history, 60))]
    result = retrain(history, recent, {f"r{i}" for i in range(40)}, tenant="acme", psa="halo", model_path=path)
    assert result.promoted
    verdict = classifier.predict(LabelledTicket(text[0], text[1], target, "1", "new").ticket(),
                                 taxonomy(paths)).classification
    assert classifier.name != first and classifier.meta.algorithm == algorithm
    assert verdict.candidate is not None and verdict.candidate.path == target


@pytest.mark.parametrize("algorithm", ["nb_svm", "nb_svm_lowrank"])
def test_learn_trains_the_algorithm_asked_for(tmp_path: Path, algorithm: Algorithm) -> None:
    data = tmp_path / "history.jsonl"
    data.write_text("\n".join(json.dumps({"summary": e.summary, "details": e.description,
                                          "category": " > ".join(e.path or ()), "scope": e.scope})
                              for e in synthetic()))
    out = tmp_path / "model.joblib"
    assert main(["learn", "--tenant", "acme", "--data", str(data), "--out", str(out), "--algorithm", algorithm,
                 "--tenants-file", str(tmp_path / "absent.yaml")]) == 0
    meta, _, _ = read_meta(out)
    assert meta.algorithm == algorithm and meta.holdout_accuracy is not None


def test_scoring_cache_is_rebuilt_after_loading_and_never_pickled() -> None:
    model, x, _, _ = _fitted()
    fresh = pickle.dumps(model)
    scores = model.decision_function(x)
    assert len(pickle.dumps(model)) == len(fresh)
    loaded = pickle.loads(fresh)  # noqa: S301 - our own bytes
    np.testing.assert_allclose(loaded.decision_function(x), scores, rtol=1e-6)
    for row in range(3):
        np.testing.assert_allclose(model.decision_function(x[row]), scores[row : row + 1], rtol=1e-6)
