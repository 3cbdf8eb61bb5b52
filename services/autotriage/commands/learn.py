"""``autotriage learn``: train a tenant's local model from its PSA's closed, categorized tickets (or a file)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, TenantsFile, load_tenants
from autotriage.local.dataset import LabelledTicket, read_labelled
from autotriage.local.store import LocalModel, save_model
from autotriage.local.training import LARGE_CATEGORY, TrainingConfig, train_model
from autotriage.psa.registry import make_client


def default_model_path(tenant: str, scope: str | None, now: datetime | None = None) -> Path:
    """``./models/<tenant>/<scope-or-all>-<YYYYmmdd-HHMMSS>.joblib``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return Path("models") / tenant / f"{scope or 'all'}-{stamp}.joblib"


async def pull_history(tenant: Tenant, console: Console, limit: int | None = None) -> list[LabelledTicket]:
    """Closed, categorized tickets from the tenant's PSA, with a progress bar."""
    client = make_client(tenant)
    rows: list[LabelledTicket] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"reading closed tickets from {tenant.psa.kind.value}", total=limit)
            async for item in client.history(limit):
                t = item.ticket
                rows.append(LabelledTicket(t.summary, t.description, item.path, t.scope, t.id))
                progress.advance(task)
    except NotImplementedError as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        await client.close()
    return rows


def summary_table(model: LocalModel, path: Path | None = None) -> Table:
    """What a training run produced."""
    meta = model.meta
    table = Table(title=f"local model for {meta.tenant}", show_header=False)
    table.add_column(style="bold")
    table.add_column()

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    refit = "; the saved model is refit on all" if meta.refit else ""
    table.add_row("examples", f"{meta.n_examples} (measured: {meta.n_train} train, {meta.n_holdout} held out{refit})")
    table.add_row("categories", str(len(meta.labels)))
    chosen = (f" (chosen by --algorithm auto: nb_svm_lowrank when the median category has {LARGE_CATEGORY:,} tickets "
              "or more, else linear_svc)") if meta.algorithm_auto else ""
    table.add_row("algorithm", meta.algorithm + chosen)
    table.add_row("held-out accuracy", pct(meta.holdout_accuracy))
    table.add_row("held-out macro-F1", pct(meta.holdout_macro_f1))
    if meta.threshold is None:
        why = meta.threshold_note or f"none reaches {meta.target_precision:.0%} precision"
        table.add_row("cascade threshold", f"none stored - {why}; every ticket goes to the LLM (set "
                      "llm.cascade_threshold to override)")
    else:
        table.add_row("cascade threshold", f"{meta.threshold:.3f} (precision {pct(meta.threshold_precision)}, at "
                      f"least {pct(meta.threshold_precision_lower)} with 97.5 % confidence; handles "
                      f"{pct(meta.threshold_coverage)} of tickets without the LLM; measured on fold models that never "
                      "saw the tickets)")
    if meta.shortlist_k is not None:
        recall = meta.topk_recall[meta.shortlist_k - 1]
        table.add_row("LLM shortlist", f"top {meta.shortlist_k} categories (held-out top-{meta.shortlist_k} recall "
                      f"{pct(recall)}; the LLM sees them plus the catch-alls, the full list only when unsure)")
    table.add_row("training data sha256", meta.data_sha256[:16] + "…")
    if path is not None:
        table.add_row("model file", str(path))
    return table


def _tenant(settings: Settings, tenant_id: str, required: bool) -> tuple[TenantsFile | None, Tenant | None]:
    if not required and not settings.tenants_file.exists():
        return None, None
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise ConfigError(f"tenant {tenant_id!r} is not in {settings.tenants_file}; known: "
                          f"{', '.join(t.id for t in tenants.tenants) or 'none'}")
    return tenants, tenant


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Train, print the summary, save the model."""
    console = console or Console()
    _, tenant = _tenant(settings, args.tenant, required=args.data is None)
    if args.data is not None:
        examples = read_labelled(args.data)
        console.print(f"read {len(examples)} tickets from {args.data}")
    else:
        if tenant is None:
            raise ConfigError("pass --tenant to pull its history from the PSA, or --data with labelled tickets")
        examples = asyncio.run(pull_history(tenant, console, args.limit))
    config = TrainingConfig(target_precision=args.target_precision, algorithm=args.algorithm)
    with console.status("training") as status:
        model = train_model(examples, tenant=args.tenant, psa=tenant.psa.kind.value if tenant else None,
                            scope=args.scope, config=config, progress=status.update)
    path = save_model(model, args.out or default_model_path(args.tenant, args.scope))
    console.print(summary_table(model, path))
    console.print(f"use it: set [bold]llm.local_model_path: {path}[/bold] for tenant {args.tenant} "
                  "(provider local, or openai/azure for the cascade)")
    return 0
