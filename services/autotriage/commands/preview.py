"""``autotriage preview``: exactly what the LLM would be sent for each ticket, before a tenant is switched on.

For every ticket: the noise verdict (kind and cue) under the tenant's policy, or the text the model would read
(cleaned, redacted when the policy says so, trimmed to the tenant's token budget), the placeholders by type, the
token count of that text and the estimated cost of the call (the candidate list is counted when ``--taxonomy``
is given or the ticket comes from the PSA). Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from autotriage.classifier.view import prompt_view
from autotriage.commands.evaluate import load_taxonomy_file
from autotriage.core.errors import AutotriageError, ConfigError
from autotriage.core.models import PSAKind, Taxonomy, Ticket
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, TenantsFile, load_tenants
from autotriage.core.text.tokens import count_tokens
from autotriage.local.dataset import LabelledTicket, read_labelled
from autotriage.policy.budget import estimate_usage
from autotriage.psa.registry import make_client

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def preview_ticket(ticket: Ticket, tenant: Tenant, tenants: TenantsFile, taxonomy: Taxonomy | None = None,
                   labelled: LabelledTicket | None = None) -> dict[str, Any]:
    """One ticket's preview as a JSON-ready object (see the module docstring)."""
    policy = tenant.policy.for_scope(ticket.scope)
    view = prompt_view(ticket, policy, tenant.llm.ticket_token_budget)
    out: dict[str, Any] = {"id": ticket.id, "noise": view.noise.kind if view.noise else None}
    if view.noise is not None:
        out |= {"noise_cue": view.noise.cue, "text": None, "redactions": {}, "tokens": 0, "cost_usd": 0.0}
    else:
        shown = view.ticket
        listed = taxonomy or Taxonomy(tenant=tenant.id, psa=PSAKind(tenant.psa.kind.value), scope=ticket.scope,
                                      candidates=(), fetched_at=ticket.created_at or EPOCH)
        usage = estimate_usage(shown, listed, tenant.llm, tenants.price(tenant.llm.model))
        out |= {
            "summary": shown.summary,
            "description": shown.description,
            "text": f"{shown.summary}\n\n{shown.description}".strip(),
            "redactions": dict(sorted(view.redactions.items())),
            "tokens": count_tokens(shown.summary) + count_tokens(shown.description),
            "prompt_tokens_estimate": usage.prompt_tokens,
            "cost_usd": round(usage.cost_usd, 8),
            "candidates_counted": taxonomy is not None,
        }
    if labelled is not None and labelled.noise_labelled:
        out["labelled_noise"] = labelled.noise
    if labelled is not None and labelled.path:
        out["labelled_category"] = " > ".join(labelled.path)
    return out


async def _from_psa(tenant: Tenant, ticket_id: str) -> tuple[Ticket, Taxonomy | None]:
    client = make_client(tenant)
    try:
        ticket = await client.fetch_ticket(ticket_id)
        try:
            taxonomy: Taxonomy | None = await client.fetch_taxonomy(ticket.scope)
        except AutotriageError:
            taxonomy = None  # the preview of the text does not need the candidates
        return ticket, taxonomy
    finally:
        await client.close()


def _print_human(console: Console, rows: Iterable[dict[str, Any]]) -> None:
    totals = {"tickets": 0, "noise": 0, "tokens": 0, "cost": 0.0, "agree": 0, "labelled": 0}
    for row in rows:
        totals["tickets"] += 1
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        if row["noise"]:
            totals["noise"] += 1
            head.add_row("noise", f"{row['noise']} ({row['noise_cue']}): not sent to the LLM")
        else:
            totals["tokens"] += row["tokens"]
            totals["cost"] += row["cost_usd"]
            redactions = ", ".join(f"{k} x{v}" for k, v in row["redactions"].items()) or "none"
            head.add_row("placeholders", redactions)
            cost_note = "" if row["candidates_counted"] else " (without the candidate list)"
            head.add_row("tokens", f"{row['tokens']} ticket text, ~{row['prompt_tokens_estimate']} prompt")
            head.add_row("estimated cost", f"${row['cost_usd']:.6f}{cost_note}")
        if "labelled_noise" in row:
            totals["labelled"] += 1
            totals["agree"] += row["labelled_noise"] == row["noise"]
            head.add_row("labelled noise", row["labelled_noise"] or "not noise")
        console.print(Panel(head, title=f"ticket {row['id']}", title_align="left"))
        if row["text"]:
            console.print(row["text"], markup=False, highlight=False)
        console.print()
    summary = (f"{totals['tickets']} tickets: {totals['noise']} noise, {totals['tokens']} ticket-text tokens, "
               f"~${totals['cost']:.4f} estimated")
    if totals["labelled"]:
        summary += f"; noise verdict agrees with the label on {totals['agree']}/{totals['labelled']}"
    console.print(summary)


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Print the preview of ``--ticket`` (read from the tenant's PSA) or of every ticket in ``--data``."""
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.get(args.tenant)
    if tenant is None:
        raise ConfigError(f"tenant {args.tenant!r} is not in {settings.tenants_file}: check --tenant")
    taxonomies: dict[str, Taxonomy] = {}
    if args.taxonomy is not None:
        taxonomies = load_taxonomy_file(args.taxonomy, tenant)
    if args.ticket is not None:
        ticket, fetched = asyncio.run(_from_psa(tenant, args.ticket))
        rows: Iterable[dict[str, Any]] = [
            preview_ticket(ticket, tenant, tenants, taxonomies.get(ticket.scope, fetched))]
    else:
        examples = read_labelled(args.data)
        rows = (preview_ticket(e.ticket(), tenant, tenants, taxonomies.get(e.scope), e) for e in examples)
    if args.json:
        try:
            for row in rows:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # piped into head: the reader has what it wanted
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    _print_human(console or Console(), rows)
    return 0
