#!/usr/bin/env python3
"""Prompt benchmark: the production classifier prompt against a naive one, on a ConnectWise-like board.

Both run through the real ``openai`` SDK against the local ``OpenAITestServer`` (token counts with the offline
cl100k tokenizer, prompt caching simulated like the real service: >= 1,024-token prefixes, 128-token steps).

- structured: ``OpenAIClassifier`` - static instructions and taxonomy first, ticket last (cleaned, trimmed),
  strict json_schema with the candidate ids as an enum, ``prompt_cache_key`` per tenant.
- structured + short ids: the same with ``OpenAIClassifier.short_ids`` (``c1``..``cN`` shown instead of PSA ids).
- naive: one user message - the raw ticket first, then the taxonomy listed after it, no schema, free-text JSON.
- cascade + shortlist: the product's default with a local model: it decides the tickets it is confident about
  (its stored threshold), the rest go to the LLM with the shortlist.
- shortlist: the structured prompt with only the local model's top-k candidates plus the catch-alls (k stored
  with the model: measured on its own held-out split at training), a full-list retry when the stand-in model
  abstains, picks the added catch-all or is unsure; every ticket goes to the LLM (no local short-cut), so the
  column compares like with like. The local model is trained on the board's history minus the bench tickets.

"USD ... no cache hits" prices every prompt token at the full input price (a cold cache: a tenant's first
tickets, or a shortlist whose prefix differs per ticket). With a path to the public IT-service-tickets CSV
(``Document``, ``Topic_group``) a second table compares full list and shortlist on its 8 classes (trained on a
deterministic 80 %, 200 held-out tickets classified).

Prints tokens per ticket, the cached share on a steady stream, and USD per 1,000 tickets at gpt-4o-mini and
gpt-4.1-nano prices (token counts are the same for both; only the price table differs). The "label agreement"
row uses the server's word-overlap stand-in model: it shows that answers stay usable, not model quality.

    python3 tools/bench_prompt.py [--tickets 200] [PATH/TO/it-service-tickets/tickets.csv]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import openai
from rich.console import Console
from rich.table import Table

from autotriage.cascade import CascadeClassifier
from autotriage.commands.common import labelled
from autotriage.core.cost import cost_usd, usage_from_openai
from autotriage.core.models import Candidate, PSAKind, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.tenants import DEFAULT_PRICES, Price, parse_tenants
from autotriage.core.text.prepare import prepare_ticket_text
from autotriage.core.text.tokens import count_tokens
from autotriage.llm.answer import parse_answer
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.llm.shortlist import FULL_LIST_REASON
from autotriage.local.dataset import LabelledTicket, holdout_split
from autotriage.local.provider import LocalClassifier
from autotriage.local.training import TrainingConfig, train_model
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
    in_shortlist: int = 0
    shortlisted: int = 0
    full_list_retries: int = 0
    llm_calls: int = 0

    def add(self, usage: Usage, picked: tuple[str, ...] | None, label: tuple[str, ...] | None) -> None:
        self.usages.append(usage)
        self.valid += picked is not None
        self.agree += picked is not None and picked == label

    def per_ticket(self, attr: str) -> float:
        return float(sum(getattr(u, attr) for u in self.usages)) / len(self.usages)

    def cached_share(self) -> float:
        prompt = sum(u.prompt_tokens for u in self.usages)
        return sum(u.cached_tokens for u in self.usages) / prompt if prompt else 0.0

    def usd_per_1000(self, price: Price, cache: bool = True) -> float:
        total = sum(cost_usd(u.prompt_tokens, u.cached_tokens if cache else 0, u.completion_tokens, price)
                    for u in self.usages)
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


def bench_classifier(url: str, name: str) -> OpenAIClassifier:
    """The production classifier for a bench tenant on the test server."""
    os.environ.setdefault(KEY_ENV, "sk-bench")
    os.environ.setdefault("BENCH_HALO_SECRET", "x")
    os.environ.setdefault("BENCH_HALO_HOOK", "x")
    tenants = parse_tenants(f"""
