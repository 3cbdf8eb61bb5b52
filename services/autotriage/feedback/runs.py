"""What feedback, tune, retrain and insights share: the tenant, the decision log, closed tickets joined."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from autotriage.core.bus.topics import Topics
from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, load_tenants
from autotriage.feedback.closed import join, parse_span, read_closed
from autotriage.feedback.decisions import BusDecisionLog, DecisionLog, JsonlDecisionLog, LocalDecisionLog
from autotriage.policy.feedback import Decision, Judged
from autotriage.psa.base import ClosedTicket

NO_DECISION_LOG = ("on the in-memory bus the decisions are the outcomes file `autotriage run` writes "
                   "(AUTOTRIAGE_OUTCOMES_FILE, default outcomes.jsonl) and decisions.jsonl (`autotriage "
                   "backfill`), and neither is here: run the pipeline or a backfill first, pass --decisions "
                   "FILE.jsonl, or set AUTOTRIAGE_BUS=kafka and AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS for the "
                   "decisions topic")
#: The feedback job's consumer group on the outcomes topic.
FEEDBACK_GROUP = "feedback"


def tenant_of(settings: Settings, tenant_id: str) -> Tenant:
    """A configured tenant, or a clear error naming the known ones."""
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.get(tenant_id)
    if tenant is None:
        raise ConfigError(f"tenant {tenant_id!r} is not in {settings.tenants_file}; known: "
                          f"{', '.join(t.id for t in tenants.tenants) or 'none'}")
    return tenant


@dataclass(frozen=True)
class Window:
    """``[since, until)``."""

    since: datetime
    until: datetime

    @classmethod
    def last(cls, span: str, until: datetime | None = None) -> Window:
        """The span (``30d``) before ``until`` (default now)."""
        end = until or datetime.now(UTC)
        return cls(end - parse_span(span), end)

    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.since - (self.until - self.since), self.since)


#: Decisions made outside the pipeline on the in-memory bus (``backfill``), next to the outcomes file.
LOCAL_DECISIONS_FILE = Path("decisions.jsonl")


def local_decision_log(settings: Settings) -> LocalDecisionLog:
    """The in-memory bus's decision log: the outcomes file ``autotriage run`` writes plus ``decisions.jsonl``."""
    return LocalDecisionLog(settings.outcomes_file, LOCAL_DECISIONS_FILE)


async def load_decisions(settings: Settings, tenant: str, decisions_file: Path | None) -> dict[str, Decision]:
    """The tenant's decisions: from ``decisions_file`` (JSONL) or, on Kafka, from the compacted decisions topic
    after moving the outcomes that arrived since the last run into it."""
    log: DecisionLog
    if decisions_file is not None:
        return await JsonlDecisionLog(decisions_file).load(tenant)
    if settings.bus != "kafka":
        local = local_decision_log(settings)
        if not local.exists():
            raise ConfigError(NO_DECISION_LOG)
        return await local.load(tenant)
    from autotriage.app import make_bus  # noqa: PLC0415 - the bus is only needed on Kafka

    bus = make_bus(settings, client_id="autotriage-feedback")
    await bus.start()
    try:
        log = BusDecisionLog(bus, Topics(settings.topic_prefix), settings.partitions)
        await log.ensure()
        await log.ingest_outcomes(f"{settings.topic_prefix}{FEEDBACK_GROUP}")
        return await log.load(tenant)
    finally:
        await bus.stop()


async def judged_in(settings: Settings, tenant: Tenant, window: Window, decisions_file: Path | None,
                    *, with_text: bool = False) -> tuple[list[ClosedTicket], list[Judged]]:
    """Closed tickets of the window and those of them autotriage decided for, judged."""
    decisions = await load_decisions(settings, tenant.id, decisions_file)
    closed = await read_closed(tenant, window.since, window.until, with_text=with_text)
    return closed, join(closed, decisions)
