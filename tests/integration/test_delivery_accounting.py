"""Delivery accounting: every event of every acknowledged delivery ends in exactly one outcome record.

All three PSA simulators send realistic deliveries of every kind through the whole pipeline in one process
(memory bus): new tickets, event-only and batched deliveries, updates, deletes, Autotask's ticket-level and
webhook-level ``Deactivated``, PSA retries of the same delivery, a Halo event resent under a new id, and a
new-ticket event for a ticket that no longer exists. N acknowledged events -> N records on
``tickets.outcomes`` (``ignored`` with a reason counts).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from pathlib import Path

import aiohttp

from autotriage.app import build_host
from autotriage.core import metrics
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from tests.support.pipeline import environ, start_llm, tenant_entry, write_tenants
from tests.support.tickets import halo_sample

STAGES = ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"]
OUTCOMES = Topics().name(TICKETS_OUTCOMES)


def deactivated_total() -> float:
    labels = {"psa": "autotask", "tenant": "at"}
    return metrics.REGISTRY.get_sample_value("autotriage_webhook_deactivated_total", labels) or 0.0


async def test_every_acknowledged_event_ends_in_one_outcome(tmp_path: Path) -> None:
    halo = HaloSimulator(halo_sample(), seed_history=False)
    cw = ConnectWiseSimulator(seed_history=False)
    at = AutotaskSimulator(seed_history=False)
    for sim in (halo, cw, at):
        await sim.start()
    llm, llm_url = await start_llm()
    entries, env = [], {}
    for sim, tenant_id in ((halo, "halo"), (cw, "cw"), (at, "at")):
        entry, secrets = tenant_entry(sim, tenant_id, llm_url)
        entries.append(entry)
        env.update(secrets)
    acknowledged = 0  # events in deliveries answered 200/202
    expected_reasons: Counter[str] = Counter()
    try:
        with environ(env):
            bus = MemoryBus()
            host = build_host(Settings(bus="memory", http_port=0, http_host="127.0.0.1"),
                              load_tenants(write_tenants(tmp_path / "tenants.yaml", entries)), STAGES, bus=bus)
            await host.start()
            ingress = f"http://127.0.0.1:{host.bound_port}"
            deactivated_before = deactivated_total()
            try:
                async with aiohttp.ClientSession() as session:

                    async def post(path: str, body: bytes, headers: dict[str, str], events: int) -> None:
                        nonlocal acknowledged
                        async with session.post(f"{ingress}{path}", data=body, headers=headers) as resp:
                            assert resp.status in (200, 202), (path, resp.status, await resp.text())
                            acknowledged += events

                    # --- Halo: Basic credentials -------------------------------------------------------
                    creds = {"Authorization": halo_auth(halo), "Content-Type": "application/json"}
                    h = [halo.create_ticket(f"Outlook keeps asking for password {i}", "Since the update", 1)
                         for i in range(4)]
                    first = json.dumps(halo.webhook_payload(h[0])).encode()
                    await post("/webhooks/halo/halo", first, creds, 1)
                    await post("/webhooks/halo/halo", first, creds, 1)  # Halo retries the same delivery
                    expected_reasons["duplicate_delivery"] += 1
                    resent = json.dumps(halo.webhook_payload(h[0])).encode()  # same ticket, new event id
                    await post("/webhooks/halo/halo", resent, creds, 1)
                    expected_reasons["duplicate_ticket"] += 1
                    event_only = json.dumps(halo.webhook_payload(h[1], payload_type="event")).encode()
                    await post("/webhooks/halo/halo", event_only, creds, 1)
                    batch = json.dumps([halo.webhook_payload(h[2]), halo.webhook_payload(h[3])]).encode()
                    await post("/webhooks/halo/halo", batch, creds, 2)
                    status_change = halo.webhook_payload(h[1])
                    status_change["event"] = "Ticket Status Changed"
                    await post("/webhooks/halo/halo", json.dumps(status_change).encode(), creds, 1)
                    expected_reasons["not_new_ticket:updated"] += 1
                    gone = halo.webhook_payload(h[1], payload_type="event")
                    gone["object_id"] = 987654  # created and deleted again before the normalizer read it
                    await post("/webhooks/halo/halo", json.dumps(gone).encode(), creds, 1)

                    # --- ConnectWise: signed callbacks -------------------------------------------------
                    c = [cw.create_ticket(f"Printer on floor {i} jams", "Tray 2", 12) for i in range(2)]
                    for action, ticket_id, reason in (("added", c[0], ""), ("added", c[1], ""),
                                                      ("updated", c[0], "not_new_ticket:updated"),
                                                      ("deleted", c[1], "not_new_ticket:deleted")):
                        body = json.dumps(cw.webhook_payload(ticket_id, action)).encode()
                        await post("/webhooks/connectwise/cw", body, cw_headers(cw, body), 1)
                        if reason:
                            expected_reasons[reason] += 1
                    body = json.dumps(cw.webhook_payload(c[0])).encode()
                    await post("/webhooks/connectwise/cw", body, cw_headers(cw, body), 1)
                    await post("/webhooks/connectwise/cw", body, cw_headers(cw, body), 1)  # CW retry
                    expected_reasons["duplicate_ticket"] += 1  # new MessageId for a ticket under way
                    expected_reasons["duplicate_delivery"] += 1

                    # --- Autotask: HMAC-SHA1 over .NET-escaped JSON ------------------------------------
                    queue = next(iter(at.queues))
                    a = [at.create_ticket(f"VPN drops café {i}", "Every hour", queue) for i in range(2)]
                    for payload, reason in ((at.webhook_payload(a[0]), ""), (at.webhook_payload(a[1]), ""),
                                            (at.webhook_payload(a[0], "Update"), "not_new_ticket:updated"),
                                            (at.webhook_payload(a[1], "Delete"), "not_new_ticket:deleted"),
                                            (at.webhook_payload(a[1], "Deactivated"), "not_new_ticket:other"),
                                            (at.deactivated_payload(), "not_new_ticket:deactivated")):
                        await post("/webhooks/autotask/at", *at.signed_delivery(payload), 1)
                        if reason:
                            expected_reasons[reason] += 1
                    again = at.signed_delivery(at.webhook_payload(a[0]))
                    await post("/webhooks/autotask/at", *again, 1)
                    await post("/webhooks/autotask/at", *again, 1)  # Autotask retry after a timeout
                    expected_reasons["duplicate_ticket"] += 1
                    expected_reasons["duplicate_delivery"] += 1

                records = await wait_records(bus, acknowledged)
            finally:
                await host.stop()
    finally:
        for sim in (halo, cw, at):
            await sim.stop()
        await llm.stop()

    outcomes = [decode(r.value, OutcomeRecorded) for r in records]
    print(f"acknowledged events={acknowledged} outcome records={len(outcomes)} "
          f"by action={dict(Counter(o.action.value for o in outcomes))}")
    assert len(outcomes) == acknowledged
    ignored = Counter(o.reason for o in outcomes if o.action.value == "ignored")
    assert ignored == expected_reasons, ignored
    worked = [o for o in outcomes if o.action.value != "ignored"]
    assert Counter(o.tenant for o in worked) == {"halo": 5, "cw": 2, "at": 2}
    [missing] = [o for o in worked if o.ticket_id == "987654"]
    assert missing.action.value == "failed"
    # only the webhook-level Deactivated raises the webhook-deactivated metric, not the ticket-level one
    assert deactivated_total() == deactivated_before + 1


def halo_auth(halo: HaloSimulator) -> str:
    return "Basic " + base64.b64encode(f"{halo.webhook_user}:{halo.webhook_password}".encode()).decode()


def cw_headers(cw: ConnectWiseSimulator, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "x-content-signature": cw.sign(body)}


async def wait_records(bus: MemoryBus, count: int, timeout: float = 60.0) -> list[object]:
    """The outcome records once ``count`` are there (and a moment more, so an extra one would show)."""
    for _ in range(int(timeout / 0.05)):
        if len(bus.records(OUTCOMES)) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    return list(bus.records(OUTCOMES))
