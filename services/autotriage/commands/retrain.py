"""``autotriage retrain``: learn the technicians' corrections; promote the new model only if it is better."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table

from autotriage.commands.learn import pull_history
from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant
from autotriage.feedback.retrain import RetrainResult, retrain
from autotriage.feedback.runs import Window, judged_in, tenant_of
from autotriage.local.dataset import LabelledTicket
from autotriage.policy.feedback import Verdict


async def gather(settings: Settings, tenant: Tenant, span: str, decisions: Path | None,
                 console: Console) -> tuple[list[LabelledTicket], list[LabelledTicket], set[str]]:
    """History, recent closed tickets (with text) and the ids of the corrected ones."""
    closed, judged = await judged_in(settings, tenant, Window.last(span), decisions, with_text=True)
    recent = [LabelledTicket(c.ticket.summary, c.ticket.description, c.ticket.category.path, c.ticket.scope,
                             c.ticket.id) for c in closed if c.ticket.category.is_set]
    corrected = {j.decision.ticket_id for j in judged if j.verdict is Verdict.CHANGED}
    history = await pull_history(tenant, console)
    return history, recent, corrected


def result_table(result: RetrainResult) -> Table:
    """What the run measured and whether it promoted."""
    table = Table(title="retraining", show_header=False)
    table.add_column(style="bold")
    table.add_column()

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    table.add_row("history tickets", str(result.n_history))
    table.add_row("recent closed tickets", f"{result.n_recent} ({result.n_corrections} corrected by technicians)")
    table.add_row("recent held-out tickets", str(result.n_holdout))
    table.add_row("current model on them", pct(result.current_accuracy))
    table.add_row("new model on them", pct(result.candidate_accuracy))
    table.add_row("promoted", f"yes: {result.model_id} ({result.versioned_path})" if result.promoted
                  else "no: the current model is at least as good")
    return table


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Retrain and print the comparison."""
    console = console or Console()
    tenant = tenant_of(settings, args.tenant)
    path = args.model or tenant.llm.local_model_path
    if path is None:
        raise ConfigError(f"tenant {tenant.id} has no llm.local_model_path: pass --model FILE or train one with "
                          "`autotriage learn`")
    history, recent, corrected = asyncio.run(gather(settings, tenant, args.since, args.decisions, console))
    with console.status("training"):
        result = retrain(history, recent, corrected, tenant=tenant.id, psa=tenant.psa.kind.value,
                         model_path=path, weight=args.weight)
    console.print(result_table(result))
    return 0
