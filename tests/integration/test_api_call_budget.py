"""PSA API calls per categorized ticket with a warm taxonomy cache, per PSA (a regression guard that also
prints the numbers: MSPs share each PSA's rate limit with every other integration)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.common import load_sample
from autotriage.sandbox.registry import simulator_class
from tests.support.pipeline import environ, label_oracle, start_llm, tenant_entry, ticket_text, write_tenants

#: Upper bounds per applied ticket (warm cache): normalizer read(s) + writer re-read, idempotency check,
#: category write (+ confirmation read on ConnectWise) and the note.
BUDGET = {"halo": 4, "connectwise": 6, "autotask": 4}  # the writer reads notes back only for repeats


@pytest.mark.parametrize("psa", ["halo", "connectwise", "autotask"])
async def test_api_calls_per_ticket_with_a_warm_cache(tmp_path: Path, psa: str) -> None:
    sample = load_sample(psa)
    rows = [t for t in sample.history if t.category]
    scope = rows[0].scope
    rows = [r for r in rows if r.scope == scope][:11]
    sim = simulator_class(psa)(sample, seed_history=False)  # type: ignore[call-arg]
    await sim.start()
    llm, llm_url = await start_llm()
    llm.responder = label_oracle({ticket_text(r.summary, r.details): r.category for r in rows if r.category})
    entry, env = tenant_entry(sim, "msp", llm_url)
    with environ(env):
        tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry]))
        bus = MemoryBus()
        settings = Settings(bus="memory", http_port=0, http_host="127.0.0.1")
        host = build_host(settings, tenants, ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"],
                          bus=bus)
        await host.start()
        outcomes_topic = Topics().name(TICKETS_OUTCOMES)
        try:
            ids = [sim.create_ticket(r.summary, r.details, r.scope) for r in rows]
            ingress = f"http://127.0.0.1:{host.bound_port}"

            async def send_and_wait(ticket_ids: list[str], total: int) -> None:
                for ticket_id in ticket_ids:
                    await sim.send_created_webhook(ingress, "msp", [ticket_id])
                for _ in range(400):
                    if len(bus.records(outcomes_topic)) >= total:
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError("outcomes missing")

            await send_and_wait(ids[:1], 1)  # warms the token, zone/codebase and taxonomy caches
            before = Counter(sim.requests)
            await send_and_wait(ids[1:], len(ids))
            after = Counter(sim.requests)
        finally:
            await host.stop()
            await sim.stop()
            await llm.stop()
    calls = after - before
    per_ticket = sum(calls.values()) / (len(ids) - 1)
    breakdown = ", ".join(f"{op} {n / (len(ids) - 1):.1f}" for op, n in sorted(calls.items()))
    print(f"\n{psa}: {per_ticket:.1f} API calls per categorized ticket ({breakdown})")
    assert all(sim.category_of(t) for t in ids)
    assert per_ticket <= BUDGET[psa]
