"""Thresholds from production: the lowest confidence above which the observed agreement with technicians is,
with 95 % confidence, at least a target precision (Wilson score lower bound), given enough tickets."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

#: Candidate thresholds: 0.30, 0.31, ... 0.99.
GRID = tuple(round(t / 100, 2) for t in range(30, 100))
Z95 = 1.959963984540054


def wilson_lower(agreed: int, total: int, z: float = Z95) -> float:
    """Lower bound of the Wilson score interval of ``agreed / total`` (0 for no tickets)."""
    if total <= 0:
        return 0.0
    p = agreed / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z * z / total))


@dataclass(frozen=True)
class Proposal:
    """A threshold and what it is expected to give."""

    threshold: float
    precision: float
    lower_bound: float
    coverage: float
    tickets: int


def propose(confidences: Sequence[float], agreed: Sequence[bool], target: float,
            min_samples: int) -> Proposal | None:
    """The lowest grid threshold whose tickets at or above it number ``min_samples`` or more and whose Wilson
    lower bound reaches ``target``; ``None`` when none does."""
    pairs = list(zip(confidences, agreed, strict=True))
    for threshold in GRID:
        above = [ok for conf, ok in pairs if conf >= threshold]
        if len(above) < min_samples:
            return None  # higher thresholds only have fewer tickets
        hits = sum(above)
        bound = wilson_lower(hits, len(above))
        if bound >= target:
            return Proposal(threshold, hits / len(above), bound, len(above) / len(pairs), len(above))
    return None


def propose_by_group(groups: Sequence[str], confidences: Sequence[float], agreed: Sequence[bool], target: float,
                     min_samples: int) -> dict[str, Proposal | None]:
    """``propose`` per group (e.g. per top-level category)."""
    by: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for group, conf, ok in zip(groups, confidences, agreed, strict=True):
        by[group][0].append(conf)
        by[group][1].append(ok)
    return {g: propose(c, a, target, min_samples) for g, (c, a) in sorted(by.items())}
