"""``autotriage demo``: the whole product in one process, no Kafka, no credentials, in well under a minute.

Three simulated MSP tenants (HaloPSA, ConnectWise PSA, Datto Autotask: protocol-faithful simulators on
127.0.0.1, seeded with the bundled history), a local model per tenant trained on that history at start (or
OpenAI / Azure OpenAI behind it as a cascade when their environment variables are set), the in-memory bus,
and the bundled new tickets sent as each PSA's real webhook through ingress and all five stages.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from autotriage.app import STAGES, build_host
from autotriage.commands.common import PSAS, labelled, llm_from_env
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.settings import Settings
from autotriage.core.tenants import TenantsFile
from autotriage.local.evaluation import percentile
from autotriage.local.store import ModelMeta, read_meta
from autotriage.sandbox.common import SampleTicket, Simulator, load_sample
from autotriage.sandbox.registry import make_simulator

TENANT_IDS = {"halo": "bayside", "connectwise": "cobalt", "autotask": "kessler"}
SUMMARY_CHARS = 40
WIDE_COLUMNS = 130


@dataclass
class DemoRow:
    """One new ticket of the demo and what happened to it."""

    tenant: str
    psa: str
    ticket_id: str
    sample: SampleTicket
    outcome: OutcomeRecorded | None = None

    @property
    def truth(self) -> str:
        """The bundled label (``""`` for noise)."""
        return " > ".join(self.sample.category) if self.sample.category else ""

    @property
    def correct(self) -> bool:
        """Whether the category the pipeline chose is the bundled label."""
        return self.outcome is not None and bool(self.truth) and self.outcome.category == self.truth

    @property
    def action(self) -> str:
        """Applied / suggested / needs-triage / skipped-noise / skipped / failed / no outcome."""
        if self.outcome is None:
            return "no outcome"
        action = self.outcome.action.value.replace("_", "-")
        if action == "skipped" and self.outcome.reason.startswith("noise"):
            return "skipped-noise"
        return action


@dataclass
class DemoResult:
    """The demo's rows and summary figures."""

    rows: list[DemoRow]
    provider: str
    models: dict[str, ModelMeta] = field(default_factory=dict)
    wall_s: float = 0.0
    training_s: float = 0.0
    #: Per tenant, a few lines of ``autotriage insights`` over the simulators' closed tickets.
    insights: dict[str, list[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every new ticket reached an outcome."""
        return all(r.outcome is not None for r in self.rows)

    @property
    def accuracy(self) -> float:
        """Share of labelled tickets whose chosen category is the bundled label."""
        labelled_rows = [r for r in self.rows if r.truth]
        return sum(r.correct for r in labelled_rows) / len(labelled_rows) if labelled_rows else 0.0

    @property
    def counts(self) -> Counter[str]:
        """Tickets by action."""
        return Counter(r.action for r in self.rows)

    @property
    def usd(self) -> float:
        """LLM spend."""
        return sum(r.outcome.usage.cost_usd for r in self.rows if r.outcome)

    def latency(self, q: float) -> float:
        """Webhook receipt to outcome, ``q``-th percentile in seconds."""
        values = [(r.outcome.finished_at - r.outcome.occurred_at).total_seconds() for r in self.rows if r.outcome]
        return percentile(values, q)


# --- training (in worker processes: the three models train in parallel) -----------------------------------
def train_sample_model(psa: str, folder: str, history_limit: int | None = None) -> str:
    """Train one PSA's demo model on its bundled history and save it; return the file path."""
    from autotriage.local.store import save_model  # noqa: PLC0415 - optional extra `local`
    from autotriage.local.training import train_model  # noqa: PLC0415 - optional extra `local`

    history = labelled(load_sample(psa).history)[:history_limit]
    model = train_model(history, tenant=TENANT_IDS[psa], psa=psa)
    return str(save_model(model, Path(folder) / f"{TENANT_IDS[psa]}.joblib"))


async def train_models(psas: Sequence[str], folder: Path, console: Console,
                       history_limit: int | None = None) -> dict[str, Path]:
    """Train the demo models, in parallel processes where the machine has cores for it."""
    loop = asyncio.get_running_loop()
    order = sorted(psas, key=lambda p: p != "connectwise")  # the largest history first
    workers = max(1, min(len(order), os.cpu_count() or 1))
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        progress.add_task(f"training the local models on the bundled history ({', '.join(order)})", total=None)
        if workers > 1:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                paths = await asyncio.gather(*(loop.run_in_executor(pool, train_sample_model, psa, str(folder),
                                                                    history_limit) for psa in order))
        else:
            paths = [await asyncio.to_thread(train_sample_model, psa, str(folder), history_limit) for psa in order]
    return {psa: Path(path) for psa, path in zip(order, paths, strict=True)}


# --- tenants ---------------------------------------------------------------------------------------------
def tenants_for(sims: Mapping[str, Simulator], models: Mapping[str, Path], metas: Mapping[str, ModelMeta],
                llm: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Tenants-file entries for the simulators (mode apply) and the secrets they reference."""
    entries: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}
    for psa, sim in sims.items():
        entry, env = sim.tenant_config(TENANT_IDS[psa])
        secrets.update(env)
        if llm is None:
            entry["llm"] = {"provider": "local", "model": "local", "local_model_path": str(models[psa])}
            measured = metas[psa].threshold
            apply = min(0.95, max(0.8, measured if measured is not None else 0.9))
        else:
            entry["llm"] = {**llm, "local_model_path": str(models[psa]), "few_shot": 3}
            apply = 0.8
        entry["name"] = f"{TENANT_IDS[psa]} (simulated {psa})"
        entry["policy"] = {"mode": "apply", "apply_threshold": round(apply, 3), "suggest_threshold": 0.5}
        entries.append(entry)
    return entries, secrets


# --- the run ---------------------------------------------------------------------------------------------
async def _start_simulators(psas: Sequence[str]) -> dict[str, Simulator]:
    sims = {psa: make_simulator(psa) for psa in psas}
    for sim in sims.values():
        await sim.start("127.0.0.1", 0)
    return sims


async def _send(sim: Simulator, ingress: str, tenant: str, ids: list[str], console: Console) -> None:
    for ticket_id in ids:
        status = await sim.send_created_webhook(ingress, tenant, [ticket_id])
        if status >= 300:
            console.print(f"[yellow]{sim.psa.value}: ingress answered {status} for ticket {ticket_id}[/yellow]")


async def _collect(bus: MemoryBus, topic: str, rows: list[DemoRow], console: Console, timeout_s: float) -> None:
    by_key = {(r.tenant, r.ticket_id): r for r in rows}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("tickets through ingress > normalizer > taxonomy > classifier > writer",
                                 total=len(rows))
        deadline = time.monotonic() + timeout_s
        while True:
            for record in bus.records(topic):
                outcome = decode(record.value, OutcomeRecorded)
                row = by_key.get((outcome.tenant, outcome.ticket_id))
                if row is not None and row.outcome is None:
                    row.outcome = outcome
            done = sum(1 for r in rows if r.outcome is not None)
            progress.update(task, completed=done)
            if done == len(rows) or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)


async def run_demo(
    console: Console | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    force_local: bool = False,
    timeout_s: float = 45.0,
    psas: Sequence[str] = PSAS,
    history_limit: int | None = None,
) -> DemoResult:
    """Run the demo and print its tables; see the module docstring."""
    console = console or Console()
    environ = os.environ if environ is None else environ
    started = time.perf_counter()
    llm = None if force_local else llm_from_env(environ)
    provider = "local model" if llm is None else f"{llm['provider']} {llm['model']} + local model (cascade)"
    console.print(f"[bold]autotriage demo[/bold]: {len(psas)} simulated MSP tenants, in-memory bus, {provider}")
    with tempfile.TemporaryDirectory(prefix="autotriage-demo-") as folder:
        sims_task = asyncio.create_task(_start_simulators(psas))
        try:
            models = await train_models(psas, Path(folder), console, history_limit)
        finally:
            sims = await sims_task
        training_s = time.perf_counter() - started
        metas = {psa: read_meta(path)[0] for psa, path in models.items()}
        try:
            entries, secrets = tenants_for(sims, models, metas, llm)
            tenants = TenantsFile.model_validate({"tenants": entries})
            tenants.resolve_secrets({**environ, **secrets})
            settings = Settings(bus="memory", http_host="127.0.0.1", http_port=0)
            bus = MemoryBus()
            host = build_host(settings, tenants, STAGES, bus=bus)
            await host.start()
            try:
                rows = [DemoRow(TENANT_IDS[psa], psa, sim.create_ticket(t.summary, t.details, t.scope), t)
                        for psa, sim in sims.items() for t in _new_tickets(psa)]
                ingress = f"http://127.0.0.1:{host.bound_port}"
                sending = asyncio.gather(*(
                    _send(sim, ingress, TENANT_IDS[psa], [r.ticket_id for r in rows if r.psa == psa], console)
                    for psa, sim in sims.items()))
                await _collect(bus, Topics.of(settings).name(TICKETS_OUTCOMES), rows, console, timeout_s)
                await sending
            finally:
                await host.stop()
            insights = await _insights(tenants)
        finally:
            for sim in sims.values():
                await sim.stop()
    result = DemoResult(rows, provider, metas, time.perf_counter() - started, training_s, insights)
    print_result(console, result)
    return result


async def _insights(tenants: TenantsFile) -> dict[str, list[str]]:
    """``autotriage insights --since 90d`` per tenant, summarized."""
    from autotriage.commands.insights import tenant_insights  # noqa: PLC0415 - the summary's modules load after the demo ran
    from autotriage.feedback.insights import summary_lines  # noqa: PLC0415 - the summary's modules load after the demo ran
    from autotriage.feedback.runs import Window  # noqa: PLC0415 - the summary's modules load after the demo ran

    window = Window.last("90d")
    found = await asyncio.gather(*(tenant_insights(t, window) for t in tenants.tenants))
    return {t.id: summary_lines(i) for t, i in zip(tenants.tenants, found, strict=True)}


def _new_tickets(psa: str) -> list[SampleTicket]:
    return load_sample(psa).new


# --- output ----------------------------------------------------------------------------------------------
_ACTION_STYLE = {"applied": "green", "suggested": "cyan", "needs-triage": "yellow", "skipped-noise": "dim",
                 "no outcome": "red", "failed": "red"}


def print_result(console: Console, result: DemoResult) -> None:
    """The results table and the summary."""
    wide = console.width >= WIDE_COLUMNS  # the summary column only where it fits; nothing collapses at 80
    tenants = sorted({(r.tenant, r.psa) for r in result.rows}, key=lambda t: t[1])
    title = "results (" + ", ".join(f"{tenant} = {psa}" for tenant, psa in tenants) + ")"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("tenant:ticket", no_wrap=True)
    if wide:
        table.add_column("summary", no_wrap=True, overflow="ellipsis", max_width=SUMMARY_CHARS)
    table.add_column("category", overflow="fold", min_width=16, ratio=1)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("label", justify="center", no_wrap=True)
    for row in result.rows:
        outcome = row.outcome
        mark = "noise" if not row.truth else ("[green]✓[/green]" if row.correct else "[red]✗[/red]")
        style = _ACTION_STYLE.get(row.action, "")
        confidence = f"{outcome.confidence:.2f}" if outcome and outcome.category else ""
        cells = [f"{row.tenant}:{row.ticket_id}", *([row.sample.summary] if wide else []),
                 outcome.category if outcome else "", confidence,
                 f"[{style}]{row.action}[/{style}]" if style else row.action, mark]
        table.add_row(*cells)
    console.print(table)
    summary = Table(title="summary", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    labelled_rows = [r for r in result.rows if r.truth]
    applied = [r for r in result.rows if r.action == "applied"]
    summary.add_row("classifier", result.provider)
    for psa, meta in result.models.items():
        threshold = "-" if meta.threshold is None else f"{meta.threshold:.2f}"
        accuracy = "-" if meta.holdout_accuracy is None else f"{meta.holdout_accuracy:.1%}"
        summary.add_row(f"model {psa}", f"{meta.n_examples} past tickets, {len(meta.labels)} categories, held-out "
                        f"accuracy {accuracy}, 95%-precision threshold {threshold}")
    summary.add_row("accuracy vs bundled labels",
                    f"{result.accuracy:.1%} ({sum(r.correct for r in labelled_rows)}/{len(labelled_rows)} labelled)")
    if applied:
        summary.add_row("precision of applied", f"{sum(r.correct for r in applied) / len(applied):.1%} "
                        f"({len(applied)} applied)")
    summary.add_row("tickets by action", ", ".join(f"{k} {v}" for k, v in result.counts.most_common()))
    summary.add_row("USD spent", f"{result.usd:.4f}")
    summary.add_row("latency p50 / p95", f"{result.latency(50):.2f} s / {result.latency(95):.2f} s "
                    "(webhook receipt to outcome)")
    summary.add_row("wall time", f"{result.wall_s:.1f} s (training {result.training_s:.1f} s)")
    console.print(summary)
    if result.insights:
        insights = Table(title="insights: closed tickets of the last 90 days (autotriage insights --tenant T "
                         "--report insights.md for the full report with charts)", show_header=False)
        insights.add_column(style="bold", no_wrap=True)
        insights.add_column()
        for tenant, lines in result.insights.items():
            insights.add_row(tenant, "\n".join(lines))
        console.print(insights)


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Run the demo; exit code 1 when a ticket did not reach an outcome."""
    logging.getLogger().setLevel(logging.WARNING)
    result = asyncio.run(run_demo(console, force_local=args.local, timeout_s=args.timeout))
    return 0 if result.complete else 1
