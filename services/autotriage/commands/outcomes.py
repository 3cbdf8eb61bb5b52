"""``autotriage outcomes``: what the pipeline decided for each ticket, and ``autotriage report shadow``: what
shadow mode would have done.

Source of the records: with the in-memory bus (``autotriage run``, the embedded default) the local audit file
``AUTOTRIAGE_OUTCOMES_FILE`` (default ``outcomes.jsonl``) that the running process appends to; with Kafka the
``tickets.outcomes`` topic, read from the beginning without joining any consumer group.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.errors import ConfigError
from autotriage.core.events import OutcomeRecorded
from autotriage.core.settings import Settings

COLUMNS = ("tenant", "ticket", "category", "conf", "action", "reason", "USD", "latency")


def parse_line(line: str) -> OutcomeRecorded | None:
    """One audit-file line as an outcome (``None`` for a blank or foreign line)."""
    if not line.strip():
        return None
    try:
        return OutcomeRecorded.model_validate_json(line)
    except ValidationError:
        return None


def latency_s(outcome: OutcomeRecorded) -> float:
    """Webhook receipt to outcome, in seconds."""
    return (outcome.finished_at - outcome.occurred_at).total_seconds()


def as_dict(outcome: OutcomeRecorded) -> dict[str, object]:
    """The record as ``--json`` prints it (the full outcome plus its latency)."""
    data: dict[str, object] = json.loads(outcome.model_dump_json())
    data["latency_s"] = round(latency_s(outcome), 3)
    return data


def _exists(path: Path) -> bool:
    return path.exists()


def _open(path: Path) -> TextIO:
    return path.open(encoding="utf-8")


async def read_file(path: Path, follow: bool, poll_s: float = 0.5) -> AsyncIterator[OutcomeRecorded]:
    """Outcomes from the audit file; with ``follow``, keep reading what is appended."""
    if not _exists(path) and not follow:
        raise ConfigError(f"no outcomes file {path}: outcomes are written there by `autotriage run` (in-memory "
                          "bus) started in this directory; elsewhere pass --file PATH, or --bus kafka for Kafka")
    while True:  # --follow before the first outcome: wait for the file
        if _exists(path):
            break
        await asyncio.sleep(poll_s)
    with _open(path) as source:
        pending = ""
        while True:
            chunk = source.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    outcome = parse_line(pending)
                    pending = ""
                    if outcome is not None:
                        yield outcome
                continue
            if not follow:
                return
            await asyncio.sleep(poll_s)


async def read_topic(settings: Settings, follow: bool, idle_s: float = 3.0) -> AsyncIterator[OutcomeRecorded]:
    """Outcomes from the Kafka topic, from the beginning (no consumer group: nothing is committed)."""
    topic = Topics.of(settings).name(TICKETS_OUTCOMES)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False, request_timeout_ms=10000)
    try:
        await consumer.start()
    except KafkaConnectionError as exc:
        await consumer.stop()
        raise ConfigError(f"Kafka at {settings.kafka_bootstrap_servers} is not reachable ({exc}): start the broker "
                          "or set --kafka / AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS") from exc
    try:
        idle_since = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            for record in records:
                outcome = parse_line(record.value.decode("utf-8", "replace")) if record.value else None
                if outcome is not None:
                    yield outcome
            if records:
                idle_since = time.monotonic()
            elif not follow and time.monotonic() - idle_since > idle_s:
                return
    finally:
        await consumer.stop()


def source_of(args: argparse.Namespace, settings: Settings) -> AsyncIterator[OutcomeRecorded]:
    """The file (in-memory bus) or the topic (Kafka)."""
    if settings.bus == "kafka" and args.file is None:
        return read_topic(settings, args.follow)
    path = args.file or settings.outcomes_file or Path("outcomes.jsonl")
    return read_file(path, args.follow)


def table(outcomes: Iterable[OutcomeRecorded]) -> Table:
    """The decisions as a table that stays readable at 80 columns."""
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    t.add_column("tenant:ticket", no_wrap=True)
    t.add_column("category", overflow="fold", ratio=3, min_width=14)
    t.add_column("conf", justify="right", no_wrap=True)
    t.add_column("action", no_wrap=True)
    t.add_column("reason", overflow="fold", ratio=2, min_width=10)
    t.add_column("USD", justify="right", no_wrap=True)
    t.add_column("secs", justify="right", no_wrap=True)
    for o in outcomes:
        t.add_row(f"{o.tenant}:{o.ticket_id}", o.category or "-", f"{o.confidence:.2f}" if o.category else "-",
                  o.action.value, "" if o.reason == o.action.value else o.reason, f"{o.usage.cost_usd:.4f}",
                  f"{latency_s(o):.1f}")
    return t


async def _show(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    shown = 0
    batch: list[OutcomeRecorded] = []
    async for outcome in source_of(args, settings):
        if args.tenant and outcome.tenant != args.tenant:
            continue
        shown += 1
        if args.json:
            print(json.dumps(as_dict(outcome)), flush=True)
        elif args.follow:
            console.print(table([outcome]), end="")
        else:
            batch.append(outcome)
    if not args.json and not args.follow:
        if batch:
            console.print(table(batch))
        else:
            console.print("no outcomes yet" + (f" for tenant {args.tenant}" if args.tenant else ""))
    return 0


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """``outcomes``."""
    try:
        return asyncio.run(_show(args, settings, console or Console()))
    except KeyboardInterrupt:
        return 0


# --- report shadow ---------------------------------------------------------------------------------------
def shadow_summary(outcomes: Iterable[OutcomeRecorded], tenant: str) -> list[str]:
    """What shadow mode would have done for a tenant: counts by would-be action, categories, confidence."""
    mine = [o for o in outcomes if o.tenant == tenant and o.mode == "shadow"]
    if not mine:
        return [f"no shadow-mode outcomes for tenant {tenant}: set its policy.mode to shadow and send tickets"]
    actions = Counter(o.reason.split(":")[0] for o in mine)
    skips = Counter(o.reason.split(":", 1)[1] for o in mine if ":" in o.reason)
    would_write = [o for o in mine if o.reason in ("would_apply", "would_suggest")]
    categories = Counter(o.category for o in mine if o.reason == "would_apply")
    usd = sum(o.usage.cost_usd for o in mine)
    tickets = f"{len(mine)} ticket{'' if len(mine) == 1 else 's'}"
    lines = [f"shadow mode for tenant {tenant}: {tickets}, nothing written to the PSA"]
    for action, label in (("would_apply", "would apply the category"), ("would_suggest", "would add a note"),
                          ("would_need_triage", "would leave for a technician"), ("would_skip", "would skip")):
        count = actions.get(action, 0)
        lines.append(f"  {label:30s} {count:5d}  ({count / len(mine):.0%})")
    for reason, count in skips.most_common(5):
        lines.append(f"    skip reason {reason:20s} {count:5d}")
    if would_write:
        confidences = sorted(o.confidence for o in would_write)
        lines.append(f"  confidence of would-be writes  median {confidences[len(confidences) // 2]:.2f}, "
                     f"lowest {confidences[0]:.2f}")
    for category, count in categories.most_common(5):
        lines.append(f"    would apply {category} x{count}")
    lines.append(f"  LLM spend {usd:.4f} USD ({usd / len(mine) * 1000:.2f} per 1,000 tickets)")
    lines.append("  switch on with policy.mode: suggest (notes only) or apply, per scope if you like")
    return lines


async def _collect(args: argparse.Namespace, settings: Settings) -> list[OutcomeRecorded]:
    args.follow = False
    return [o async for o in source_of(args, settings)]


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """``report shadow``."""
    outcomes = asyncio.run(_collect(args, settings))
    print("\n".join(shadow_summary(outcomes, args.tenant)))
    return 0
