"""``autotriage backfill``: closed history through the tenant's classifier in shadow mode, so reports can use
consistent categories for the past. Nothing is written to the PSA. Rate-limited, capped in USD, resumable
(tickets already in the decision log are skipped), with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from autotriage.core.models import Taxonomy, Verdict
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, TenantsFile, load_tenants
from autotriage.feedback.closed import read_closed
from autotriage.feedback.decisions import BusDecisionLog, DecisionLog, JsonlDecisionLog
from autotriage.feedback.runs import Window, local_decision_log, tenant_of
from autotriage.policy.feedback import Decision

#: The mode backfilled decisions carry (feedback reports them apart from live shadow mode).
MODE = "backfill"
CHECKPOINT = 25


@dataclass(frozen=True)
class BackfillResult:
    """What a run did."""

    closed: int
    already: int
    classified: int
    usd: float
    stopped_by_budget: bool


async def backfill(tenant: Tenant, tenants: TenantsFile, window: Window, log: DecisionLog, *, rate: float,
                   max_usd: float | None, console: Console) -> BackfillResult:
    """See the module docstring."""
    from autotriage.classifiers import make_classifier  # noqa: PLC0415 - loaded when the command runs
    from autotriage.psa.registry import make_client  # noqa: PLC0415 - loaded when the command runs

    closed = [c for c in await read_closed(tenant, window.since, window.until, with_text=True) if c.ticket.scope]
    done = await log.load(tenant.id)
    todo = [c for c in closed if c.ticket.id not in done]
    classifier = make_classifier(tenant, tenants)
    client = make_client(tenant)
    taxonomies: dict[str, Taxonomy] = {}
    pending: list[Decision] = []
    usd, classified, over_budget = 0.0, 0, False
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"backfilling {tenant.id}", total=len(todo))
            for item in todo:
                if max_usd is not None and usd >= max_usd:
                    over_budget = True
                    break
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                next_at = max(next_at, loop.time()) + 1.0 / rate
                ticket = item.ticket
                if ticket.scope not in taxonomies:
                    taxonomies[ticket.scope] = await client.fetch_taxonomy(ticket.scope)
                result = await classifier.classify(ticket, taxonomies[ticket.scope])
                usd += result.usage.cost_usd
                chosen = result.candidate if result.verdict is Verdict.CHOSEN else None
                pending.append(Decision(
                    tenant=tenant.id, ticket_id=ticket.id, psa=tenant.psa.kind.value, scope=ticket.scope,
                    action="shadow" if chosen else "skipped", mode=MODE, path=chosen.path if chosen else (),
                    confidence=result.confidence, model=result.model,
                    decided_at=item.closed_at or window.until))
                classified += 1
                if len(pending) >= CHECKPOINT:
                    await log.record(pending)
                    pending = []
                progress.advance(task)
    finally:
        if pending:
            await log.record(pending)  # what was classified is kept, so a rerun resumes after it
        await client.close()
        await classifier.close()
    return BackfillResult(len(closed), len(closed) - len(todo), classified, usd, over_budget)


async def _run(args: argparse.Namespace, settings: Settings, console: Console) -> BackfillResult:
    tenants = load_tenants(settings.tenants_file)
    tenant = tenant_of(settings, args.tenant)
    window = Window.last(args.since)
    if args.decisions is not None:
        return await backfill(tenant, tenants, window, JsonlDecisionLog(Path(args.decisions)), rate=args.rate,
                              max_usd=args.max_usd, console=console)
    if settings.bus != "kafka":  # decisions.jsonl (resumable), read together with the pipeline's outcomes file
        return await backfill(tenant, tenants, window, local_decision_log(settings), rate=args.rate,
                              max_usd=args.max_usd, console=console)
    from autotriage.app import make_bus  # noqa: PLC0415 - loaded when the command runs
    from autotriage.core.bus.topics import Topics  # noqa: PLC0415 - loaded when the command runs

    bus = make_bus(settings, client_id="autotriage-backfill")
    await bus.start()
    try:
        log = BusDecisionLog(bus, Topics(settings.topic_prefix), settings.partitions)
        await log.ensure()
        return await backfill(tenant, tenants, window, log, rate=args.rate, max_usd=args.max_usd, console=console)
    finally:
        await bus.stop()


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Backfill and print what was done."""
    console = console or Console()
    result = asyncio.run(_run(args, settings, console))
    console.print(f"{args.tenant}: {result.closed} closed tickets, {result.already} already decided, "
                  f"{result.classified} classified in shadow mode, USD {result.usd:.4f}")
    if result.stopped_by_budget:
        console.print(f"[yellow]stopped at the --max-usd budget ({args.max_usd}); run again to continue[/yellow]")
    return 0
