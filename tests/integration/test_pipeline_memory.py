"""The whole pipeline in one process on the in-memory bus (the embedded default), against the Halo simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.halo import HaloSimulator
from tests.support.pipeline import environ, start_llm, tenant_entry, write_tenants
from tests.support.tickets import halo_sample, new_tickets


async def wait_for_outcomes(bus: MemoryBus, topic: str, count: int, timeout: float = 30) -> list[OutcomeRecorded]:
    """Poll the outcomes topic until ``count`` records are there."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        records = bus.records(topic)
        if len(records) >= count or asyncio.get_running_loop().time() > deadline:
            return [decode(r.value, OutcomeRecorded) for r in records]
        await asyncio.sleep(0.05)


async def test_fifty_halo_tickets_in_one_process(tmp_path: Path) -> None:
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    llm, llm_url = await start_llm()
    entry, env = tenant_entry(sim, "acme", llm_url)
    with environ(env):
        tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry]))
        bus = MemoryBus()
        host = build_host(
            Settings(bus="memory", http_port=0, http_host="127.0.0.1"),
            tenants,
            ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"],
            bus=bus,
        )
        await host.start()
        try:
            ids = [sim.create_ticket(t.summary, t.details, t.scope) for t in new_tickets(50)]
            ingress = f"http://127.0.0.1:{host.bound_port}"
            for ticket_id in ids:
                assert await sim.send_created_webhook(ingress, "acme", [ticket_id]) == 202
            # a duplicate delivery (Halo's "resend") and a batched delivery of already-seen tickets
            payload = sim.webhook_payload(ids[0])
            assert await sim.deliver(ingress, "acme", [payload, payload]) in (200, 202)
            outcomes = await wait_for_outcomes(bus, Topics().name(TICKETS_OUTCOMES), 52, timeout=20)
            await asyncio.sleep(0.5)  # a duplicate would show up as a 53rd outcome
            outcomes = await wait_for_outcomes(bus, Topics().name(TICKETS_OUTCOMES), 52)
        finally:
            await host.stop()
            await sim.stop()
            await llm.stop()
    ignored = [o for o in outcomes if o.action.value == "ignored"]
    outcomes = [o for o in outcomes if o.action.value != "ignored"]
    # the two repeated events are acknowledged and accounted for as ignored, never worked on twice
    assert sorted(o.reason for o in ignored) == ["duplicate_delivery", "duplicate_ticket"], ignored
    assert len(outcomes) == 50, [o.action for o in outcomes]
    assert {o.ticket_id for o in outcomes} == set(ids)
    valid = sim.valid_paths(1)
    for ticket_id in ids:
        assert sim.category_of(ticket_id) in valid
        assert sim.note_count(ticket_id) == 1
        assert "[autotriage:acme:" in sim.notes[ticket_id][0]
    assert all(o.action.value == "applied" for o in outcomes)
    # every ticket reached the writer once, as a first delivery: no PSA call to look for an earlier note
    assert sim.requests["list_notes"] == 0
