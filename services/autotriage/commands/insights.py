"""``autotriage insights``: the report MSPs categorize tickets for (see ``autotriage.feedback.insights``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console

from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant
from autotriage.feedback.closed import join, read_closed
from autotriage.feedback.insights import Insights, compute, summary_lines
from autotriage.feedback.runs import Window, load_decisions, tenant_of
from autotriage.policy.feedback import agreement


async def tenant_insights(tenant: Tenant, window: Window, decisions_settings: Settings | None = None,
                          decisions: Path | None = None) -> Insights:
    """Closed tickets of the window and the one before, the taxonomy of their scopes, keep rates if decisions
    are given."""
    from autotriage.psa.registry import make_client  # noqa: PLC0415 - loaded when the command runs

    current = await read_closed(tenant, window.since, window.until)
    before = window.previous()
    previous = await read_closed(tenant, before.since, before.until)
    client = make_client(tenant)
    paths: set[tuple[str, ...]] = set()
    try:
        for scope in sorted({c.ticket.scope for c in current if c.ticket.scope}):
            paths |= {c.path for c in (await client.fetch_taxonomy(scope)).candidates}
    finally:
        await client.close()
    report = None
    if decisions is not None and decisions_settings is not None:
        report = agreement(tenant.id, join(current, await load_decisions(decisions_settings, tenant.id, decisions)))
    return compute(tenant.id, current, previous, sorted(paths), report)


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Print a summary; write the Markdown report with charts when ``--report`` is given."""
    console = console or Console()
    tenant = tenant_of(settings, args.tenant)
    window = Window.last(args.since)
    insights = asyncio.run(tenant_insights(tenant, window, settings, args.decisions))
    for line in summary_lines(insights):
        console.print(f"{tenant.id}: {line}")
    if args.report is not None:
        from autotriage.feedback.insights_report import write_report  # noqa: PLC0415 - matplotlib (the report extra) only for --report

        written = write_report(insights, window, args.report)
        console.print("report: " + ", ".join(str(p) for p in written))
    return 0
