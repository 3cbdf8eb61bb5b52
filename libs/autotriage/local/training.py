"""Training: labelled tickets -> a measured, versioned local model.

1. Split the examples into ``folds`` deterministic, per-category folds (the first example of a category always
   trains). For each fold, fit on the others and predict it: every example gets an out-of-fold prediction from
   a model of the same configuration that never saw it, which is how the shipped model meets new tickets.
2. From the out-of-fold predictions: accuracy, macro-F1, and the top-1 confidence calibrator (cross-fitted in two
   halves for the measurement, so no confidence is measured on the data its calibrator was fitted on).
3. The cascade threshold is the lowest confidence at which the Wilson lower bound (one-sided 97.5 %) of the
   measured precision is >= the target, over at least ``MIN_THRESHOLD_SUPPORT`` tickets, in an unbroken band of
   such thresholds from the top (``evaluation.choose_threshold``). With fewer than
   ``MIN_THRESHOLD_HOLDOUT`` measured tickets no threshold is stored (the cascade then always asks the LLM) and
   the model says why.
4. The shipped model is fitted on every example with that calibrator and threshold, and keeps the vectors for
   few-shot. ``autotriage eval`` checks the promise on tickets the training never saw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import numpy as np

from autotriage.core.errors import ConfigError
from autotriage.local.dataset import LabelledTicket, data_hash
from autotriage.local.estimator import Algorithm, TextModel, TopCalibrator, top_two
from autotriage.local.evaluation import (
    DEFAULT_THRESHOLDS,
    THRESHOLD_Z,
    choose_threshold,
    macro_f1,
    precision_at,
    wilson_lower,
)
from autotriage.local.shortlist import MAX_K, choose_k, truth_ranks
from autotriage.local.store import LocalModel, ModelMeta, ThresholdRow
from autotriage.local.text import training_texts

MIN_EXAMPLES = 10
MIN_HOLDOUT = 10
#: Held-out tickets needed before a cascade threshold is chosen at all. Below it the fold models (trained on three
#: quarters of a small history) differ too much from the shipped one: a 300-ticket Autotask history promised 96 %
#: (lower bound) on 236 held-out tickets and delivered 90 % on the 1,000 tickets it never saw.
MIN_THRESHOLD_HOLDOUT = 500
#: Held-out tickets at or above a threshold needed to choose it.
MIN_THRESHOLD_SUPPORT = 30

#: ``auto`` picks ``nb_svm_lowrank`` when the median category has at least this many tickets, else ``linear_svc``.
#: Measured on the public IT ticket set, per-class subsamples (docs/benchmarks.md, fourth round): with 25-400
#: tickets per category ``linear_svc`` is 1-2 points better, at 1,000 the two are even, at 2,000-4,800
#: ``nb_svm_lowrank`` is 0.3-1.3 points better.
LARGE_CATEGORY = 1000

Progress = Callable[[str], None]
AlgorithmChoice = Algorithm | Literal["auto"]


def choose_algorithm(tickets_per_category: Sequence[int]) -> Algorithm:
    """What ``auto`` trains: ``nb_svm_lowrank`` for histories whose median category has ``LARGE_CATEGORY``
    tickets or more (large, few-category histories), else ``linear_svc`` (best on typical MSP histories with
    dozens of categories of a few to a few hundred tickets)."""
    if tickets_per_category and statistics.median(tickets_per_category) >= LARGE_CATEGORY:
        return "nb_svm_lowrank"
    return "linear_svc"


@dataclass(frozen=True)
class TrainingConfig:
    """Knobs of a training run (the defaults are what was measured best on the bundled data)."""

    algorithm: AlgorithmChoice = "auto"
    c: float = 0.5
    folds: int = 4
    target_precision: float = 0.95
    min_support: int = MIN_THRESHOLD_SUPPORT
    min_threshold_holdout: int = MIN_THRESHOLD_HOLDOUT
    keep_neighbours: bool = True


@dataclass(frozen=True)
class _Measured:
    calibrator: TopCalibrator
    accuracy: float | None = None
    macro_f1: float | None = None
    table: tuple[ThresholdRow, ...] = ()
    chosen: ThresholdRow | None = None
    chosen_lower: float | None = None
    note: str = ""
    topk_recall: tuple[float, ...] = ()


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
    automatic = config.algorithm == "auto"
    algorithm = choose_algorithm(list(Counter(e.path for e in usable).values())) if automatic else \
        cast(Algorithm, config.algorithm)
    say(f"preparing {len(usable)} tickets ({algorithm}{', chosen for the data' if automatic else ''})")
    prepared = {id(e): training_texts(e.summary, e.description) for e in usable}
    texts = {key: value[0] for key, value in prepared.items()}
    folds = _folds(usable, config.folds)
    scored = [e for e in usable if folds[id(e)] >= 0]
    measured = _Measured(TopCalibrator(), note=f"only {len(scored)} tickets can be held out: too few to measure")
    measuring = len(scored) >= MIN_HOLDOUT
    if measuring:
        best, top, margin = (np.zeros(len(scored), dtype=np.int64), np.zeros(len(scored)), np.zeros(len(scored)))
        ranks = np.zeros(len(scored), dtype=np.int64)  # the true label's rank among the fold model's scores
        position = {id(e): i for i, e in enumerate(scored)}
        for fold in range(config.folds):
            held = [e for e in scored if folds[id(e)] == fold]
            if not held:
                continue
            train = [e for e in usable if folds[id(e)] != fold]
            say(f"fold {fold + 1}/{config.folds}: fitting on {len(train)}, predicting {len(held)} held-out tickets")
            model = _fit([texts[id(e)] for e in train], [index[e.path] for e in train if e.path], len(labels),
                         algorithm, config, None, [e.weight for e in train])
            scores = model.scores(model.transform([texts[id(e)] for e in held]))
            b, t, m = top_two(scores)
            rows = [position[id(e)] for e in held]
            best[rows], top[rows], margin[rows] = b, t, m
            ranks[rows] = truth_ranks(scores, np.array([index[e.path] for e in held if e.path], dtype=np.int64))
        truth = np.array([index[e.path] for e in scored if e.path])
        measured = _measure(best, top, margin, truth, labels, config)
        limit = min(MAX_K, len(labels))
        curve = tuple(round(float((ranks < k).mean()), 4) for k in range(1, limit + 1))
        measured = dataclasses.replace(measured, topk_recall=curve)
    say(f"fitting on all {len(usable)} tickets")
    snippets = [prepared[id(e)][1] for e in usable] if config.keep_neighbours else None
    final = _fit([texts[id(e)] for e in usable], [index[e.path] for e in usable if e.path], len(labels), algorithm,
                 config, snippets, [e.weight for e in usable])
    final.calibrator = measured.calibrator
    chosen = measured.chosen
    meta = ModelMeta(
        tenant=tenant, psa=psa, scope=scope, trained_at=datetime.now(UTC), algorithm=algorithm,
        algorithm_auto=automatic,
        n_examples=len(usable), n_train=len(usable), refit=measuring,
        n_holdout=len(scored) if measuring else 0,
        labels=labels, holdout_accuracy=measured.accuracy, holdout_macro_f1=measured.macro_f1,
        target_precision=config.target_precision,
        threshold=chosen.threshold if chosen else None,
        threshold_precision=chosen.precision if chosen else None,
        threshold_coverage=chosen.coverage if chosen else None,
        threshold_precision_lower=measured.chosen_lower if chosen else None,
        threshold_note="" if chosen else measured.note,
        threshold_table=list(measured.table), data_sha256=data_hash(usable),
        topk_recall=list(measured.topk_recall), shortlist_k=choose_k(list(measured.topk_recall)),
    )
    return LocalModel(meta, final)


def _fit(texts: list[str], labels: list[int], n_labels: int, algorithm: Algorithm, config: TrainingConfig,
         snippets: list[str] | None, weights: list[float] | None = None) -> TextModel:
    """``TextModel.fit`` with a clear error for data the vectorizers cannot use."""
    try:
        return TextModel.fit(texts, labels, n_labels, algorithm=algorithm, c=config.c, snippets=snippets,
                             weights=weights)
    except ValueError as exc:
        if "vocabulary" in str(exc) or "no terms remain" in str(exc):
            raise ConfigError(
                "the tickets have no words the local model can learn from (after cleaning and redaction every "
                "summary and description is empty, placeholders or punctuation): check that the data's "
                "'summary'/'title' and 'description'/'details' fields hold the ticket text") from exc
        raise


def _folds(examples: Sequence[LabelledTicket], k: int) -> dict[int, int]:
    """A deterministic, per-category assignment of each example to one of ``k`` folds; the first example of
    every category (in hash order) is never held out (fold -1), so every fold model knows every category."""
    groups: dict[tuple[str, ...] | None, list[LabelledTicket]] = defaultdict(list)
    for example in examples:
        groups[example.path].append(example)
    out: dict[int, int] = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda e: hashlib.sha256(f"autotriage-fold:{e.key}".encode()).hexdigest())
        out[id(ordered[0])] = -1
        for i, example in enumerate(ordered[1:]):
            out[id(example)] = i % k
    return out


def _measure(best: np.ndarray, top: np.ndarray, margin: np.ndarray, truth: np.ndarray,
             labels: list[tuple[str, ...]], config: TrainingConfig) -> _Measured:
    """Out-of-fold accuracy, macro-F1, the calibrator, and the precision table of cross-fitted confidences."""
    correct = best == truth
    confidence = np.zeros(len(truth))
    halves = np.arange(len(truth)) % 2 == 0
    for part in (halves, ~halves):
        fitted = TopCalibrator.fit(top[~part], margin[~part], correct[~part])
        confidence[part] = fitted(top[part], margin[part])
    conf_list, ok_list = confidence.tolist(), correct.tolist()
    table = tuple(ThresholdRow(**vars(precision_at(conf_list, ok_list, t))) for t in DEFAULT_THRESHOLDS)
    point = None
    note = ""
    if len(truth) < config.min_threshold_holdout:
        note = (f"only {len(truth)} held-out tickets (at least {config.min_threshold_holdout} are needed to "
                "promise a precision): no threshold, every ticket goes to the LLM")
    else:
        point = choose_threshold(conf_list, ok_list, config.target_precision, config.min_support, lower_bound=True)
        if point is None:
            note = (f"no threshold reaches {config.target_precision:.0%} precision (lower 97.5 % bound) on "
                    f"{len(truth)} held-out tickets with at least {config.min_support} above it")
    lower = wilson_lower(round((point.precision or 0) * point.count), point.count, THRESHOLD_Z) if point else None
    names = [" > ".join(labels[i]) for i in truth]
    return _Measured(
        calibrator=TopCalibrator.fit(top, margin, correct),
        accuracy=float(correct.mean()),
        macro_f1=macro_f1(names, [" > ".join(labels[i]) for i in best]),
        table=table,
        chosen=ThresholdRow(**vars(point)) if point else None,
        chosen_lower=lower,
        note=note,
    )
