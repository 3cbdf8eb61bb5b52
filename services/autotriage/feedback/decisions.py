"""Where decision state lives: what autotriage decided for each ticket, until the ticket closes.

With Kafka it is a **compacted topic** (``<prefix>decisions``) keyed ``tenant:ticket``, filled from the outcomes
topic by the feedback job's own consumer group: it survives restarts, scales with the partitions (1M tickets a
month is ~1M small records, compaction keeps one per ticket), needs no new store, and is written by autotriage
alone. The PSA's note marker was the other candidate; it was not chosen because reading it back costs one API
call per ticket (notes are not in list rows, and Autotask allows 10,000 calls an hour), a technician can delete
or edit the note, and a shadow-mode decision writes no note at all.

On the in-memory bus (one process, the embedded default) the same records go to a local JSONL file.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from autotriage.core.bus.base import Bus, TopicSpec
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.errors import ConfigError, PoisonMessage
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.models import Action
from autotriage.core.runtime import REDELIVERY
from autotriage.policy.feedback import Decision

log = logging.getLogger(__name__)

DECISIONS = "decisions"
PATH_SEPARATOR = " > "


def decision_from_outcome(outcome: OutcomeRecorded) -> Decision | None:
    """The decision an outcome records (``None`` for a failed or ignored one, or a repeat after a redelivery:
    nothing new was decided, and the ticket's real decision must not be replaced by it)."""
    if outcome.action in (Action.FAILED, Action.IGNORED) or outcome.detail == REDELIVERY:
        return None
    path = tuple(p for p in outcome.category.split(PATH_SEPARATOR) if p) if outcome.category else ()
    return Decision(
        tenant=outcome.tenant, ticket_id=outcome.ticket_id, psa=outcome.psa.value, scope=outcome.scope,
        action=outcome.action.value, mode=outcome.mode, path=path, confidence=outcome.confidence,
        model=outcome.model, decided_at=outcome.finished_at,
    )


def key_of(decision: Decision) -> bytes:
    """``tenant:ticket``, the key of every event of a ticket."""
    return f"{decision.tenant}:{decision.ticket_id}".encode()


class DecisionLog(ABC):
    """Decisions by tenant and ticket; the latest record of a ticket wins."""

    @abstractmethod
    async def record(self, decisions: Sequence[Decision]) -> None:
        """Store decisions (durably, before returning)."""

    @abstractmethod
    async def load(self, tenant: str) -> dict[str, Decision]:
        """The tenant's decisions by ticket id."""


class JsonlDecisionLog(DecisionLog):
    """One JSON decision a line, appended (for the in-memory bus and tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def record(self, decisions: Sequence[Decision]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.writelines(d.model_dump_json() + "\n" for d in decisions)

    async def load(self, tenant: str) -> dict[str, Decision]:
        if not self.path.exists():
            return {}
        found: dict[str, Decision] = {}
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                decision = Decision.model_validate_json(line)
            except ValidationError as exc:
                raise ConfigError(f"{self.path}:{n}: not a decision record ({exc.error_count()} errors); "
                                  "point --decisions at a file written by autotriage") from exc
            if decision.tenant == tenant:
                found[decision.ticket_id] = decision
        return found


class OutcomesFileDecisionLog(DecisionLog):
    """The outcomes audit file ``autotriage run`` writes on the in-memory bus (``AUTOTRIAGE_OUTCOMES_FILE``): one
    outcome record a line; the latest decision of a ticket wins. Read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def record(self, decisions: Sequence[Decision]) -> None:
        raise ConfigError(f"{self.path} is the pipeline's outcomes file: autotriage writes it, not the feedback job")

    async def load(self, tenant: str) -> dict[str, Decision]:
        found: dict[str, Decision] = {}
        for line in self.path.read_bytes().splitlines():
            decision = _decision_of(line) if line.strip() else None
            if decision is not None and decision.tenant == tenant:
                found[decision.ticket_id] = decision
        return found


class LocalDecisionLog(DecisionLog):
    """The in-memory bus's decisions: the pipeline's outcomes file, plus a JSONL file of decisions made outside
    the pipeline (``backfill``), which is where new records go. A live decision wins over a backfilled one."""

    def __init__(self, outcomes_file: Path | None, decisions_file: Path) -> None:
        self.outcomes = OutcomesFileDecisionLog(outcomes_file) if outcomes_file is not None else None
        self.extra = JsonlDecisionLog(decisions_file)

    def exists(self) -> bool:
        """Whether either file holds anything to read."""
        return self.extra.path.is_file() or (self.outcomes is not None and self.outcomes.path.is_file())

    async def record(self, decisions: Sequence[Decision]) -> None:
        await self.extra.record(decisions)

    async def load(self, tenant: str) -> dict[str, Decision]:
        found = await self.extra.load(tenant)
        if self.outcomes is not None and self.outcomes.path.is_file():
            found.update(await self.outcomes.load(tenant))
        return found


class BusDecisionLog(DecisionLog):
    """The compacted decisions topic (see the module docstring)."""

    def __init__(self, bus: Bus, topics: Topics, partitions: int = 6) -> None:
        self.bus = bus
        self.topic = topics.name(DECISIONS)
        self.topics = topics
        self.partitions = partitions

    async def ensure(self) -> None:
        """Create the compacted topic when it is missing."""
        await self.bus.ensure_topics([TopicSpec(self.topic, self.partitions, compacted=True)])

    async def record(self, decisions: Sequence[Decision]) -> None:
        producer = self.bus.producer()
        acks = [await producer.send(self.topic, d.model_dump_json().encode(), key=key_of(d)) for d in decisions]
        await asyncio.gather(*acks)

    async def load(self, tenant: str) -> dict[str, Decision]:
        prefix = f"{tenant}:".encode()
        table = await self.bus.read_table(self.topic)
        return {d.ticket_id: d for d in (Decision.model_validate_json(v) for k, v in table.items()
                                         if k.startswith(prefix))}

    async def ingest_outcomes(self, group: str, idle_s: float = 1.0, settle_s: float = 10.0,
                              batch: int = 500) -> int:
        """Move new outcomes (since this group's last commit) into the decisions topic; return how many. Stops at
        the first empty poll once records came or ``settle_s`` passed (joining the group takes a moment)."""
        consumer = await self.bus.consumer([self.topics.name(TICKETS_OUTCOMES)], group)
        moved = seen = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_s
        try:
            while True:
                records = await consumer.getmany(idle_s, batch)
                if not records:
                    if seen or loop.time() > deadline:
                        break
                    continue
                seen += len(records)
                decisions = [d for d in (_decision_of(r.value) for r in records) if d is not None]
                await self.record(decisions)
                offsets: dict[tuple[str, int], int] = {}
                for r in records:
                    offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0), r.offset + 1)
                await consumer.commit(offsets)
                moved += len(decisions)
        finally:
            await consumer.stop()
        return moved


def _decision_of(value: bytes) -> Decision | None:
    try:
        return decision_from_outcome(decode(value, OutcomeRecorded))
    except PoisonMessage as exc:  # another schema version or a damaged record: not a decision we can read
        log.warning("outcome record skipped for feedback: %s", exc)
        return None


def decisions_of(outcomes: Iterable[OutcomeRecorded]) -> list[Decision]:
    """The decisions of a sequence of outcomes (failed ones dropped)."""
    return [d for d in (decision_from_outcome(o) for o in outcomes) if d is not None]