tenants:
  - id: {name}
    psa: {{kind: halo, base_url: "https://bench.halopsa.example", client_id: bench,
           client_secret: {{env: BENCH_HALO_SECRET}}}}
    webhook: {{username: hook, password: {{env: BENCH_HALO_HOOK}}}}
    llm: {{provider: openai, model: {MODEL}, base_url: "{url}/v1", api_key: {{env: {KEY_ENV}}}}}
""")
    return OpenAIClassifier(tenants.tenants[0], tenants.price(MODEL))


async def run_structured(url: str, taxonomy: Taxonomy, tickets: list[SampleTicket], *, short_ids: bool,
                         name: str = "") -> Run:
    classifier = bench_classifier(url, f"bench{'-short' if short_ids else ''}")
    classifier.short_ids = short_ids
    run = Run(name or ("structured + short ids" if short_ids else "structured (default)"))
    try:
        for sample in tickets:
            result = await classifier.classify(as_ticket(sample, taxonomy), taxonomy)
            picked = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
            run.add(result.usage, picked, sample.category)
    finally:
        await classifier.close()
    return run


def as_ticket(sample: SampleTicket, taxonomy: Taxonomy) -> Ticket:
    return Ticket(id=sample.id, scope=taxonomy.scope, summary=sample.summary, description=sample.details,
                  source=sample.source)


async def run_shortlist(url: str, taxonomy: Taxonomy, tickets: list[SampleTicket], local: LocalClassifier,
                        *, cascade_threshold: float | None = None) -> Run:
    """Every ticket through the LLM with the local model's shortlist (the cascade with its local short-cut off),
    or with ``cascade_threshold`` the product's default: the local model decides its confident tickets."""
    k = local.meta.shortlist_k
    run = Run(f"shortlist (k={k})" if cascade_threshold is None else "cascade + shortlist")
    name = "bench-shortlist" if cascade_threshold is None else "bench-cascade"
    cascade = CascadeClassifier(name, local, bench_classifier(url, name), threshold=cascade_threshold,
                                shortlist_k=k)
    try:
        for sample in tickets:
            ticket = as_ticket(sample, taxonomy)
            shortlist = cascade.shortlist(local.predict(ticket, taxonomy), taxonomy)
            if shortlist is not None:
                run.shortlisted += 1
                run.in_shortlist += any(c.path == sample.category for c in shortlist.candidates)
            result = await cascade.classify(ticket, taxonomy)
            run.llm_calls += result.usage.calls > 0
            run.full_list_retries += result.reason == FULL_LIST_REASON or result.usage.calls > 1
            picked = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
            run.add(result.usage, picked, sample.category)
    finally:
        await cascade.close()
    return run


def train_local(history: list[LabelledTicket], exclude: set[str]) -> LocalClassifier:
    """The local model the product would train, on the history without the bench tickets."""
    model = train_model([t for t in history if t.id not in exclude], tenant="bench")
    return LocalClassifier(model)


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


def render(runs: list[Run], title: str, console: Console) -> None:
    table = Table(title=title)
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
    for model in PRICED:
        price = DEFAULT_PRICES[model]
        rows.append((f"  no cache hits @ {model}", [f"${r.usd_per_1000(price, cache=False):.4f}" for r in runs]))
    rows += [
        ("truth in the shortlist (top-k recall)",
         [f"{r.in_shortlist / r.shortlisted:.1%}" if r.shortlisted else "-" for r in runs]),
        ("tickets sent to the LLM", [f"{r.llm_calls / len(r.usages):.1%}" if r.shortlisted else "100%" for r in runs]),
        ("full-list retries", [f"{r.full_list_retries / len(r.usages):.1%}" if r.shortlisted else "-" for r in runs]),
    ]
    for label, values in rows:
        table.add_row(label, *values)
    console.print(table)


def recall_line(local: LocalClassifier) -> str:
    meta = local.meta
    curve = ", ".join(f"{k}: {r:.1%}" for k, r in enumerate(meta.topk_recall, 1) if k <= 10 or k % 5 == 0)
    return (f"local model: {meta.n_examples} tickets, {len(meta.labels)} categories, top-1 {meta.holdout_accuracy:.1%}"
            f" held out; top-k recall (held out at training) {curve}; stored k = {meta.shortlist_k}")


