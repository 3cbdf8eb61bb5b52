"""A technician's month on a simulator: tickets categorized by autotriage, some corrected, some moved, all closed.

The decisions are the outcome records the writer would have produced; the simulator holds what technicians did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from autotriage.core.events import OutcomeRecorded
from autotriage.core.models import Action, PSAKind
from autotriage.feedback.decisions import decisions_of
from autotriage.policy.feedback import Decision
from autotriage.sandbox.common import TECHNICIAN, WORKFLOW, Simulator

#: (main scope, scope tickets are moved to) per PSA, from the bundled taxonomies.
SCOPES = {"connectwise": (12, 14), "autotask": (29682833, 29682840), "halo": (1, 3)}


@dataclass
class Month:
    """What happened, as the test knows it."""

    decisions: list[Decision] = field(default_factory=list)
    changed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rescoped: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)


def play_month(sim: Simulator, psa: str, n: int = 500, change: float = 0.15, rescope: int = 0,
               seed: int = 7, by_workflow: int = 0) -> Month:
    """``n`` tickets categorized two hours ago (mode apply, confidence spread over 0.5-1.0); ``change`` of them
    get another category from a technician an hour later (in the PSA's history); ``rescope`` more are moved to
    the other scope; every ticket closes half an hour ago. The first ``by_workflow`` changes are a workflow
    rule's, not a technician's."""
    rng = random.Random(seed)
    scope, other = SCOPES[psa]
    paths = sorted(sim.valid_paths(scope))
    month = Month()
    outcomes = []
    now = datetime.now(UTC)
    n_change = round(n * change)
    for i in range(n):
        path = paths[i % len(paths)]
        summary = f"ticket {i}: {' '.join(path).lower()} problem number {i}"
        tid = sim.create_ticket(summary, f"details of {summary}", scope, path)
        month.texts[tid] = summary
        outcomes.append(OutcomeRecorded(
            tenant="acme", psa=PSAKind(psa), ticket_id=tid, occurred_at=now - timedelta(hours=2),
            finished_at=now - timedelta(hours=2), action=Action.APPLIED, mode="apply", scope=str(scope),
            category=" > ".join(path), confidence=0.5 + 0.5 * rng.random(), model="local-test",
        ))
        if i < n_change:
            final = paths[(i % len(paths) + 1 + rng.randrange(len(paths) - 1)) % len(paths)]
            sim.set_category(tid, final, by=WORKFLOW if i < by_workflow else TECHNICIAN, at=now - timedelta(hours=1))
            month.changed[tid] = final
        moved = n_change <= i < n_change + rescope
        if moved:
            month.rescoped.add(tid)
        sim.close_ticket(tid, hours=0.25 + (i % 4) * 0.5, closed_at=now - timedelta(minutes=30),
                         scope=other if moved else None)
    month.decisions = decisions_of(outcomes)
    return month


def write_tenants(sim: Simulator, path: Path, extra_llm: dict[str, object] | None = None) -> dict[str, str]:
    """A tenants file with one tenant ``acme`` on the simulator; returns the secrets' environment."""
    import yaml

    entry, env = sim.tenant_config("acme")
    if extra_llm:
        entry["llm"] = extra_llm
    path.write_text(yaml.safe_dump({"tenants": [entry]}))
    return env
