#!/usr/bin/env python3
"""Prompt benchmark: the production classifier prompt against a naive one, on a ConnectWise-like board.

Both run through the real ``openai`` SDK against the local ``OpenAITestServer`` (token counts with the offline
cl100k tokenizer, prompt caching simulated like the real service: >= 1,024-token prefixes, 128-token steps).

- structured: ``OpenAIClassifier`` - static instructions and taxonomy first, ticket last (cleaned, trimmed),
  strict json_schema with the candidate ids as an enum, ``prompt_cache_key`` per tenant.
- structured + short ids: the same with ``OpenAIClassifier.short_ids`` (``c1``..``cN`` shown instead of PSA ids).
- naive: one user message - the raw ticket first, then the taxonomy listed after it, no schema, free-text JSON.

Prints tokens per ticket, the cached share on a steady stream, and USD per 1,000 tickets at gpt-4o-mini and
gpt-4.1-nano prices (token counts are the same for both; only the price table differs). The "label agreement"
row uses the server's word-overlap stand-in model: it shows that answers stay usable, not model quality.

    python3 tools/bench_prompt.py [--tickets 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

import openai
from rich.console import Console
from rich.table import Table

from autotriage.core.models import Candidate, PSAKind, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.tenants import DEFAULT_PRICES, Price, parse_tenants
from autotriage.llm.answer import parse_answer
from autotriage.llm.cost import cost_usd, usage_from_openai
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.llm.text import count_tokens, prepare_ticket_text
from autotriage.sandbox.common import SampleTicket, load_sample
from autotriage.sandbox.openai_server import OpenAITestServer

BOARD = "Service Desk"
MODEL = "gpt-4o-mini"
PRICED = ("gpt-4o-mini", "gpt-4.1-nano")
KEY_ENV = "BENCH_OPENAI_API_KEY"


@dataclass
class Run:
    """Per-ticket usage of one prompt style."""

    name: str
    usages: list[Usage] = field(default_factory=list)
    valid: int = 0
    agree: int = 0
    ticket_tokens: list[int] = field(default_factory=list)
    cleaned_tokens: list[int] = field(default_factory=list)

    def add(self, usage: Usage, picked: tuple[str, ...] | None, label: tuple[str, ...] | None) -> None:
        self.usages.append(usage)
        self.valid += picked is not None
        self.agree += picked is not None and picked == label

    def per_ticket(self, attr: str) -> float:
        return float(sum(getattr(u, attr) for u in self.usages)) / len(self.usages)

    def cached_share(self) -> float:
        prompt = sum(u.prompt_tokens for u in self.usages)
        return sum(u.cached_tokens for u in self.usages) / prompt if prompt else 0.0

    def usd_per_1000(self, price: Price) -> float:
        total = sum(cost_usd(u.prompt_tokens, u.cached_tokens, u.completion_tokens, price) for u in self.usages)
        return total / len(self.usages) * 1000


def board_taxonomy() -> tuple[Taxonomy, dict[tuple[str, ...], Candidate]]:
    """The sample ConnectWise "Service Desk" board with CW-style ids (``t3-s9-i14``)."""
    scope = next(s for s in load_sample(PSAKind.CONNECTWISE).scopes if s["name"] == BOARD)
    numbers: dict[tuple[str, ...], int] = {}
    candidates = []
    for path in scope["paths"]:
        parts = [f"{'tsi'[depth]}{numbers.setdefault(tuple(path[: depth + 1]), len(numbers) + 1)}"
                 for depth in range(len(path))]
        candidates.append(Candidate(id="-".join(parts), path=tuple(path)))
    taxonomy = Taxonomy(tenant="bench", psa=PSAKind.CONNECTWISE, scope=str(scope["id"]), scope_name=BOARD,
                        candidates=tuple(candidates), fetched_at=datetime.now(UTC))
    return taxonomy, {c.path: c for c in candidates}


def sample_tickets(scope: str, count: int) -> list[SampleTicket]:
    data = load_sample(PSAKind.CONNECTWISE)
    return [t for t in data.history + data.new if str(t.scope) == scope and t.category][:count]


def naive_prompt(ticket: SampleTicket, taxonomy: Taxonomy) -> str:
    """What a first attempt usually looks like: raw ticket, then the categories, then the output request."""
    listing = "\n".join(f"- {c.id}: {' / '.join(c.path)}" for c in taxonomy.candidates)
    return (f"Please classify the following helpdesk ticket from one of our clients.\n\nSubject: {ticket.summary}\n\n"
            f"{ticket.details}\n\nThe ticket must be put into one of the categories of our {BOARD} board. These are "
            f"the categories we use, each with its id, type, subtype and item:\n{listing}\n\nRespond in JSON with "
            f"the keys category_id, confidence (0 to 1) and reasoning, and choose the category that fits best.")


async def run_structured(url: str, taxonomy: Taxonomy, tickets: list[SampleTicket], *, short_ids: bool) -> Run:
    os.environ.setdefault(KEY_ENV, "sk-bench")
    os.environ.setdefault("BENCH_HALO_SECRET", "x")
    os.environ.setdefault("BENCH_HALO_HOOK", "x")
    tenants = parse_tenants(f"""
