"""``autotriage tune``: apply/suggest thresholds proposed from how often technicians kept autotriage's categories.

It prints; it never edits the tenants file (a person decides)."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from rich.console import Console
from rich.table import Table

from autotriage.core.settings import Settings
from autotriage.feedback.runs import Window, judged_in, tenant_of
from autotriage.policy.feedback import Judged
from autotriage.policy.tuning import Proposal, propose, propose_by_group


def _cell(p: Proposal | None, tickets: int, min_samples: int) -> str:
    if p is None and tickets < min_samples:
        return f"too few tickets ({tickets} < {min_samples})"
    if p is None:
        return "not reachable: agreement too low at every threshold"
    return (f"{p.threshold:.2f}  precision {p.precision:.1%} (>= {p.lower_bound:.1%} at 95%), "
            f"covers {p.coverage:.1%} ({p.tickets})")


def tune_table(counted: list[Judged], apply_precision: float, suggest_precision: float, min_samples: int,
               current: tuple[float, float]) -> Table:
    """Overall and per top-level category proposals."""
    conf = [j.decision.confidence for j in counted]
    ok = [j.agrees_at("full") for j in counted]
    table = Table(title=f"proposed thresholds from {len(counted)} judged tickets (min {min_samples} per threshold)")
    table.add_column("scope of the proposal")
    table.add_column(f"apply (precision >= {apply_precision:.0%})")
    table.add_column(f"suggest (precision >= {suggest_precision:.0%})")
    table.add_row("current tenants file", f"{current[0]:.2f}", f"{current[1]:.2f}")
    n = len(counted)
    table.add_row("all categories", _cell(propose(conf, ok, apply_precision, min_samples), n, min_samples),
                  _cell(propose(conf, ok, suggest_precision, min_samples), n, min_samples))
    tops = [j.decision.path[0] for j in counted]
    sizes = Counter(tops)
    applies = propose_by_group(tops, conf, ok, apply_precision, min_samples)
    suggests = propose_by_group(tops, conf, ok, suggest_precision, min_samples)
    for top in applies:
        table.add_row(f"top level: {top}", _cell(applies[top], sizes[top], min_samples),
                      _cell(suggests[top], sizes[top], min_samples))
    return table


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Print proposals next to the current thresholds."""
    console = console or Console()
    tenant = tenant_of(settings, args.tenant)
    _, judged = asyncio.run(judged_in(settings, tenant, Window.last(args.since), args.decisions))
    counted = [j for j in judged if j.counted]
    policy = tenant.policy
    console.print(tune_table(counted, args.apply_precision, args.suggest_precision, args.min_samples,
                             (policy.apply_threshold, policy.suggest_threshold)))
    console.print("nothing was changed: copy a threshold into policy.apply_threshold / policy.suggest_threshold "
                  "(or policy.scopes) of the tenants file to use it. Agreement on applied tickets can be "
                  "optimistic (a technician may leave a wrong category); shadow-mode tickets are unbiased.")
    return 0
