#!/usr/bin/env python3
"""Does the stored cascade threshold keep its promise on tickets the training never saw?

For each bundled PSA's history (and, when given, the public "IT service tickets" CSV): a deterministic, per-category
split (``--fraction`` held out, several ``--seeds``), the shipped local model trained on the rest exactly as
``autotriage learn`` trains it, then the precision of its predictions at the stored threshold on the held-out part,
with the Wilson one-sided 95 % lower bound, next to what the training promised; pooled over the seeds. With
``--history N`` the same for a small history: N training tickets, every other ticket held out. Measuring only.

    python3 tools/threshold_fresh_split.py [--public PATH/TO/tickets.csv] [--seeds 3] [--fraction 0.2] [--history 300]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autotriage.local.dataset import LabelledTicket, holdout_split, read_labelled
from autotriage.local.estimator import top_two
from autotriage.local.evaluation import precision_at, wilson_lower
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model

DATA = Path(__file__).resolve().parents[1] / "libs" / "autotriage" / "sandbox" / "data"
PSAS = ("autotask", "connectwise", "halo")


@dataclass(frozen=True)
class Fresh:
    """One split's outcome: the stored threshold (None: none stored) and its precision on the held-out part."""

    threshold: float | None
    promised_lower: float | None
    hits: int
    kept: int
    held: int
    note: str


def measure(rows: Sequence[LabelledTicket], seed: str, fraction: float, history: int | None = None) -> Fresh:
    """Train on a split of ``rows`` (``history``: only that many tickets of the training part, in a fixed random
    order, the rest held out too), count the held-out predictions at or above the stored threshold."""
    train, test = holdout_split(rows, fraction, seed=seed)
    if history is not None:
        shuffled = sorted(train, key=lambda e: hashlib.sha256(f"{seed}:{e.key}".encode()).hexdigest())
        train, test = shuffled[:history], test + shuffled[history:]
    model = train_model(train, tenant="fresh", config=TrainingConfig(keep_neighbours=False))
    meta = model.meta
    if meta.threshold is None:
        return Fresh(None, None, 0, 0, len(test), meta.threshold_note)
    estimator = model.estimator
    best, top, margin = top_two(estimator.scores(estimator.transform(
        [feature_text(e.summary, e.description) for e in test])))
    confidence = estimator.calibrator(top, margin)
    correct = [meta.labels[int(b)] == e.path for b, e in zip(best, test, strict=True)]
    point = precision_at(confidence.tolist(), correct, meta.threshold)
    hits = round((point.precision or 0.0) * point.count)
    return Fresh(meta.threshold, meta.threshold_precision_lower, hits, point.count, len(test), "")


def report(name: str, rows: Sequence[LabelledTicket], seeds: range, fraction: float,
           history: int | None = None) -> None:
    """Print one line per seed and the pooled precision over every seed's held-out tickets."""
    hits = kept = 0
    if history is not None:
        name = f"{name}/{history}"
    for s in seeds:
        started = time.perf_counter()
        fresh = measure(rows, f"fresh-{s}", fraction, history)
        took = time.perf_counter() - started
        if fresh.threshold is None:
            print(f"{name:12s} seed {s}: no threshold stored ({fresh.note}) [{took:.0f} s]")
            continue
        hits, kept = hits + fresh.hits, kept + fresh.kept
        precision = fresh.hits / fresh.kept if fresh.kept else float("nan")
        print(f"{name:12s} seed {s}: threshold {fresh.threshold:.3f} (promised lower bound "
              f"{fresh.promised_lower or 0:.2%}); fresh split {fresh.hits}/{fresh.kept} = {precision:.2%} "
              f"(lower {wilson_lower(fresh.hits, fresh.kept):.2%}), coverage {fresh.kept / fresh.held:.1%} of "
              f"{fresh.held} [{took:.0f} s]")
    if kept:
        print(f"{name:12s} pooled: {hits}/{kept} = {hits / kept:.2%} (lower {wilson_lower(hits, kept):.2%})")


def read_public(path: Path) -> list[LabelledTicket]:
    """The public CSV: ``Document`` -> description, ``Topic_group`` -> a one-level path."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [LabelledTicket(summary="", description=row["Document"], path=(row["Topic_group"],), id=str(n))
                for n, row in enumerate(csv.DictReader(fh))]


def main() -> None:
    """Every bundled PSA, then the public set when given."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--public", type=Path, help="the public IT service tickets CSV (never copied here)")
    parser.add_argument("--seeds", type=int, default=3, help="splits per data set")
    parser.add_argument("--first-seed", type=int, default=0, help="number of the first split (more splits later)")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--psa", choices=PSAS, action="append", help="only these PSAs (default: all)")
    parser.add_argument("--history", type=int, action="append", default=[],
                        help="also train on only this many tickets (e.g. 300), every other ticket held out")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for psa in args.psa or PSAS:
        rows = read_labelled(DATA / psa / "history.jsonl")
        report(psa, rows, seeds, args.fraction)
        for size in args.history:
            report(psa, rows, seeds, args.fraction, size)
    if args.public is not None:
        report("public", read_public(args.public), range(args.first_seed, args.first_seed + 1), args.fraction)


if __name__ == "__main__":
    main()
