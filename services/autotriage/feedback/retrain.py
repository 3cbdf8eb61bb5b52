"""Retraining with the technicians' corrections, and promotion only when the new model is better.

1. The training set is the tenant's categorized history plus the recent closed tickets, each with its final
   (technician's) category; a ticket whose category a technician changed weighs ``weight`` times an old one.
2. A deterministic 20 % of the recent tickets is held out: the candidate (trained without them) and the current
   model are both measured on them.
3. Only a candidate that is more accurate there is promoted: refit on everything, written as a versioned file
   (``<model>.<model_id>.joblib`` next to the live one) and then atomically over the live path, which the
   classifier's local provider watches and reloads without a restart.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from autotriage.local.dataset import LabelledTicket, holdout_split
from autotriage.local.estimator import ALGORITHMS, Algorithm, top_two
from autotriage.local.store import LocalModel, load_model, save_model
from autotriage.local.text import feature_text
from autotriage.local.training import TrainingConfig, train_model


def accuracy(model: LocalModel, examples: Sequence[LabelledTicket]) -> float:
    """Share of ``examples`` whose full path the model predicts (a path it never learned counts as wrong)."""
    if not examples:
        return 0.0
    estimator = model.estimator
    best, _, _ = top_two(estimator.scores(estimator.transform([feature_text(e.summary, e.description)
                                                              for e in examples])))
    labels = model.meta.labels
    return float(np.mean([labels[int(b)] == e.path for b, e in zip(best, examples, strict=True)]))


@dataclass(frozen=True)
class RetrainResult:
    """What a retraining run measured and did."""

    n_history: int
    n_recent: int
    n_corrections: int
    n_holdout: int
    current_accuracy: float | None
    candidate_accuracy: float
    promoted: bool
    model_id: str = ""
    versioned_path: Path | None = None


def training_set(history: Sequence[LabelledTicket], recent: Sequence[LabelledTicket], corrected: set[str],
                 weight: float, exclude: set[str] | None = None) -> list[LabelledTicket]:
    """History (minus tickets that are also recent, and minus ``exclude``: the held-out ones) plus recent
    tickets, corrections weighted."""
    skip = {e.id for e in recent if e.id} | (exclude or set())
    old = [e for e in history if not e.id or e.id not in skip]
    return old + [replace(e, weight=weight if e.id in corrected else 1.0) for e in recent]


def retrain(history: Sequence[LabelledTicket], recent: Sequence[LabelledTicket], corrected: set[str], *,
            tenant: str, psa: str | None, model_path: Path, weight: float = 3.0,
            config: TrainingConfig | None = None) -> RetrainResult:
    """See the module docstring; ``corrected`` are the ids of recent tickets a technician re-categorized.
    Without ``config`` the candidate uses the current model's algorithm when a tenant chose it, else ``auto``
    chooses again for the grown history."""
    usable = [e for e in recent if e.path]
    train_recent, held = holdout_split(usable, 0.2, seed="recent")
    current = load_model(model_path) if model_path.exists() else None
    if config is None:
        algorithm = current.meta.algorithm if current is not None and not current.meta.algorithm_auto else None
        config = TrainingConfig(algorithm=algorithm) if algorithm in ALGORITHMS else TrainingConfig()
    held_ids = {e.id for e in held}
    candidate = train_model(training_set(history, train_recent, corrected, weight, held_ids), tenant=tenant, psa=psa,
                            config=replace(config, keep_neighbours=False))
    current_acc = accuracy(current, held) if current is not None else None
    candidate_acc = accuracy(candidate, held)
    result = RetrainResult(len(history), len(usable), len(corrected & {e.id for e in usable}), len(held),
                           current_acc, candidate_acc, promoted=False)
    if current_acc is not None and candidate_acc <= current_acc:
        return result
    # The shipped model is the algorithm that was measured: ``auto`` on the whole set could choose another one.
    final = train_model(training_set(history, usable, corrected, weight), tenant=tenant, psa=psa,
                        config=replace(config, algorithm=cast(Algorithm, candidate.meta.algorithm)))
    final.meta = final.meta.model_copy(update={"algorithm_auto": candidate.meta.algorithm_auto})
    versioned = model_path.with_name(f"{model_path.stem}.{{id}}{model_path.suffix}")
    staged = save_model(final, versioned.with_name(versioned.name.replace("{id}", "staging")))
    kept = staged.with_name(versioned.name.replace("{id}", final.meta.model_id))
    staged.replace(kept)
    tmp = model_path.with_name(model_path.name + ".tmp")
    shutil.copyfile(kept, tmp)
    tmp.replace(model_path)
    return replace(result, promoted=True, model_id=final.meta.model_id, versioned_path=kept)
