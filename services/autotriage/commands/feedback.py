"""``autotriage feedback``: closed tickets against autotriage's decisions: agreement, corrections, metrics."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from prometheus_client import push_to_gateway, write_to_textfile
from rich.console import Console
from rich.table import Table

from autotriage.core import metrics
from autotriage.core.settings import Settings
from autotriage.feedback.attribution import (
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_HISTORY_RATE,
    Attribution,
    ChangedBy,
    attribute_for,
)
from autotriage.feedback.runs import Window, judged_in, tenant_of
from autotriage.policy.feedback import BUCKETS, LEVELS, AgreementReport, Verdict, agreement

#: Applied-category agreement a tenant should keep unless told otherwise (the alert fires below it).
DEFAULT_TARGET = 0.90


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def print_agreement(console: Console, report: AgreementReport, window: Window, closed: int) -> None:
    """Verdicts and agreement per mode and level, the reliability curve, the most frequent corrections."""
    console.print(f"[bold]{report.tenant}[/bold]: {closed} tickets closed {window.since:%Y-%m-%d %H:%M} .. "
                  f"{window.until:%Y-%m-%d %H:%M} UTC, {len(report.judged)} of them decided by autotriage")
    modes = sorted({mode for mode, _ in report.verdicts})
    table = Table(title="agreement with the final category, by mode")
    for name in ("mode", *[v.value for v in Verdict], *[f"agreement L{lv}" for lv in LEVELS]):
        table.add_column(name, justify="right")
    for mode in modes:
        table.add_row(mode, *[str(report.verdicts[(mode, v)]) for v in Verdict],
                      *[_pct(report.rate(mode, lv).ratio) for lv in LEVELS])
    console.print(table)
    curve = Table(title="reliability: agreement by confidence")
    for name in ("confidence", "tickets", "agreement"):
        curve.add_column(name, justify="right")
    for bucket in BUCKETS:
        rate = report.by_bucket.get(bucket)
        if rate and rate.total:
            curve.add_row(f"{bucket:.1f}-{bucket + 0.1:.1f}", str(rate.total), _pct(rate.ratio))
    console.print(curve)
    if report.confused:
        pairs = Table(title="technicians changed (autotriage -> final)")
        pairs.add_column("autotriage")
        pairs.add_column("final")
        pairs.add_column("tickets", justify="right")
        for (ours, theirs), count in report.confused.most_common(10):
            pairs.add_row(" > ".join(ours), " > ".join(theirs), str(count))
        console.print(pairs)


#: How the breakdown names each cause.
CAUSES = {ChangedBy.TECHNICIAN: "a technician", ChangedBy.AUTOMATION: "a workflow rule or API user",
          ChangedBy.RESCOPED: "re-scoped (moved to another board / queue / ticket type)",
          ChangedBy.UNKNOWN: "unknown (no history, unreadable, or over --history-limit)"}


def print_attribution(console: Console, attribution: Attribution) -> None:
    """Who changed autotriage's category on the disagreeing tickets, from the PSA's history."""
    counts = attribution.counts
    table = Table(title=f"who changed autotriage's category ({attribution.calls} history reads, "
                  f"limit {attribution.limit})")
    table.add_column("changed by")
    table.add_column("tickets", justify="right")
    for cause, label in CAUSES.items():
        table.add_row(label, str(counts[cause]))
    console.print(table)


def export_metrics(report: AgreementReport, target: float, attribution: Attribution | None = None) -> None:
    """Set the feedback gauges for the tenant (bounded labels only)."""
    tenant = report.tenant
    if attribution is not None:
        counts = attribution.counts
        for cause in ChangedBy:
            metrics.FEEDBACK_CHANGED_BY.labels(tenant, cause.value).set(counts[cause])
    for mode in {mode for mode, _ in report.verdicts}:
        for verdict in Verdict:
            metrics.FEEDBACK_TICKETS.labels(tenant, mode, verdict.value).set(report.verdicts[(mode, verdict)])
    for (mode, level), rate in report.by_mode.items():
        if rate.ratio is not None:
            metrics.FEEDBACK_AGREEMENT.labels(tenant, mode, level).set(rate.ratio)
    for bucket, rate in report.by_bucket.items():
        metrics.FEEDBACK_BUCKET_TICKETS.labels(tenant, f"{bucket:.1f}").set(rate.total)
        if rate.ratio is not None:
            metrics.FEEDBACK_BUCKET_AGREEMENT.labels(tenant, f"{bucket:.1f}").set(rate.ratio)
    metrics.FEEDBACK_TARGET.labels(tenant).set(target)
    metrics.FEEDBACK_LAST_RUN.labels(tenant).set(time.time())


def write_corrections(report: AgreementReport, path: Path) -> int:
    """The corrected tickets as labelled training data (JSONL: summary, details, category, scope, id)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in report.corrections:
            fh.write(json.dumps({"id": item.decision.ticket_id, "summary": item.summary, "details": item.description,
                                 "category": list(item.final_path), "scope": item.final_scope}) + "\n")
    return len(report.corrections)


async def feedback(settings: Settings, tenant_id: str, span: str, decisions: Path | None,
                   with_text: bool = False, history_limit: int = DEFAULT_HISTORY_LIMIT,
                   history_rate: float = DEFAULT_HISTORY_RATE) -> tuple[AgreementReport, Window, int, Attribution]:
    """Read, join and aggregate one tenant's closed tickets of the last ``span``; read the PSA's history of
    at most ``history_limit`` tickets whose category was changed, to tell who changed it."""
    tenant = tenant_of(settings, tenant_id)
    window = Window.last(span)
    closed, judged = await judged_in(settings, tenant, window, decisions, with_text=with_text)
    attribution = await attribute_for(tenant, judged, history_limit, history_rate)
    return agreement(tenant.id, judged), window, len(closed), attribution


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Print the agreement; export metrics; write corrections (a drop below target is for the alert to raise)."""
    console = console or Console()
    report, window, closed, attribution = asyncio.run(feedback(
        settings, args.tenant, args.since, args.decisions, with_text=args.corrections is not None,
        history_limit=args.history_limit, history_rate=args.history_rate))
    print_agreement(console, report, window, closed)
    print_attribution(console, attribution)
    export_metrics(report, args.target, attribution)
    if args.metrics_file is not None:
        write_to_textfile(str(args.metrics_file), metrics.FEEDBACK_REGISTRY)
        console.print(f"metrics written to {args.metrics_file}")
    if args.pushgateway:
        push_to_gateway(args.pushgateway, job="autotriage-feedback", registry=metrics.FEEDBACK_REGISTRY,
                        grouping_key={"tenant": report.tenant})
        console.print(f"metrics pushed to {args.pushgateway}")
    if args.corrections is not None:
        console.print(f"{write_corrections(report, args.corrections)} corrections written to {args.corrections}")
    applied = report.rate("apply").ratio
    if applied is not None and applied < args.target:
        console.print(f"[red]applied-category agreement {applied:.1%} is below the target {args.target:.0%}[/red]: "
                      "run `autotriage tune` for safer thresholds and `autotriage retrain` to learn the corrections")
    return 0
