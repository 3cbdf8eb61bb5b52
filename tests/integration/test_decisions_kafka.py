"""Decision state on a real broker: outcomes move into the compacted decisions topic, exactly once per group,
and survive a restart of the feedback job (a new bus, a new process)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.core.bus.kafka import KafkaBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, encode
from autotriage.core.models import Action, PSAKind
from autotriage.feedback.decisions import BusDecisionLog
from autotriage.sandbox.registry import make_simulator
from tests.support.closing import play_month, write_tenants

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


async def test_feedback_on_kafka_reads_decisions_from_the_topic(kafka_bootstrap: str, topic_prefix: str,
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The writer's outcomes on Kafka, technicians on the simulator, `autotriage feedback` with the Kafka bus:
    the agreement is exact, and a second run (a restarted job) still finds every decision."""
    topics = Topics(topic_prefix)
    sim = make_simulator("halo")
    await sim.start()
    bus = KafkaBus(kafka_bootstrap, client_id="test-feedback-kafka")
    await bus.start()
    try:
        await bus.ensure_topics(topics.specs(3))
        month = play_month(sim, "halo", n=200, change=0.15, rescope=10)
        for decision in month.decisions:
            event = _outcome("acme", decision.ticket_id, Action.APPLIED, " > ".join(decision.path),
                             decision.confidence)
            await (await bus.producer().send(topics.name(TICKETS_OUTCOMES), encode(event),
                                             key=f"acme:{decision.ticket_id}".encode()))
        tenants = tmp_path / "tenants.yaml"
        for key, value in write_tenants(sim, tenants).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.setenv("AUTOTRIAGE_BUS", "kafka")
        monkeypatch.setenv("AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
        monkeypatch.setenv("AUTOTRIAGE_TOPIC_PREFIX", topic_prefix)
        monkeypatch.setenv("AUTOTRIAGE_PARTITIONS", "3")
        argv = ["feedback", "--tenant", "acme", "--since", "1d", "--tenants-file", str(tenants)]
        assert await asyncio.to_thread(main, argv) == 0
        first = capsys.readouterr().out
        assert await asyncio.to_thread(main, argv) == 0  # nothing new on the outcomes topic: state from the table
        second = capsys.readouterr().out
    finally:
        await bus.stop()
        await sim.stop()
    kept = 200 - 30 - 10
    for out in (first, second):
        assert "200 of them decided by autotriage" in out
        assert f"{kept / (kept + 30):.1%}" in out
