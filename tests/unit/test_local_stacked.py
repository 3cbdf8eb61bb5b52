"""The stacked ensemble: fits and predicts like the single SVM, copes with tiny and two-class data, honours
sample weights, and survives the model file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from autotriage.local.dataset import LabelledTicket, holdout_split
from autotriage.local.estimator import StackedLinear, TextModel
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model
from tests.unit.test_local_model import assert_classifies_after_a_reload, synthetic


def _accuracy(model: TextModel, labels: list[tuple[str, ...]], rows: list[LabelledTicket]) -> float:
    scores = model.scores(model.transform([feature_text(e.summary, e.description) for e in rows]))
    return float(np.mean([labels[int(i)] == e.path for i, e in zip(scores.argmax(1), rows, strict=True)]))


def test_stacked_is_at_least_as_accurate_as_one_svm_on_noisy_data(tmp_path: Path) -> None:
    rows = synthetic(per_category=30, label_noise=0.15)
    train, test = holdout_split(rows, 0.25, seed="stack")
    config = TrainingConfig(keep_neighbours=False)
    single = train_model(train, tenant="t", config=config)
    stacked = train_model(train, tenant="t", config=replace(config, algorithm="stacked"))
    assert isinstance(stacked.estimator.linear, StackedLinear) and len(stacked.estimator.linear.bases) == 3
    a_single = _accuracy(single.estimator, single.meta.labels, test)
    a_stacked = _accuracy(stacked.estimator, stacked.meta.labels, test)
    assert a_stacked >= a_single - 0.02, (a_stacked, a_single)
    classifier = assert_classifies_after_a_reload(stacked, tmp_path / "stacked.joblib", test[0])
    assert classifier.meta.algorithm == "stacked"


def test_stacked_copes_with_two_classes_singletons_and_weights() -> None:
    rows = [LabelledTicket(f"vpn drops {i}", "tunnel", ("Network", "VPN"), id=f"v{i}") for i in range(8)]
    rows += [LabelledTicket(f"printer jam {i}", "tray", ("Hardware", "Printer"), id=f"p{i}") for i in range(8)]
    model = TextModel.fit([feature_text(e.summary, e.description) for e in rows],
                          [0 if e.path == ("Network", "VPN") else 1 for e in rows], 2, algorithm="stacked")
    scores = model.scores(model.transform(["vpn tunnel drops", "printer tray jam"]))
    assert list(scores.argmax(1)) == [0, 1]
    # one odd example, weighted heavily, is learned; unweighted it is outvoted
    odd = "vpn drops 3"
    texts = [feature_text(e.summary, e.description) for e in rows] + [odd, "unique singleton topic"]
    labels = [0 if e.path == ("Network", "VPN") else 1 for e in rows] + [1, 2]
    plain = TextModel.fit(texts, labels, 3, algorithm="stacked")
    heavy = TextModel.fit(texts, labels, 3, algorithm="stacked", weights=[1.0] * 16 + [25.0, 1.0])
    assert int(plain.scores(plain.transform([odd])).argmax()) == 0
    assert int(heavy.scores(heavy.transform([odd])).argmax()) == 1
