"""Autotask adapter against the Autotask simulator over real HTTP on 127.0.0.1: one test per protocol trap."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotriage.core.errors import PermanentError, TransientError, WebhookRejected
from autotriage.core.metrics import REGISTRY
from autotriage.core.models import Candidate
from autotriage.core.tenants import Tenant
from autotriage.psa.autotask import AutotaskClient, autotask_escape, normalise_zone
from autotriage.psa.base import CREATED, DEACTIVATED, OTHER, UPDATED, note_marker
from autotriage.psa.http import PSAError, PSAHttp
from autotriage.sandbox.autotask import API, AutotaskSimulator, dotnet_json
from autotriage.sandbox.common import SampleData, SampleTicket

Sim = AutotaskSimulator
Client = AutotaskClient
QUEUE = 29682833
SCOPES: list[dict[str, Any]] = [
    {
        "id": QUEUE, "name": "Tier 1 Queue",
        "paths": [
            ["Hardware", "Laptop"], ["Hardware", "Printer"], ["Hardware", "Other"], ["Network", "VPN"],
            ["Network", "Other"], ["Security"],
        ],
        "inactive_paths": [["Hardware", "Fax"], ["Legacy", "Mainframe"]],
    },
    {"id": 29682834, "name": "Projects", "paths": [["Network", "Firewall"]]},
]
HISTORY = [
    SampleTicket(id=str(i), scope=QUEUE, summary=f"old ticket {i}", details="", category=("Network", "VPN"))
    for i in range(5)
]


def sample() -> SampleData:
    return SampleData(scopes=SCOPES, history=list(HISTORY))


def make_tenant(sim: Sim, monkeypatch: pytest.MonkeyPatch, **psa: Any) -> Tenant:
    entry, env = sim.tenant_config("acme")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    entry["psa"].update(psa)
    return Tenant.model_validate(entry)


def make_client(tenant: Tenant) -> AutotaskClient:
    client = AutotaskClient(tenant)
    client.http = PSAHttp("autotask", max_concurrency=tenant.psa.max_concurrency, base_backoff_s=0.01)
    return client


@pytest.fixture
async def sim() -> AsyncIterator[AutotaskSimulator]:
    simulator = AutotaskSimulator(sample())
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AutotaskClient]:
    c = make_client(make_tenant(sim, monkeypatch))
    yield c
    await c.close()


def deactivated_count() -> float:
    labels = {"psa": "autotask", "tenant": "acme"}
    return REGISTRY.get_sample_value("autotriage_webhook_deactivated_total", labels) or 0.0


# --- webhook signature ----------------------------------------------------------------------------------
async def test_signature_valid(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop will not boot", "…", QUEUE)
    body, headers = sim.signed_delivery(sim.webhook_payload(tid))
    await client.verify_webhook(headers, body)
    await client.verify_webhook({k.lower(): v for k, v in headers.items()}, body)  # case-insensitive names


async def test_signature_invalid(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop will not boot", "…", QUEUE)
    body, headers = sim.signed_delivery(sim.webhook_payload(tid), secret="not-the-secret")
    with pytest.raises(WebhookRejected) as wrong_key:
        await client.verify_webhook(headers, body)
    body, headers = sim.signed_delivery(sim.webhook_payload(tid))
    with pytest.raises(WebhookRejected) as tampered:
        await client.verify_webhook(headers, body.replace(b'"Create"', b'"Delete"'))
    with pytest.raises(WebhookRejected) as garbage:
        await client.verify_webhook({"X-Hook-Signature": "sha1=not base64!"}, body)
    assert wrong_key.value.status == tampered.value.status == garbage.value.status == 401


async def test_signature_missing(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop will not boot", "…", QUEUE)
    body, headers = sim.signed_delivery(sim.webhook_payload(tid), sign=False)
    assert "X-Hook-Signature" not in headers
    with pytest.raises(WebhookRejected) as rejected:
        await client.verify_webhook(headers, body)
    assert (rejected.value.status, rejected.value.reason) == (401, "missing_signature")


async def test_signature_escaped_json_fallback(sim: Sim, client: Client) -> None:
    """Autotask signs .NET-escaped JSON; a body delivered unescaped must still verify (only via fallback)."""
    tid = sim.create_ticket("Drucker & Scanner \u2013 Büro/2 <dringend> +1 'x' \"q\" `y` 😀", "…", QUEUE)
    payload = sim.webhook_payload(tid)
    body, headers = sim.signed_delivery(payload, escaped=False)
    signed = dotnet_json(payload).encode()
    assert body != signed and "Büro".encode() in body and b"\\u00FC" in signed
    raw_digest = hmac.new(sim.webhook_secret.encode(), body, hashlib.sha1).digest()
    assert headers["X-Hook-Signature"] != "sha1=" + base64.b64encode(raw_digest).decode()  # raw bytes differ
    await client.verify_webhook(headers, body)


def test_escape_matches_an_independent_dotnet_encoder() -> None:
    payload = {"a": "x & y < z > 'q' \"d\" `b` +1 / \\ é ü 中 😀\n", "n": 3, "l": [True, None, "ß"]}
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    assert autotask_escape(plain) == dotnet_json(payload)


# --- webhook parsing ------------------------------------------------------------------------------------
async def test_only_create_on_ticket_starts_work(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("VPN down", "…", QUEUE)
    body, headers = sim.signed_delivery(sim.webhook_payload(tid))
    [event] = client.parse_webhook(headers, body)
    assert (event.ticket_id, event.event, event.scope_hint) == (tid, CREATED, str(QUEUE))
    payload = orjson.loads(body)
    assert event.delivery_id == f"{payload['Guid']}:{payload['SequenceNumber']}"

    def parse(**overrides: Any) -> str:
        item = {**payload, **overrides}
        return client.parse_webhook({}, orjson.dumps(item))[0].event

    assert parse(Action="create") == CREATED
    assert parse(Action="Update") == UPDATED
    assert parse(EntityType="TicketNote") == OTHER
    assert parse(EntityType="Company") == OTHER
    lowered = {k.lower(): v for k, v in payload.items()}
    assert client.parse_webhook({}, orjson.dumps(lowered))[0].event == CREATED
    no_guid = {k: v for k, v in payload.items() if k not in ("Guid", "SequenceNumber")}
    assert len(client.parse_webhook({}, orjson.dumps(no_guid))[0].delivery_id) == 32  # fallback hash
    for bad in (b"not json", b"[]", b"42", orjson.dumps({**payload, "Id": None}), orjson.dumps({"Id": 5})):
        with pytest.raises(WebhookRejected) as rejected:
            client.parse_webhook({}, bad)
        assert rejected.value.status == 400


OFFLINE_CLIENT = AutotaskClient(Tenant.model_validate({
    "id": "acme", "psa": {"kind": "autotask", "username": "u", "secret": {"env": "X"},
                          "integration_code": {"env": "Y"}, "zone_url": "http://127.0.0.1:9/atservicesrest/"},
    "webhook": {"secret": {"env": "Z"}},
}))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                st.sampled_from(["Action", "action", "EntityType", "Id", "EntityId", "Guid", "SequenceNumber",
                                 "Fields", "QueueID", "x"]), inner, max_size=6),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_parse_never_raises_anything_but_rejected(body: bytes) -> None:
    try:
        events = OFFLINE_CLIENT.parse_webhook({}, body)
    except WebhookRejected as exc:
        assert exc.status == 400
    else:
        assert all(isinstance(e.ticket_id, str) and e.delivery_id for e in events)


async def test_deactivated_is_reported_only_when_signed(sim: Sim, client: Client) -> None:
    before = deactivated_count()
    body, headers = sim.signed_delivery(sim.deactivated_payload(), sign=False)
    with pytest.raises(WebhookRejected):
        await client.verify_webhook(headers, body)
    body, headers = sim.signed_delivery(sim.deactivated_payload(), secret="forged")
    with pytest.raises(WebhookRejected):
        await client.verify_webhook(headers, body)
    assert deactivated_count() == before
    body, headers = sim.signed_delivery(sim.deactivated_payload())
    await client.verify_webhook(headers, body)
    assert deactivated_count() == before + 1
    [event] = client.parse_webhook(headers, body)
    assert event.event == DEACTIVATED and event.ticket_id == ""


# --- zone, tickets, taxonomy ----------------------------------------------------------------------------
def test_zone_url_normalised() -> None:
    expected = "https://webservices5.autotask.net/ATServicesRest/"
    assert normalise_zone("https://webservices5.autotask.net/ATServicesRest/") == expected
    assert normalise_zone("https://webservices5.autotask.net/ATServicesRest") == expected
    assert normalise_zone("https://webservices5.autotask.net//ATServicesRest//V1.0/") == expected
    assert normalise_zone("https://webservices5.autotask.net/ATServicesRest/v1.0/v1.0") == expected


async def test_zone_discovery_cached(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    sim.zone_answer = f"{sim.base_url}//atservicesrest/V1.0/"  # doubled slash and version: must be normalised
    tenant = make_tenant(sim, monkeypatch, zone_url=None, discovery_url=f"{sim.base_url}/atservicesrest/")
    client = make_client(tenant)
    tid = sim.create_ticket("Printer jam", "…", QUEUE)
    try:
        await client.fetch_ticket(tid)
        await client.fetch_ticket(tid)
    finally:
        await client.close()
    assert sim.requests["zone_information"] == 1
    assert sim.requests["get_ticket"] == 2


async def test_configured_zone_skips_discovery(sim: Sim, client: Client) -> None:
    await client.fetch_ticket(sim.create_ticket("Printer jam", "…", QUEUE))
    assert sim.requests["zone_information"] == 0


async def test_ticket_refetched_from_ids(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("VPN drops", "Full description only the API has", QUEUE, ("Network", "VPN"))
    body, headers = sim.signed_delivery(sim.webhook_payload(tid))
    assert b"Full description" not in body  # the callout carries ids and display fields only
    [event] = client.parse_webhook(headers, body)
    ticket = await client.fetch_ticket(event.ticket_id)
    issue, sub = sim.values_of(("Network", "VPN"))
    assert ticket.description == "Full description only the API has"
    assert (ticket.summary, ticket.scope, ticket.scope_name) == ("VPN drops", str(QUEUE), "Tier 1 Queue")
    assert ticket.category.path == ("Network", "VPN")
    assert ticket.category.native == {"issueType": issue, "subIssueType": sub}
    await client.fetch_ticket(tid)
    assert sim.requests["ticket_fields"] == 1  # picklist labels cached


async def test_taxonomy_active_values_and_parent_linkage(sim: Sim, client: Client) -> None:
    sim.set_active(("Legacy", "Mainframe"), True)  # an active sub-issue under an inactive issue type
    taxonomy = await client.fetch_taxonomy(str(QUEUE))
    paths = {c.path for c in taxonomy.candidates}
    assert paths == sim.valid_paths(QUEUE)
    assert ("Hardware", "Fax") not in paths and ("Legacy", "Mainframe") not in paths
    assert ("Security",) in paths and ("Network",) not in paths
    for candidate in taxonomy.candidates:
        issue, sub = sim.values_of(candidate.path)
        assert candidate.native == {"issueType": issue, "subIssueType": sub}
        assert candidate.id == (f"i{issue}-s{sub}" if sub is not None else f"i{issue}")
    others = [c.native for c in taxonomy.candidates if c.path[-1] == "Other"]
    assert len(others) == 2 and others[0]["subIssueType"] != others[1]["subIssueType"]
    assert taxonomy.scope_name == "Tier 1 Queue"


# --- writes ---------------------------------------------------------------------------------------------
def candidate_for(sim: AutotaskSimulator, path: tuple[str, ...]) -> Candidate:
    issue, sub = sim.values_of(path)
    return Candidate(id=f"i{issue}-s{sub}", path=path, native={"issueType": issue, "subIssueType": sub})


async def test_patch_goes_to_tickets_root_with_id_in_body(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop fan loud", "…", QUEUE)
    ticket = await client.fetch_ticket(tid)
    await client.write_category(ticket, candidate_for(sim, ("Hardware", "Laptop")))
    assert sim.category_of(tid) == ("Hardware", "Laptop")
    assert sim.update_count(tid) == 1
    assert sim.requests["update_ticket"] == 1 and sim.requests["update_ticket_by_url"] == 0
    headers = {"ApiIntegrationCode": sim.integration_code, "UserName": sim.username, "Secret": sim.secret}
    async with aiohttp.ClientSession() as session, session.patch(
        f"{sim.base_url}{API}/Tickets/{tid}", json={"issueType": 10}, headers=headers
    ) as resp:
        assert resp.status == 405


async def test_validation_error_surfaced_and_not_retried(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop fan loud", "…", QUEUE)
    ticket = await client.fetch_ticket(tid)
    issue, _ = sim.values_of(("Hardware",))
    _, vpn = sim.values_of(("Network", "VPN"))
    wrong = Candidate(id="bad", path=("Hardware", "VPN"), native={"issueType": issue, "subIssueType": vpn})
    with pytest.raises(PermanentError) as refused:
        await client.write_category(ticket, wrong)
    assert "does not belong to Issue Type" in refused.value.message
    assert sim.requests["update_ticket"] == 1 and sim.rejected_writes == 1 and sim.update_count(tid) == 0


async def test_transient_500s_are_still_retried(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Laptop fan loud", "…", QUEUE)
    ticket = await client.fetch_ticket(tid)
    sim.inject(500, operations={"update_ticket"})  # no errors list: a real server error
    sim.inject(500, operations={"update_ticket"}, body={"errors": ["Thread limit exceeded, try again"]})
    await client.write_category(ticket, candidate_for(sim, ("Hardware", "Printer")))
    assert sim.requests["update_ticket"] == 3 and sim.category_of(tid) == ("Hardware", "Printer")


async def test_note_type_and_publish_by_label(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(sim, monkeypatch, note_type="task  SUMMARY", note_publish="Internal Only")
    client = make_client(tenant)
    tid = sim.create_ticket("Printer jam", "…", QUEUE)
    try:
        await client.add_note(tid, "Set Hardware > Printer\n" + note_marker("acme", tid))
        await client.add_note(tid, "second")
    finally:
        await client.close()
    [first, _] = sim.ticket_notes[int(tid)]
    assert (first["noteType"], first["publish"]) == (3, 2)
    assert first["title"] and sim.note_count(tid) == 2
    assert sim.requests["note_fields"] == 1


@pytest.mark.parametrize(("setting", "label"), [("note_publish", "Nobody"), ("note_type", "Workflow")])
async def test_unknown_note_label_is_a_clear_error(
    sim: Sim, monkeypatch: pytest.MonkeyPatch, setting: str, label: str
) -> None:
    client = make_client(make_tenant(sim, monkeypatch, **{setting: label}))
    tid = sim.create_ticket("Printer jam", "…", QUEUE)
    try:
        with pytest.raises(PermanentError) as refused:
            await client.add_note(tid, "text")
    finally:
        await client.close()
    message = refused.value.message
    assert f"psa.{setting}" in message and repr(label) in message and "available:" in message
    assert "'Internal Only'" in message or "'Task Notes'" in message
    assert sim.note_count(tid) == 0 and sim.requests["add_note"] == 0


# --- paging, limits -------------------------------------------------------------------------------------
async def test_notes_pagination_via_next_page_url(sim: Sim, client: Client) -> None:
    sim.page_size = 2
    tid = sim.create_ticket("Printer jam", "…", QUEUE)
    for i in range(4):
        await client.add_note(tid, f"note {i}")
    marker = note_marker("acme", tid)
    await client.add_note(tid, f"AI note\n{marker}")
    assert await client.has_note_with(tid, marker)
    assert sim.requests["list_notes"] == 3
    assert not await client.has_note_with(tid, note_marker("acme", "999"))


async def test_history_pagination_and_filter(sim: Sim, client: Client) -> None:
    sim.page_size = 2
    sim.create_ticket("open, categorized", "…", QUEUE, ("Hardware", "Laptop"))  # not complete: excluded
    done = sim.create_ticket("complete, no category", "…", QUEUE)
    sim.tickets[int(done)]["status"] = 5
    rows = [h async for h in client.history()]
    assert [h.ticket.summary for h in rows] == [f"old ticket {i}" for i in range(5)]
    assert all(h.path == ("Network", "VPN") for h in rows)
    assert sim.requests["query_tickets"] == 3
    assert len([h async for h in client.history(limit=3)]) == 3


async def test_history_stops_near_the_hourly_threshold(sim: Sim, client: Client) -> None:
    sim.threshold_used = 8500
    with pytest.raises(TransientError) as stopped:
        _ = [h async for h in client.history()]
    assert "85%" in stopped.value.message and sim.requests["query_tickets"] == 0


async def test_429_backoff_then_success(sim: Sim, client: Client) -> None:
    tid = sim.create_ticket("Printer jam", "…", QUEUE)
    sim.inject(429, times=2, retry_after=0, operations={"get_ticket"})
    ticket = await client.fetch_ticket(tid)
    assert ticket.id == tid and sim.requests["get_ticket"] == 3


async def test_bad_credentials_are_clear_and_not_retried(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(sim, monkeypatch)
    monkeypatch.setenv("ACME_AUTOTASK_SECRET", "wrong")
    client = make_client(Tenant.model_validate(tenant.model_dump(mode="json")))
    try:
        with pytest.raises(PSAError) as refused:
            await client.fetch_ticket(sim.create_ticket("x", "…", QUEUE))
    finally:
        await client.close()
    assert refused.value.status == 401 and "psa.integration_code" in refused.value.message
    assert sim.requests["get_ticket"] == 1


async def test_never_more_than_3_concurrent_calls(sim: Sim, client: Client) -> None:
    ids = [sim.create_ticket(f"ticket {i}", "…", QUEUE) for i in range(10)]
    await client.fetch_ticket(ids[0])  # warm the picklist cache
    sim.latency_s = 0.05
    tickets = await asyncio.gather(*(client.fetch_ticket(t) for t in ids))
    assert [t.id for t in tickets] == ids
    assert sim.max_in_flight["Tickets"] == 3 and sim.thread_rejections == 0


async def test_simulator_enforces_the_thread_limit(sim: AutotaskSimulator) -> None:
    """Control for the test above: an unthrottled client does get 429s."""
    tid = sim.create_ticket("x", "…", QUEUE)
    sim.latency_s = 0.05
    headers = {"ApiIntegrationCode": sim.integration_code, "UserName": sim.username, "Secret": sim.secret}

    async def get(session: aiohttp.ClientSession) -> int:
        async with session.get(f"{sim.base_url}{API}/Tickets/{tid}", headers=headers) as resp:
            return resp.status

    async with aiohttp.ClientSession() as session:
        statuses = await asyncio.gather(*(get(session) for _ in range(10)))
    assert statuses.count(429) >= 1 and sim.thread_rejections >= 1


# --- the ticket's sender: the contact's e-mail, one cached call per contact -----------------------------------
async def test_the_contacts_email_becomes_the_sender_with_one_call_per_contact(sim: Sim, client: Client) -> None:
    sim.add_contact(41001, "Priya", "Natarajan", "priya.n@harbourdental.example")
    first = await client.fetch_ticket(sim.create_ticket("Outlook keeps asking for a password", "…", QUEUE,
                                                        contact_id=41001))
    second = await client.fetch_ticket(sim.create_ticket("Scanner offline", "…", QUEUE, contact_id=41001))
    assert first.contact_email == second.contact_email == "priya.n@harbourdental.example"
    assert sim.requests["get_contact"] == 1  # the second ticket of the same contact is answered from the cache


async def test_a_ticket_without_contact_makes_no_contact_call(sim: Sim, client: Client) -> None:
    ticket = await client.fetch_ticket(sim.create_ticket("Monitoring: disk C: 95% full", "…", QUEUE,
                                                         contact_id=None))
    assert ticket.contact_email == "" and sim.requests["get_contact"] == 0


@pytest.mark.parametrize(("primary", "second", "sender"), [
    ("", "front.desk@harbourdental.example", "front.desk@harbourdental.example"),  # only the 2nd address is set
    ("not an address", "", ""),
    ("  reception@harbourdental.example ", "", "reception@harbourdental.example"),
])
async def test_the_first_usable_contact_address_is_the_sender(
    sim: Sim, client: Client, primary: str, second: str, sender: str
) -> None:
    sim.add_contact(41002, "Front", "Desk", primary, email2=second)
    ticket = await client.fetch_ticket(sim.create_ticket("Phones down", "…", QUEUE, contact_id=41002))
    assert ticket.contact_email == sender


async def test_an_unknown_contact_gives_no_sender_and_is_not_asked_again(sim: Sim, client: Client) -> None:
    for _ in range(2):  # a contact deleted since the ticket was opened: Autotask answers {"item": null}
        ticket = await client.fetch_ticket(sim.create_ticket("VPN drops", "…", QUEUE, contact_id=99999))
        assert ticket.contact_email == "" and ticket.summary == "VPN drops"
    assert sim.requests["get_contact"] == 1


@pytest.mark.parametrize("status", [500, 403, 404])
async def test_a_failing_contact_call_never_costs_the_ticket(sim: Sim, client: Client, status: int) -> None:
    sim.add_contact(41003, "Sam", "Okafor", "sam@harbourdental.example")
    sim.inject(status, times=20, operations={"get_contact"}, body={"errors": ["Contacts: access denied"]}
               if status == 403 else None)
    tid = sim.create_ticket("New starter laptop", "Please set up a laptop for Ana", QUEUE, contact_id=41003)
    ticket = await client.fetch_ticket(tid)
    assert ticket.id == tid and ticket.description.startswith("Please set up") and ticket.contact_email == ""
    asked = sim.requests["get_contact"]
    await client.fetch_ticket(tid)  # the failure is remembered for a while: no call storm while Contacts fails
    assert sim.requests["get_contact"] == asked


async def test_a_bounce_contact_lets_the_noise_filter_see_the_bounce(sim: Sim, client: Client) -> None:
    from autotriage.policy.noise import detect_noise

    sim.add_contact(41004, "Mail", "Delivery System", "MAILER-DAEMON@mail.harbourdental.example")
    ticket = await client.fetch_ticket(sim.create_ticket(
        "Undeliverable: quarterly statement", "Your message couldn't be delivered to accounts@oldvendor.example.",
        QUEUE, contact_id=41004))
    noise = detect_noise(ticket)
    assert ticket.contact_email.startswith("MAILER-DAEMON@") and noise is not None
