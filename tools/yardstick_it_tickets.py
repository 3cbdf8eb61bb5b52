"""Yardstick: the local model on the public "IT Service Ticket Classification" data set (47,837 tickets, 8 classes).

Measuring only: not a test, not in CI, and the data set is never copied into the repository. Trains the exact
local model the product ships (``autotriage.local.training.train_model``) on a fixed, deterministic 80 % and
reports accuracy and macro-F1 on the other 20 % next to the published figures.

    python tools/yardstick_it_tickets.py PATH/TO/it-service-tickets/tickets.csv [ALGORITHM]

ALGORITHM (default: the product's default, ``auto``, which chooses ``nb_svm_lowrank`` for this data set) is ``auto``
or one of ``autotriage.local.estimator.ALGORITHMS``.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

from autotriage.local.dataset import LabelledTicket, holdout_split
from autotriage.local.estimator import ALGORITHMS, Algorithm
from autotriage.local.evaluation import EvalCase, choose_threshold, evaluate, precision_at, wilson_lower
from autotriage.local.provider import LocalClassifier
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model

#: The public "IT service tickets" data set (CC0) is not shipped; pass its tickets.csv, or set YARDSTICK_CSV.
DEFAULT = Path(os.environ.get("YARDSTICK_CSV", "tickets.csv"))
PUBLISHED = (
    ("TF-IDF (1-2) + LinearSVC (akhileshvciet-dot/FUTURE_ML_02)", "~85%"),
    ("TF-IDF + LogisticRegression (phongisnoob, acc / macro-F1)", "85.75% / 85.73%"),
    ("Fine-tuned DistilBERT (Lunalykaya, validation)", "87.25% / F1 87.21%"),
)


def read(path: Path) -> list[LabelledTicket]:
    """``Document`` -> description, ``Topic_group`` -> a one-level path."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [LabelledTicket(summary="", description=row["Document"], path=(row["Topic_group"],), id=str(n))
                for n, row in enumerate(csv.DictReader(fh))]


def main(path: Path = DEFAULT, algorithm: str | None = None) -> None:
    """Train, evaluate, print."""
    rows = read(path)
    train, test = holdout_split(rows, 0.2, seed="yardstick")
    print(f"{len(rows)} tickets: {len(train)} train / {len(test)} test (deterministic per-class 80/20)")
    started, cpu = time.perf_counter(), time.process_time()
    config = TrainingConfig(keep_neighbours=False)
    if algorithm is not None:
        if algorithm != "auto" and algorithm not in ALGORITHMS:
            raise SystemExit(f"unknown algorithm {algorithm!r}; one of auto, {', '.join(ALGORITHMS)}")
        config = replace(config, algorithm=cast(Algorithm, algorithm) if algorithm != "auto" else "auto")
    model = train_model(train, tenant="yardstick", config=config, progress=print)
    print(f"trained in {time.perf_counter() - started:.0f} s ({time.process_time() - cpu:.0f} s CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    classifier = LocalClassifier(model)
    estimator = model.estimator
    labels = model.meta.labels
    started = time.perf_counter()
    from autotriage.local.estimator import top_two

    x = estimator.transform([feature_text(e.summary, e.description) for e in test])
    best, top, margin = top_two(estimator.scores(x))
    confidence = estimator.calibrator(top, margin)
    cases = [EvalCase(truth=e.path, predicted=labels[int(b)], confidence=float(c))
             for e, b, c in zip(test, best, confidence, strict=True)]
    report = evaluate(cases)
    per_ticket_ms = 1000 * (time.perf_counter() - started) / len(test)
    point = choose_threshold([c.confidence for c in cases], [c.correct for c in cases], 0.95, 20)
    print(f"\nautotriage local model ({classifier.meta.algorithm}, word 1-2 + char_wb 2-5 TF-IDF):")
    print(f"  accuracy        {report.accuracy['full path']:.2%}")
    print(f"  macro-F1        {report.macro_f1:.2%}")
    if point is not None:
        print(f"  at >= 95% precision: {point.coverage:.1%} of tickets (threshold {point.threshold:.3f})")
    stored = model.meta.threshold
    print(f"  stored cascade threshold {stored if stored is None else round(stored, 3)}; "
          f"{per_ticket_ms:.2f} ms per ticket (batch)")
    if stored is None:
        print(f"  no threshold stored: {model.meta.threshold_note}")
    else:
        held = precision_at([c.confidence for c in cases], [c.correct for c in cases], stored)
        hits = round((held.precision or 0.0) * held.count)
        print(f"  at the stored threshold on the test split: precision {held.precision or 0:.2%} (Wilson 95% lower "
              f"bound {wilson_lower(hits, held.count):.2%}) on {held.count} tickets, coverage {held.coverage:.1%}; "
              f"promised at training: lower bound {model.meta.threshold_precision_lower or 0:.2%}")
    print("\npublished on the same data (their own splits):")
    for name, figure in PUBLISHED:
        print(f"  {figure:>20s}  {name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT, sys.argv[2] if len(sys.argv) > 2 else None)
