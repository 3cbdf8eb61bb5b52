"""Feedback: what autotriage decided for a ticket against the category it had when it closed.

A ticket's verdict:

* ``kept``: the final category is the one autotriage chose (applied and left alone, or suggested / shadowed
  and picked by the technician);
* ``changed``: same scope, another category: a technician corrected autotriage (a training example);
* ``rescoped``: the ticket moved to another scope (CW board, Autotask queue, Halo ticket type), so the old
  scope's categories no longer apply: not counted against autotriage;
* ``uncategorized``: closed without a category (nothing to compare);
* ``no_category``: autotriage chose none (skipped, abstained, failed).

Agreement is ``kept / (kept + changed)``, per mode, per level of the path (level 1 = the top level) and per
confidence bucket (a reliability curve).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

#: Confidence buckets of the reliability curve: [0.0, 0.1), ..., [0.9, 1.0].
BUCKETS = tuple(round(i / 10, 1) for i in range(10))
#: Path levels reported (deeper paths are judged on their full path only).
LEVELS = ("1", "2", "full")


class Decision(BaseModel):
    """What autotriage decided for one ticket (the last outcome that chose or skipped)."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    tenant: str
    ticket_id: str
    psa: str = ""
    scope: str = ""
    action: str
    mode: str = ""
    path: tuple[str, ...] = ()
    confidence: float = 0.0
    model: str = ""
    decided_at: datetime


class Verdict(StrEnum):
    """How a decision held up (see the module docstring)."""

    KEPT = "kept"
    CHANGED = "changed"
    RESCOPED = "rescoped"
    UNCATEGORIZED = "uncategorized"
    NO_CATEGORY = "no_category"


@dataclass(frozen=True)
class Judged:
    """One closed ticket joined with its decision."""

    decision: Decision
    final_path: tuple[str, ...]
    final_scope: str
    verdict: Verdict
    summary: str = ""
    description: str = ""

    @property
    def counted(self) -> bool:
        """Whether it counts for agreement (kept or changed)."""
        return self.verdict in (Verdict.KEPT, Verdict.CHANGED)

    def agrees_at(self, level: str) -> bool:
        """Agreement on the first ``level`` parts of the path (``full``: the whole path)."""
        if level == "full":
            return self.final_path == self.decision.path
        depth = int(level)
        return self.decision.path[:depth] == self.final_path[:depth]


def _norm(path: Sequence[str]) -> tuple[str, ...]:
    return tuple(" ".join(p.split()).casefold() for p in path)


def judge(decision: Decision, final_path: Sequence[str], final_scope: str, summary: str = "",
          description: str = "") -> Judged:
    """Compare one decision with the ticket as it closed (paths compare case- and space-insensitively)."""
    final = tuple(final_path)
    if not decision.path:
        verdict = Verdict.NO_CATEGORY
    elif decision.scope and final_scope and decision.scope != final_scope:
        verdict = Verdict.RESCOPED
    elif not final:
        verdict = Verdict.UNCATEGORIZED
    elif _norm(final) == _norm(decision.path):
        verdict = Verdict.KEPT
        final = decision.path
    else:
        verdict = Verdict.CHANGED
    return Judged(decision, final, final_scope, verdict, summary, description)


def bucket_of(confidence: float) -> float:
    """The reliability-curve bucket of a confidence."""
    return BUCKETS[min(9, max(0, int(confidence * 10)))]


@dataclass
class Rate:
    """Agreement over a group of counted tickets."""

    agreed: int = 0
    total: int = 0

    @property
    def ratio(self) -> float | None:
        """``agreed / total`` (``None`` for an empty group)."""
        return self.agreed / self.total if self.total else None

    def add(self, agreed: bool) -> None:
        """Count one ticket."""
        self.total += 1
        self.agreed += int(agreed)


@dataclass
class AgreementReport:
    """Agreement of one tenant's decisions with the technicians' final categories."""

    tenant: str
    verdicts: Counter[tuple[str, Verdict]] = field(default_factory=Counter)
    by_mode: dict[tuple[str, str], Rate] = field(default_factory=lambda: defaultdict(Rate))
    by_bucket: dict[float, Rate] = field(default_factory=lambda: defaultdict(Rate))
    by_category: dict[tuple[str, ...], Rate] = field(default_factory=lambda: defaultdict(Rate))
    confused: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=Counter)
    judged: list[Judged] = field(default_factory=list)

    def rate(self, mode: str, level: str = "full") -> Rate:
        """Agreement of one mode (``apply``, ``suggest``, ``shadow``) at one level."""
        return self.by_mode.get((mode, level), Rate())

    @property
    def corrections(self) -> list[Judged]:
        """Tickets whose category a technician changed (same scope)."""
        return [j for j in self.judged if j.verdict is Verdict.CHANGED]


def agreement(tenant: str, judged: Iterable[Judged]) -> AgreementReport:
    """Aggregate judged tickets (see the module docstring)."""
    report = AgreementReport(tenant)
    for item in judged:
        report.judged.append(item)
        mode = item.decision.mode or "unknown"
        report.verdicts[(mode, item.verdict)] += 1
        if not item.counted:
            continue
        for level in LEVELS:
            report.by_mode[(mode, level)].add(item.agrees_at(level))
        report.by_bucket[bucket_of(item.decision.confidence)].add(item.agrees_at("full"))
        report.by_category[item.decision.path].add(item.agrees_at("full"))
        if item.verdict is Verdict.CHANGED:
            report.confused[(item.decision.path, item.final_path)] += 1
    return report
