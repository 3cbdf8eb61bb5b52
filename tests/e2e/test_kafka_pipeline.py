"""The five stages as separate OS processes on a real Kafka broker, fed by the Halo simulator's webhooks."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.sandbox.halo import HaloSimulator
from tests.support.kafka_io import TopicReader
from tests.support.pipeline import start_llm, tenant_entry, write_tenants
from tests.support.processes import Pipeline
from tests.support.tickets import halo_sample, new_tickets

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


async def _run(tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, crash: str | None) -> None:
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    llm, llm_url = await start_llm()
    if crash:
        llm.latency_s = 0.05  # keep the run long enough to kill a stage in the middle of it
    entry, env = tenant_entry(sim, "acme", llm_url)
    tenants_file = write_tenants(tmp_path / "tenants.yaml", [entry])
    pipeline = Pipeline(kafka_bootstrap, topic_prefix, tenants_file, env, tmp_path)
    reader = TopicReader(kafka_bootstrap, Topics(topic_prefix).name(TICKETS_OUTCOMES))
    try:
        await pipeline.create_topics(partitions=3)
        await pipeline.start_all()
        await reader.start()
        ids = [sim.create_ticket(t.summary, t.details, t.scope) for t in new_tickets(50)]
        ingress = pipeline.stages["ingress"].url
        for ticket_id in ids:
            assert await sim.send_created_webhook(ingress, "acme", ids[: 0] + [ticket_id]) == 202
        # a duplicate delivery of the first ticket: acknowledged, never processed twice
        first = sim.webhook_payload(ids[0])
        assert await sim.deliver(ingress, "acme", [first, first]) in (200, 202)
        if crash:
            assert await reader.wait_until(lambda: len(reader.values) >= 10, 60)
            code = await pipeline.kill(crash, signal.SIGKILL)
            assert code == -signal.SIGKILL
            await asyncio.sleep(1)
            await pipeline.start(crash)
        done = await reader.wait_until(lambda: len({o.ticket_id for o in reader.outcomes()}) >= 50, 120)
        await asyncio.sleep(2)
        await reader.poll()
        assert done, f"only {len(reader.values)} outcomes"
    finally:
        await reader.stop()
        await pipeline.stop_all()
        await sim.stop()
        await llm.stop()
    outcomes = reader.outcomes()
    by_ticket = {o.ticket_id for o in outcomes}
    duplicates = len(outcomes) - len(by_ticket)
    notes = [sim.note_count(t) for t in ids]
    print(f"\naccepted=50 outcomes={len(by_ticket)} duplicate_outcome_records={duplicates} "
          f"notes={sum(notes)} max_notes_per_ticket={max(notes)} crash={crash}")
    assert by_ticket == set(ids)
    valid = sim.valid_paths(1)
    for ticket_id in ids:
        assert sim.category_of(ticket_id) in valid, ticket_id
        assert sim.note_count(ticket_id) == 1, (ticket_id, sim.notes.get(ticket_id))
        assert sim.update_count(ticket_id) == 1
    if crash is None:
        assert duplicates == 0
        assert all(o.action.value == "applied" for o in outcomes)


async def test_fifty_halo_tickets_through_five_processes(tmp_path: Path, kafka_bootstrap: str, topic_prefix: str) -> None:
    await _run(tmp_path, kafka_bootstrap, topic_prefix, crash=None)


@pytest.mark.faults
@pytest.mark.parametrize("stage", ["writer", "classifier"])
async def test_sigkill_mid_run_loses_nothing_and_writes_once(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, stage: str
) -> None:
    await _run(tmp_path, kafka_bootstrap, topic_prefix, crash=stage)
