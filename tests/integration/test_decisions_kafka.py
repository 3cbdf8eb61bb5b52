"""Decision state on a real broker: outcomes move into the compacted decisions topic, exactly once per group,
and survive a restart of the feedback job (a new bus, a new process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autotriage.core.bus.kafka import KafkaBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, encode
from autotriage.core.models import Action, PSAKind
from autotriage.feedback.decisions import BusDecisionLog

pytestmark = pytest.mark.kafka


def _outcome(tenant: str, ticket: str, action: Action, category: str, confidence: float) -> OutcomeRecorded:
    return OutcomeRecorded(tenant=tenant, psa=PSAKind.HALO, ticket_id=ticket, occurred_at=datetime.now(UTC),
                           action=action, mode="apply", scope="1", category=category, confidence=confidence,
                           model="local-abc")


async def test_outcomes_become_decisions_that_survive_a_restart(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = Topics(topic_prefix)
    outcomes = topics.name(TICKETS_OUTCOMES)
    group = f"{topic_prefix}feedback"
    bus = KafkaBus(kafka_bootstrap, client_id="test-decisions")
    await bus.start()
    try:
        await bus.ensure_topics(topics.specs(3))
        log = BusDecisionLog(bus, topics, partitions=3)
        await log.ensure()
        sent = [
            _outcome("acme", "1", Action.APPLIED, "Hardware > Printer", 0.93),
            _outcome("acme", "2", Action.SUGGESTED, "Network > VPN", 0.61),
            _outcome("acme", "3", Action.SKIPPED, "", 0.0),
            _outcome("globex", "1", Action.APPLIED, "Email > Outlook", 0.88),
            _outcome("acme", "2", Action.FAILED, "", 0.0),  # a later failure does not erase the decision
        ]
        for event in sent:
            await (await bus.producer().send(outcomes, encode(event), key=f"{event.tenant}:{event.ticket_id}".encode()))
        assert await log.ingest_outcomes(group, settle_s=20.0) == 4
        assert await log.ingest_outcomes(group, settle_s=2.0) == 0  # committed: nothing is moved twice
    finally:
        await bus.stop()
    fresh = KafkaBus(kafka_bootstrap, client_id="test-decisions-2")
    await fresh.start()
    try:
        acme = await BusDecisionLog(fresh, topics, partitions=3).load("acme")
    finally:
        await fresh.stop()
    assert sorted(acme) == ["1", "2", "3"]
    assert acme["1"].path == ("Hardware", "Printer") and acme["1"].confidence == 0.93
    assert acme["2"].action == "suggested" and acme["3"].path == ()