tenants:
  - id: bench{"-short" if short_ids else ""}
    psa: {{kind: halo, base_url: "https://bench.halopsa.example", client_id: bench,
           client_secret: {{env: BENCH_HALO_SECRET}}}}
    webhook: {{username: hook, password: {{env: BENCH_HALO_HOOK}}}}
    llm: {{provider: openai, model: {MODEL}, base_url: "{url}/v1", api_key: {{env: {KEY_ENV}}}}}
""")
    classifier = OpenAIClassifier(tenants.tenants[0], tenants.price(MODEL))
    classifier.short_ids = short_ids
    run = Run("structured + short ids" if short_ids else "structured (default)")
    try:
        for sample in tickets:
            ticket = Ticket(id=sample.id, scope=taxonomy.scope, summary=sample.summary, description=sample.details,
                            source=sample.source)
            result = await classifier.classify(ticket, taxonomy)
            picked = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
            run.add(result.usage, picked, sample.category)
    finally:
        await classifier.close()
    return run


async def run_naive(url: str, taxonomy: Taxonomy, by_path: dict[tuple[str, ...], Candidate],
                    tickets: list[SampleTicket]) -> Run:
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-bench", max_retries=0)
    by_id = {c.id: c for c in by_path.values()}
    run = Run("naive")
    try:
        for sample in tickets:
            prompt = naive_prompt(sample, taxonomy)
            run.ticket_tokens.append(count_tokens(f"{sample.summary}\n{sample.details}"))
            summary, description = prepare_ticket_text(
                Ticket(id=sample.id, scope=taxonomy.scope, summary=sample.summary, description=sample.details), 1200)
            run.cleaned_tokens.append(count_tokens(f"{summary}\n{description}"))
            response = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}], temperature=0)
            answer = parse_answer(response.choices[0].message.content or "")
            candidate = by_id.get(answer.category_id) if answer else None
            run.add(usage_from_openai(response.usage, DEFAULT_PRICES[MODEL]), candidate.path if candidate else None,
                    sample.category)
    finally:
        await client.close()
    return run


def render(runs: list[Run], tickets: int, candidates: int, console: Console) -> None:
    table = Table(title=f"{tickets} tickets, ConnectWise '{BOARD}' board, {candidates} type/subtype/item candidates")
    table.add_column("metric")
    for run in runs:
        table.add_column(run.name, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("requests per ticket", [f"{r.per_ticket('calls'):.2f}" for r in runs]),
        ("prompt tokens / ticket", [f"{r.per_ticket('prompt_tokens'):,.0f}" for r in runs]),
        ("  of which cached", [f"{r.per_ticket('cached_tokens'):,.0f}" for r in runs]),
        ("cached share (steady stream)", [f"{r.cached_share():.1%}" for r in runs]),
        ("completion tokens / ticket", [f"{r.per_ticket('completion_tokens'):,.1f}" for r in runs]),
        ("valid answers", [f"{r.valid / len(r.usages):.1%}" for r in runs]),
        ("label agreement (stand-in model)", [f"{r.agree / len(r.usages):.1%}" for r in runs]),
    ]
    for model in PRICED:
        price = DEFAULT_PRICES[model]
        rows.append((f"USD / 1,000 tickets @ {model}", [f"${r.usd_per_1000(price):.4f}" for r in runs]))
    for label, values in rows:
        table.add_row(label, *values)
    console.print(table)


async def main(count: int) -> None:
    taxonomy, by_path = board_taxonomy()
    tickets = sample_tickets(taxonomy.scope, count)
    async with OpenAITestServer() as server:
        runs = [await run_structured(server.base_url, taxonomy, tickets, short_ids=False),
                await run_structured(server.base_url, taxonomy, tickets, short_ids=True),
                await run_naive(server.base_url, taxonomy, by_path, tickets)]
    console = Console(width=120)
    render(runs, len(tickets), len(taxonomy.candidates), console)
    naive = runs[-1]
    raw = sum(naive.ticket_tokens) / len(naive.ticket_tokens)
    cleaned = sum(naive.cleaned_tokens) / len(naive.cleaned_tokens)
    console.print(f"Ticket text (summary + description): {raw:.0f} tokens raw (naive prompt), {cleaned:.0f} after "
                  "llm/clean.py (structured prompts: quoted replies, signatures, disclaimers removed).")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=200)
    asyncio.run(main(parser.parse_args().tickets))