def print_ratio(console: Console, runs: list[Run], full: Run, shortlist: Run) -> None:
    ratio = shortlist.per_ticket("prompt_tokens") / full.per_ticket("prompt_tokens")
    cold = shortlist.usd_per_1000(DEFAULT_PRICES[MODEL], cache=False)
    console.print(f"shortlist vs {full.name}: {ratio:.1%} of the prompt tokens per ticket (target <= 33.3%), "
                  f"${cold:.4f} per 1,000 tickets @ {MODEL} with no cache hits (target <= $0.10)")


async def main(count: int, it_csv: Path | None) -> None:
    taxonomy, by_path = board_taxonomy()
    tickets = sample_tickets(taxonomy.scope, count)
    console = Console(width=140)
    local = train_local(labelled(load_sample(PSAKind.CONNECTWISE).history), {t.id for t in tickets})
    console.print(recall_line(local))
    async with OpenAITestServer() as server:
        runs = [await run_structured(server.base_url, taxonomy, tickets, short_ids=False),
                await run_structured(server.base_url, taxonomy, tickets, short_ids=True),
                await run_naive(server.base_url, taxonomy, by_path, tickets)]
        server.reset()
        runs.append(await run_shortlist(server.base_url, taxonomy, tickets, local))
        server.reset()
        runs.append(await run_shortlist(server.base_url, taxonomy, tickets, local,
                                        cascade_threshold=local.meta.threshold))
    render(runs, f"{len(tickets)} tickets, ConnectWise '{BOARD}' board, {len(taxonomy.candidates)} type/subtype/item "
           "candidates", console)
    naive = runs[2]
    raw = sum(naive.ticket_tokens) / len(naive.ticket_tokens)
    cleaned = sum(naive.cleaned_tokens) / len(naive.cleaned_tokens)
    console.print(f"Ticket text (summary + description): {raw:.0f} tokens raw (naive prompt), {cleaned:.0f} after "
                  "llm/clean.py (structured prompts: quoted replies, signatures, disclaimers removed).")
    print_ratio(console, runs, runs[0], runs[3])
    if it_csv is not None:
        await it_tickets(it_csv, count, console)


def read_it_tickets(path: Path) -> list[LabelledTicket]:
    """The public IT-service-tickets CSV: ``Document`` -> description, ``Topic_group`` -> a one-level path."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [LabelledTicket(summary="", description=row["Document"], path=(row["Topic_group"],), id=f"it{n}")
                for n, row in enumerate(csv.DictReader(fh))]


async def it_tickets(path: Path, count: int, console: Console) -> None:
    """Full list vs shortlist on the public IT ticket set (its 8 classes as the taxonomy)."""
    rows = read_it_tickets(path)
    train, held = holdout_split(rows, 0.2, seed="yardstick")
    console.print(f"\nIT-service-tickets: training the local model on {len(train):,} tickets ...")
    local = LocalClassifier(train_model(train, tenant="bench-it", config=TrainingConfig(keep_neighbours=False)))
    console.print(recall_line(local))
    classes = sorted({r.path for r in rows if r.path})
    taxonomy = Taxonomy(tenant="bench", psa=PSAKind.HALO, scope="it", scope_name="IT service desk",
                        candidates=tuple(Candidate(id=str(100 + n), path=p) for n, p in enumerate(classes)),
                        fetched_at=datetime.now(UTC))
    step = max(1, len(held) // count)
    tickets = [SampleTicket(id=e.id, scope=0, summary=e.summary, details=e.description, category=e.path)
               for e in held[::step][:count]]
    async with OpenAITestServer() as server:
        full = await run_structured(server.base_url, taxonomy, tickets, short_ids=False, name="full list")
        server.reset()
        short = await run_shortlist(server.base_url, taxonomy, tickets, local)
    render([full, short], f"{len(tickets)} held-out IT-service-tickets, {len(classes)} classes", console)
    print_ratio(console, [full, short], full, short)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("it_csv", nargs="?", type=Path, help="the public IT-service-tickets tickets.csv (optional)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tickets, arguments.it_csv))
