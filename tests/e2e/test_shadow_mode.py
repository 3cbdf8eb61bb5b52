"""Shadow mode on a real Kafka broker, five stages as processes: every ticket is classified and recorded, and the
PSA receives not a single write."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.sandbox.common import load_sample
from autotriage.sandbox.halo import HaloSimulator
from tests.support.kafka_io import TopicReader
from tests.support.pipeline import label_oracle, start_llm, tenant_entry, ticket_text, write_tenants
from tests.support.processes import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

TENANT = "shadow-msp"
COUNT = 50


async def test_fifty_tickets_in_shadow_mode_write_nothing(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    sample = load_sample("halo")
    sim = HaloSimulator(sample, seed_history=False)
    await sim.start()
    rows = [t for t in sample.history if t.category][:COUNT]
    ids = [sim.create_ticket(row.summary, row.details, row.scope) for row in rows]
    llm, llm_url = await start_llm()
    llm.responder = label_oracle({ticket_text(row.summary, row.details): row.category for row in rows if row.category})
    entry, env = tenant_entry(sim, TENANT, llm_url, policy={"mode": "shadow"})
    pipeline = Pipeline(kafka_bootstrap, topic_prefix, write_tenants(tmp_path / "tenants.yaml", [entry]), env, tmp_path)
    reader = TopicReader(kafka_bootstrap, Topics(topic_prefix).name(TICKETS_OUTCOMES))
    try:
        await pipeline.create_topics(partitions=3)
        await pipeline.start_all()
        await reader.start()
        ingress = pipeline.stages["ingress"].url
        for ticket_id in ids:
            assert await sim.send_created_webhook(ingress, TENANT, [ticket_id]) == 202
        assert await sim.send_created_webhook(ingress, TENANT, ids[:1]) in (200, 202)  # a repeated delivery
        done = await reader.wait_until(lambda: {o.ticket_id for o in reader.outcomes()} >= set(ids), 120)
        await asyncio.sleep(2)  # a duplicate outcome would arrive now
        await reader.poll()
        assert done, f"only {len(reader.values)} outcomes of {COUNT}"
    finally:
        await reader.stop()
        await pipeline.stop_all()
        await sim.stop()
        await llm.stop()
    everything = reader.outcomes()
    ignored = [o for o in everything if o.action.value == "ignored"]  # the repeated delivery, accounted for
    assert len(ignored) == 1 and "duplicate" in ignored[0].reason, ignored
    outcomes = [o for o in everything if o.action.value != "ignored"]
    reasons = Counter(o.reason for o in outcomes)
    psa_calls = {op: n for op, n in sim.requests.items() if n}
    print(
        f"\noutcomes={len(outcomes)} actions={Counter(o.action.value for o in outcomes)} reasons={dict(reasons)} "
        f"llm_requests={len(llm.completion_requests)} psa_writes={sim.writes_total} psa_calls={psa_calls}"
    )
    assert len(outcomes) == COUNT
    assert {o.ticket_id for o in outcomes} == set(ids)
    assert all(o.action.value == "shadow" and o.mode == "shadow" for o in outcomes)
    assert all(o.reason.startswith("would_") for o in outcomes)
    assert all(o.model == "gpt-4o-mini" and o.usage.calls >= 1 for o in outcomes)  # classified and recorded
    assert sum(1 for o in outcomes if o.category) >= COUNT - 3  # (the sample repeats a few vague summaries)
    assert len(llm.completion_requests) >= COUNT
    assert sim.writes_total == 0
    assert sim.requests["update_ticket"] == 0 and sim.requests["add_note"] == 0 and sim.requests["list_notes"] == 0
    for ticket_id in ids:
        assert sim.category_of(ticket_id) == ()
