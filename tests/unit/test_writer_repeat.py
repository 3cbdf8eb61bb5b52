"""The writer asks the PSA for its own note only when the ticket may have been written before (``repeat``)."""

from __future__ import annotations

from pathlib import Path

from autotriage.core.events import TicketClassified, utcnow
from autotriage.core.models import Classification, Mode, PSAKind, Verdict
from autotriage.core.runtime import REDELIVERY
from autotriage.core.tenants import load_tenants
from autotriage.psa.registry import PSAClients
from autotriage.sandbox.halo import HaloSimulator
from autotriage.writer.stage import WriterStage
from tests.support.pipeline import environ, tenant_entry, write_tenants
from tests.support.tickets import halo_sample, new_tickets


async def test_fresh_tickets_cost_no_note_lookup_and_repeats_never_write_twice(tmp_path: Path) -> None:
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    entry, env = tenant_entry(sim, "acme", "http://127.0.0.1:9/v1")
    try:
        with environ(env):
            tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry]))
            clients = PSAClients(tenants)
            writer = WriterStage(tenants, clients)
            try:
                fresh_id, repeat_id = (sim.create_ticket(t.summary, t.details, t.scope) for t in new_tickets(2))
                events: dict[str, TicketClassified] = {}
                for ticket_id in (fresh_id, repeat_id):
                    ticket = await clients.get("acme").fetch_ticket(ticket_id)
                    candidate = (await clients.get("acme").fetch_taxonomy(ticket.scope)).candidates[0]
                    events[ticket_id] = TicketClassified(
                        tenant="acme", psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=utcnow(),
                        ticket=ticket, mode=Mode.APPLY,
                        classification=Classification(verdict=Verdict.CHOSEN, candidate=candidate, confidence=0.97,
                                                      reasoning="the user cannot sign in"),
                    )
                lookups = sim.requests["list_notes"]
                [done] = await writer.handle(events[fresh_id])
                assert sim.requests["list_notes"] == lookups  # a first delivery: no note lookup
                assert done.event.action.value == "applied" and sim.note_count(fresh_id) == 1

                first = events[repeat_id].model_copy(update={"repeat": True})  # e.g. a retry after a PSA 503
                [out] = await writer.handle(first)
                assert out.event.action.value == "applied" and sim.note_count(repeat_id) == 1
                [again] = await writer.handle(first)  # redelivered after the note was written
                assert (again.event.detail, sim.note_count(repeat_id)) == (REDELIVERY, 1)
                assert sim.requests["list_notes"] == lookups + 2
            finally:
                await writer.stop()
    finally:
        await sim.stop()

