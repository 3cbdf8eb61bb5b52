"""Training: labelled tickets -> a measured, versioned local model.

1. Hold out a deterministic, per-category 20 % of the examples.
2. Fit on the rest, predict the hold-out: accuracy, macro-F1, and the top-1 confidence calibrator (fitted
   2-fold across the hold-out so the measured precision is never measured on the data it was fitted on).
3. The cascade threshold is the lowest confidence at which the measured precision is >= the target.
4. Refit on every example (the calibrator and threshold carry over) and keep the vectors for few-shot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from autotriage.core.errors import ConfigError
from autotriage.local.dataset import LabelledTicket, data_hash, holdout_split
from autotriage.local.estimator import Algorithm, TextModel, TopCalibrator, top_two
from autotriage.local.evaluation import DEFAULT_THRESHOLDS, choose_threshold, macro_f1, precision_at
from autotriage.local.store import LocalModel, ModelMeta, ThresholdRow
from autotriage.local.text import training_texts

MIN_EXAMPLES = 10
MIN_HOLDOUT = 10

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs of a training run (the defaults are what was measured best on the bundled data)."""

    algorithm: Algorithm = "linear_svc"
    c: float = 0.5
    holdout: float = 0.2
    target_precision: float = 0.95
    min_support: int = 5
    refit: bool = True
    keep_neighbours: bool = True


@dataclass(frozen=True)
class _Measured:
    calibrator: TopCalibrator
    accuracy: float | None = None
    macro_f1: float | None = None
    table: tuple[ThresholdRow, ...] = ()
    chosen: ThresholdRow | None = None


def train_model(
    examples: Sequence[LabelledTicket],
    *,
    tenant: str,
    psa: str | None = None,
    scope: str | None = None,
    config: TrainingConfig = TrainingConfig(),
    progress: Progress | None = None,
) -> LocalModel:
    """Train on the categorized ``examples`` (of ``scope`` only, when given); see the module docstring."""
    say = progress or (lambda _: None)
    usable = [e for e in examples if e.path and (scope is None or e.scope == scope)]
    labels = sorted({e.path for e in usable if e.path})
    if len(usable) < MIN_EXAMPLES or len(labels) < 2:
        where = f" in scope {scope}" if scope else ""
        raise ConfigError(f"only {len(usable)} categorized tickets in {len(labels)} categories{where}: the local "
                          f"model needs at least {MIN_EXAMPLES} tickets in 2 categories (add history or --data)")
    index = {path: i for i, path in enumerate(labels)}
    say(f"preparing {len(usable)} tickets")
    prepared = {id(e): training_texts(e.summary, e.description) for e in usable}
    texts = {key: value[0] for key, value in prepared.items()}
    train, held = holdout_split(usable, config.holdout)
    measured = _Measured(TopCalibrator())
    final: TextModel | None = None
    measuring = len(held) >= MIN_HOLDOUT
    if measuring:
        say(f"fitting on {len(train)}, measuring on {len(held)} held-out tickets")
        keep = config.keep_neighbours and not config.refit
        model = TextModel.fit([texts[id(e)] for e in train], [index[e.path] for e in train if e.path], len(labels),
                              algorithm=config.algorithm, c=config.c,
                              snippets=[prepared[id(e)][1] for e in train] if keep else None,
                              weights=[e.weight for e in train])
        truth = np.array([index[e.path] for e in held if e.path])
        measured = _measure(model, [texts[id(e)] for e in held], truth, labels, config)
        final = None if config.refit else model
    if final is None:
        say(f"fitting on all {len(usable)} tickets")
        final = TextModel.fit([texts[id(e)] for e in usable], [index[e.path] for e in usable if e.path],
                              len(labels), algorithm=config.algorithm, c=config.c,
                              snippets=[prepared[id(e)][1] for e in usable] if config.keep_neighbours else None,
                              weights=[e.weight for e in usable])
    final.calibrator = measured.calibrator
    chosen = measured.chosen
    meta = ModelMeta(
        tenant=tenant, psa=psa, scope=scope, trained_at=datetime.now(UTC), algorithm=config.algorithm,
        n_examples=len(usable), n_train=len(train) if measuring else len(usable), refit=measuring and config.refit,
        n_holdout=len(held) if measuring else 0,
        labels=labels, holdout_accuracy=measured.accuracy, holdout_macro_f1=measured.macro_f1,
        target_precision=config.target_precision,
        threshold=chosen.threshold if chosen else None,
        threshold_precision=chosen.precision if chosen else None,
        threshold_coverage=chosen.coverage if chosen else None,
        threshold_table=list(measured.table), data_sha256=data_hash(usable),
    )
    return LocalModel(meta, final)


def _measure(model: TextModel, texts: list[str], truth: np.ndarray, labels: list[tuple[str, ...]],
             config: TrainingConfig) -> _Measured:
    """Hold-out accuracy, macro-F1, the calibrator, and the precision table of cross-fitted confidences."""
    best, top, margin = top_two(model.scores(model.transform(texts)))
    correct = best == truth
    confidence = np.zeros(len(truth))
    halves = np.arange(len(truth)) % 2 == 0
    for part in (halves, ~halves):
        fitted = TopCalibrator.fit(top[~part], margin[~part], correct[~part])
        confidence[part] = fitted(top[part], margin[part])
    conf_list, ok_list = confidence.tolist(), correct.tolist()
    table = tuple(ThresholdRow(**vars(precision_at(conf_list, ok_list, t))) for t in DEFAULT_THRESHOLDS)
    point = choose_threshold(conf_list, ok_list, config.target_precision, config.min_support)
    names = [" > ".join(labels[i]) for i in truth]
    return _Measured(
        calibrator=TopCalibrator.fit(top, margin, correct),
        accuracy=float(correct.mean()),
        macro_f1=macro_f1(names, [" > ".join(labels[i]) for i in best]),
        table=table,
        chosen=ThresholdRow(**vars(point)) if point else None,
    )
