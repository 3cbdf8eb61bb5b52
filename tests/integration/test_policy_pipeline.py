"""Tenant policy through the whole pipeline in one process (memory bus), Halo simulator and the test LLM server:
the technician race, PII never reaching the LLM or the note, the budget cap, the noise filter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.models import Action
from autotriage.core.service import ServiceHost
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import JSONDict, OpenAITestServer, Reply, default_responder
from tests.support.pipeline import environ, start_llm, tenant_entry, write_tenants
from tests.support.tickets import halo_sample

STAGES = ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"]


@dataclass
class Harness:
    """A running in-process pipeline for one tenant ``acme``."""

    sim: HaloSimulator
    llm: OpenAITestServer
    bus: MemoryBus
    host: ServiceHost

    @property
    def ingress(self) -> str:
        return f"http://127.0.0.1:{self.host.bound_port}"

    async def submit(self, tickets: list[tuple[str, str]]) -> list[str]:
        """Create tickets in Halo and send their new-ticket webhooks; return their ids."""
        ids = [self.sim.create_ticket(summary, details, 1) for summary, details in tickets]
        for ticket_id in ids:
            assert await self.sim.send_created_webhook(self.ingress, "acme", [ticket_id]) == 202
        return ids

    async def outcomes(self, count: int, timeout: float = 30) -> list[OutcomeRecorded]:
        """Wait for ``count`` outcomes (and a moment more, so a duplicate would show)."""
        topic = Topics().name(TICKETS_OUTCOMES)
        for _ in range(int(timeout / 0.05)):
            if len(self.bus.records(topic)) >= count:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        return [decode(r.value, OutcomeRecorded) for r in self.bus.records(topic)]


@asynccontextmanager
async def pipeline(tmp_path: Path, **overrides: Any) -> AsyncIterator[Harness]:
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    llm, llm_url = await start_llm()
    entry, env = tenant_entry(sim, "acme", llm_url, **overrides)
    try:
        with environ(env):
            tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry]))
            bus = MemoryBus()
            host = build_host(Settings(bus="memory", http_port=0, http_host="127.0.0.1"), tenants, STAGES, bus=bus)
            await host.start()
            try:
                yield Harness(sim, llm, bus, host)
            finally:
                await host.stop()
    finally:
        await sim.stop()
        await llm.stop()


def by_ticket(outcomes: list[OutcomeRecorded]) -> dict[str, OutcomeRecorded]:
    found = {o.ticket_id: o for o in outcomes}
    assert len(found) == len(outcomes), "one outcome per ticket"
    return found


# --- the race: a technician sets the category while the LLM is still thinking ----------------------------------
async def test_technician_sets_category_during_classification(tmp_path: Path) -> None:
    async with pipeline(tmp_path) as h:
        raced: list[str] = []

        async def technician_acts_meanwhile(body: JSONDict) -> Reply:
            prompt = json.dumps(body["messages"])
            if "black screen" in prompt:  # the raced ticket: the tech picks a category mid-request
                ticket_id = str(max(h.sim.tickets))  # the ticket created last
                h.sim.set_category(ticket_id, ("Network", "VPN"))
                raced.append(ticket_id)
            await asyncio.sleep(0.3)  # a slow model
            return default_responder(body, h.llm.oracle)

        h.llm.responder = technician_acts_meanwhile
        control = (await h.submit([("Printer jammed again", "the printer on floor 2 jams on every page")]))[0]
        assert [o.action for o in await h.outcomes(1)] == [Action.APPLIED]
        race = (await h.submit([("Laptop will not boot", "my laptop shows a black screen since this morning")]))[0]
        outcomes = by_ticket(await h.outcomes(2))
    assert raced == [race]
    assert (outcomes[race].action, outcomes[race].reason) == (Action.SKIPPED, "changed_by_technician")
    assert h.sim.category_of(race) == ("Network", "VPN")  # the technician's choice stands
    assert h.sim.note_count(race) == 0 and h.sim.update_count(race) == 0  # nothing written at all
    assert outcomes[race].category == "Hardware > Laptop"  # the audit record still shows what the model thought
    assert h.sim.note_count(control) == 1 and h.sim.update_count(control) == 1


# --- PII: none of it reaches the LLM, none of it comes back in the note -----------------------------------------
SIGNATURE = (
    "Outlook crashes when I open the calendar. Please call me back on +1 (555) 201-4477 or mail "
    "jane.doe@bayside-dental.example.com.\n\nKind regards,\nJane Doe\nOffice Manager | Bayside Dental\n"
    "T: +1 (555) 201-4477 | M: 0171 2345678\njane.doe@bayside-dental.example.com"
)
PASSWORD = (
    "Locked out, need a password reset. My old password: Summer2024! stopped working, and the temp password "
    "they gave me was Bluecrest1! - you can log in as me: jdoe@bayside-dental.example.com / Winter2025#"
)
RMM = (
    "Backup failure on SRV-FS01 (192.168.10.25) last night.\nDevice: SRV-FS01 (192.168.10.25)\nTarget NAS: "
    "10.20.0.7, replication peer 2001:db8:85a3::8a2e:370:7334\nCondition: backup job failed\n"
    "This alert was generated automatically."
)
ORIGINALS = [
    "+1 (555) 201-4477", "201-4477", "0171 2345678", "jane.doe@", "bayside-dental.example.com", "Summer2024!",
    "Bluecrest1!", "Winter2025#", "jdoe@", "192.168.10.25", "10.20.0.7", "2001:db8:85a3::8a2e:370:7334",
]


def echoing(server: OpenAITestServer) -> Callable[[JSONDict], Reply]:
    """A careless model: its reasoning quotes the ticket it was shown (placeholders included)."""

    def respond(body: JSONDict) -> Reply:
        reply = default_responder(body, server.oracle)
        answer = json.loads(reply.content or "{}")
        answer["reasoning"] = ("The ticket says: " + " ".join(str(body["messages"][-1]["content"]).split()))[:390]
        return Reply(json.dumps(answer), confidence=reply.confidence, choice=reply.choice)

    return respond


async def test_pii_never_reaches_the_llm_nor_the_note(tmp_path: Path) -> None:
    async with pipeline(tmp_path) as h:
        h.llm.responder = echoing(h.llm)
        ids = await h.submit([
            ("Outlook crashes - Jane Doe (+1 (555) 201-4477)", SIGNATURE),
            ("password reset please", PASSWORD),
            ("ALERT: Backup Failure on SRV-FS01 192.168.10.25", RMM),
        ])
        outcomes = by_ticket(await h.outcomes(3))
    prompts = [r.prompt_text for r in h.llm.completion_requests]
    assert len(prompts) >= 3
    for prompt in prompts:
        for value in ORIGINALS:
            assert value not in prompt, (value, prompt[-600:])
    shown = "\n".join(prompts)
    placeholders = ("[SECRET_1]", "[SECRET_2]", "[SECRET_3]", "[IP_1]", "[IP_2]", "[IP_3]", "[PHONE_1]", "[EMAIL_1]")
    for placeholder in placeholders:
        assert placeholder in shown, placeholder
    assert "SRV-FS01" in shown  # host names survive: they classify the ticket
    notes = [note for ticket_id in ids for note in h.sim.notes.get(ticket_id, [])]
    assert len(notes) == 3 and all(o.action in (Action.APPLIED, Action.SUGGESTED) for o in outcomes.values())
    assert any("The ticket says:" in note and "[" in note for note in notes)  # the echo came through ...
    for note in notes:
        for value in ORIGINALS:
            assert value not in note, (value, note)  # ... with placeholders only


# --- budget: a tiny USD cap stops the LLM calls within one request's cost -------------------------------------------
async def test_budget_cap_stops_llm_calls(tmp_path: Path) -> None:
    cap = 0.0004  # about four tickets of this small taxonomy on gpt-4o-mini
    async with pipeline(tmp_path, budget={"usd_per_day": cap}) as h:
        texts = [("Printer jammed again", "the printer on floor 2 jams on every page"),
                 ("VPN keeps dropping", "cannot stay connected to the vpn from home"),
                 ("Outlook crashes", "outlook closes when I open the calendar"),
                 ("wifi down in meeting room", "no wifi signal in the boardroom")]
        ids = await h.submit([(f"{s} {i}", d) for i in range(5) for s, d in texts])
        outcomes = by_ticket(await h.outcomes(len(ids)))
    requests = len(h.llm.completion_requests)
    classified = [o for o in outcomes.values() if o.reason != "budget_exhausted"]
    skipped = [o for o in outcomes.values() if o.reason == "budget_exhausted"]
    spent = sum(o.usage.cost_usd for o in classified)
    per_ticket = max(o.usage.cost_usd for o in classified)
    print(f"\ncap={cap} spent={spent:.6f} per_ticket={per_ticket:.6f} llm_requests={requests} "
          f"classified={len(classified)} skipped={len(skipped)}")
    assert set(outcomes) == set(ids)
    assert requests == sum(o.usage.calls for o in classified) < len(ids)
    assert skipped and all(o.action is Action.SKIPPED for o in skipped)
    assert spent >= cap  # the budget was used ...
    assert spent - cap <= per_ticket  # ... and passed by at most one request's cost
    for o in skipped:
        assert h.sim.note_count(o.ticket_id) == 0 and h.sim.update_count(o.ticket_id) == 0


# --- noise: skipped before any LLM call -----------------------------------------------------------------------------
async def test_noise_is_skipped_without_an_llm_call(tmp_path: Path) -> None:
    async with pipeline(tmp_path) as h:
        ids = await h.submit([
            ("Automatic reply: [#0036441] dock issue", "I'm currently on vacation and will return on Wednesday."),
            ("Undeliverable: RE: [#0039651] New starter", "Delivery has failed to these recipients or groups."),
            ("Out of office not working", "my out of office won't turn on in Outlook"),
        ])
        outcomes = by_ticket(await h.outcomes(3))
    assert [(outcomes[i].action, outcomes[i].reason) for i in ids[:2]] == [
        (Action.SKIPPED, "noise:out_of_office"), (Action.SKIPPED, "noise:delivery_failure")]
    assert outcomes[ids[2]].action is not Action.SKIPPED  # the real ticket about out-of-office was classified
    assert len(h.llm.completion_requests) == 1
    assert "won't turn on" in h.llm.completion_requests[0].prompt_text
    assert h.sim.note_count(ids[0]) == 0 and h.sim.note_count(ids[1]) == 0
