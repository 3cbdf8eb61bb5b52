"""ConnectWise adapter against the ConnectWise simulator over real HTTP on 127.0.0.1: one test per trap."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotriage.core.errors import PermanentError, WebhookRejected
from autotriage.core.models import Candidate
from autotriage.core.tenants import Tenant
from autotriage.psa.base import CREATED, DELETED, OTHER, UPDATED, WebhookEvent, note_marker
from autotriage.psa.connectwise import ConnectWiseClient, _PublicOnlyResolver, next_link, signature_of
from autotriage.psa.http import PSAError, PSAHttp
from autotriage.sandbox.common import SampleData
from autotriage.sandbox.connectwise import ConnectWiseSimulator

SCOPES: list[dict[str, Any]] = [
    {
        "id": 12,
        "name": "Service Desk",
        "paths": [
            ["Hardware", "Laptop", "Won't boot"],
            ["Hardware", "Laptop"],
            ["Hardware", "Printer", "Jammed"],
            ["Network", "VPN"],
            ["Network"],
            ["Software", "Office", "Outlook"],
        ],
        "inactive_paths": [["Hardware", "Printer", "Fax"], ["Legacy", "Modem"], ["Telephony"]],
    },
    {
        "id": 40,
        "name": "Big Board",
        "paths": [[f"Type {t}", f"Sub {s}", f"Item {i}"]
                  for t in range(11) for s in range(10) for i in range(10)],
    },
]

Sim = ConnectWiseSimulator
CW = ConnectWiseClient
Factory = Callable[..., ConnectWiseClient]


@pytest.fixture
async def sim() -> AsyncIterator[ConnectWiseSimulator]:
    simulator = ConnectWiseSimulator(SampleData(scopes=SCOPES), seed_history=False)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def make_client(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Factory]:
    clients: list[ConnectWiseClient] = []

    def factory(**psa: Any) -> ConnectWiseClient:
        entry, env = sim.tenant_config("acme-msp")
        entry["psa"].update(psa)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        client = ConnectWiseClient(Tenant.model_validate(entry))
        client.http = PSAHttp("connectwise", base_backoff_s=0.01, max_wait_s=5.0)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
def client(make_client: Factory) -> ConnectWiseClient:
    return make_client()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def candidate(taxonomy_candidates: tuple[Candidate, ...], *path: str) -> Candidate:
    return next(c for c in taxonomy_candidates if c.path == path)


# --- plumbing ------------------------------------------------------------------------------------------
async def test_codebase_discovered_once_and_headers_sent(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Laptop dead", "It will not boot", 12)
    await client.fetch_ticket(tid)
    await client.fetch_ticket(tid)
    assert sim.requests["company_info"] == 1
    assert await client.base_url() == f"{sim.base_url}/v2025_1/apis/3.0/"
    assert all(path.startswith("/v2025_1/apis/3.0/") for _, path in sim.api_log)
    assert sim.accept_headers == {"application/vnd.connectwise.com+json; version=2025.1"}


async def test_configured_codebase_skips_discovery(sim: Sim, make_client: Factory) -> None:
    client = make_client(codebase="v2025_1/")
    await client.fetch_ticket(sim.create_ticket("x", "y", 12))
    assert sim.requests["company_info"] == 0


async def test_wrong_credentials_are_a_clear_permanent_error(
    sim: Sim, make_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(private_key={"env": "OTHER_CW_KEY"})
    monkeypatch.setenv("OTHER_CW_KEY", "wrong")
    with pytest.raises(PSAError) as info:
        await client.fetch_ticket(sim.create_ticket("x", "y", 12))
    assert info.value.status == 401 and "Authentication failed" in info.value.message
    assert sim.requests["get_ticket"] == 1


async def test_simulator_requires_client_id(sim: Sim, client: CW) -> None:
    headers = client.auth_headers()
    del headers["clientId"]
    url = f"{sim.base_url}/v2025_1/apis/3.0/service/tickets"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 403
        assert "clientId" in (await resp.json())["message"]


# --- webhook parsing -----------------------------------------------------------------------------------
def parse(client: CW, payload: dict[str, Any]) -> WebhookEvent:
    events = client.parse_webhook({}, body_of(payload))
    assert len(events) == 1
    return events[0]


async def test_entity_as_json_string(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN down", "cannot connect", 12)
    payload = sim.webhook_payload(tid)
    assert isinstance(payload["Entity"], str)
    event = parse(client, payload)
    assert (event.ticket_id, event.event, event.scope_hint) == (tid, CREATED, "12")
    assert event.delivery_id == payload["MessageId"]


async def test_entity_as_object_and_id_from_entity(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN down", "cannot connect", 12)
    payload = sim.webhook_payload(tid)
    payload["Entity"] = json.loads(payload["Entity"])
    del payload["ID"]
    event = parse(client, payload)
    assert (event.ticket_id, event.event, event.scope_hint) == (tid, CREATED, "12")


@pytest.mark.parametrize("message_key", ["MessageID", "messageId", "MESSAGEID"])
async def test_key_casing_variants(sim: Sim, client: CW, message_key: str) -> None:
    tid = sim.create_ticket("VPN down", "cannot connect", 12)
    payload = sim.webhook_payload(tid)
    renamed = {
        "MessageId": message_key, "CompanyId": "CompanyID", "Action": "action", "Type": "TYPE", "ID": "id",
        "Entity": "entity",
    }
    payload = {renamed.get(k, k): v for k, v in payload.items()}
    event = parse(client, payload)
    assert (event.ticket_id, event.event) == (tid, CREATED)
    assert event.delivery_id == payload[message_key]


@pytest.mark.parametrize(
    ("action", "kind", "expected"),
    [("added", "ticket", CREATED), ("updated", "ticket", UPDATED), ("deleted", "ticket", DELETED),
     ("Added", "Ticket", CREATED), ("merged", "ticket", OTHER), ("added", "company", OTHER)],
)
async def test_only_ticket_added_is_created(
    sim: Sim, client: CW, action: str, kind: str, expected: str
) -> None:
    tid = sim.create_ticket("VPN down", "cannot connect", 12)
    payload = sim.webhook_payload(tid, action=action.lower())
    payload.update(Action=action, Type=kind)
    assert parse(client, payload).event == expected


async def test_deleted_with_null_entity(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN down", "cannot connect", 12)
    payload = sim.webhook_payload(tid, action="deleted")
    assert payload["Entity"] is None
    event = parse(client, payload)
    assert (event.ticket_id, event.event, event.scope_hint) == (tid, DELETED, "")


@pytest.mark.parametrize("record_type", ["ProjectTicket", "ProjectIssue"])
async def test_project_ticket_ignored(sim: Sim, client: CW, record_type: str) -> None:
    tid = sim.create_ticket("Phase 2 cabling", "", 12, record_type=record_type)
    assert parse(client, sim.webhook_payload(tid)).event == OTHER


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'"text"', b"{}", b'{"ID": "../../system/members", "Type": "ticket"}',
     b'{"ID": true, "Entity": "{\\"id\\": \\"x\\"}"}', b'{"ID": -4}', b"\xff\xfe"],
)
def test_malformed_callbacks_rejected_400(client: CW, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as info:
        client.parse_webhook({}, body)
    assert info.value.status == 400


def test_delivery_id_falls_back_to_body_hash(client: CW) -> None:
    body = b'{"ID": 77, "Type": "ticket", "Action": "added"}'
    first, second = client.parse_webhook({}, body)[0], client.parse_webhook({}, body)[0]
    assert first.delivery_id == second.delivery_id and len(first.delivery_id) == 32


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["ID", "id", "Entity", "entity", "MessageId", "Type", "Action", "Metadata", "x"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(KEYS, JSON | JSON.map(json.dumps), max_size=6),
    cut=st.integers(min_value=0, max_value=400),
    flip=st.integers(min_value=0, max_value=255),
)
def test_parse_never_raises_anything_else(client: CW, fields: dict[str, Any], cut: int, flip: int) -> None:
    base = body_of(fields)
    mutated = base[:cut] + bytes([flip]) + base[cut + 1 :]
    for body in (base, mutated, base[:cut]):
        try:
            events = client.parse_webhook({}, body)
        except WebhookRejected as exc:
            assert exc.status == 400
        else:
            assert all(e.ticket_id.isdigit() for e in events)


# --- webhook verification ------------------------------------------------------------------------------
async def test_signature_valid(sim: Sim, client: CW) -> None:
    body = body_of(sim.webhook_payload(sim.create_ticket("x", "y", 12)))
    assert "//system/callbackkey" in sim.key_url
    await client.verify_webhook({"X-Content-Signature": sim.sign(body)}, body)
    assert sim.requests["callback_key"] == 1
    assert sim.sign(body) == signature_of(sim.signing_key, body)


async def test_signature_invalid_or_missing(sim: Sim, client: CW) -> None:
    body = body_of(sim.webhook_payload(sim.create_ticket("x", "y", 12)))
    tampered = body.replace(b'"added"', b'"updated"')
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook({"x-content-signature": sim.sign(body)}, tampered)
    assert (info.value.status, info.value.reason) == (401, "bad_signature")
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook({}, body)
    assert (info.value.status, info.value.reason) == (401, "missing_signature")
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook({"x-content-signature": "\u00e9\u00e9"}, body)
    assert info.value.reason == "bad_signature"


async def test_signing_key_cached(sim: Sim, client: CW) -> None:
    bodies = [body_of(sim.webhook_payload(sim.create_ticket(t, "y", 12))) for t in ("one", "two", "three")]
    await asyncio.gather(*(client.verify_webhook({"x-content-signature": sim.sign(b)}, b) for b in bodies))
    await client.verify_webhook({"x-content-signature": sim.sign(bodies[0])}, bodies[0])
    assert sim.requests["callback_key"] == 1


async def test_key_fetch_retries_once_with_auth(sim: Sim, client: CW) -> None:
    sim.key_requires_auth = True
    body = body_of(sim.webhook_payload(sim.create_ticket("x", "y", 12)))
    await client.verify_webhook({"x-content-signature": sim.sign(body)}, body)
    assert sim.key_requests == [False, True]


async def refused(client: CW, sim: Sim, key_url: str) -> WebhookRejected:
    payload = sim.webhook_payload(sim.create_ticket("x", "y", 12))
    payload["Metadata"] = {"key_url": key_url}
    body = body_of(payload)
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook({"x-content-signature": sim.sign(body)}, body)
    assert info.value.status == 401
    return info.value


@pytest.mark.parametrize(
    "key_url",
    ["https://10.0.0.5/v2025_1//system/callbackkey/index.rails?companyName=acme&id=1",
     "https://evil.example.com/v2025_1//system/callbackkey/index.rails",
     "https://api-na.myconnectwise.net.evil.example.com/x", "https://api-na.myconnectwise.net@evil.example.com/x",
     "https://api-na.myconnectwise.net:8443/x", "file:///etc/passwd", "not a url"],
)
async def test_key_url_other_hosts_refused(sim: Sim, client: CW, key_url: str) -> None:
    error = await refused(client, sim, key_url)
    assert error.reason == "key_url_refused"
    assert sim.requests["callback_key"] == 0 and sim.key_requests == []


async def test_key_url_private_address_refused(sim: Sim, make_client: Factory) -> None:
    client = make_client(allow_private_key_url=False, key_url_hosts=[sim.host, "10.0.0.5"])
    for key_url in (sim.key_url, "https://10.0.0.5/v2025_1//system/callbackkey/index.rails?companyName=acme"):
        error = await refused(client, sim, key_url)
        assert error.reason == "key_url_refused" and "non-public" in error.message
    assert sim.requests["callback_key"] == 0 and sim.key_requests == []


async def test_key_url_http_refused_for_https_tenant(sim: Sim, make_client: Factory) -> None:
    client = make_client(scheme="https")
    error = await refused(client, sim, sim.key_url)
    assert error.reason == "key_url_refused" and "https" in error.message
    assert sim.requests["callback_key"] == 0 and sim.key_requests == []


async def test_key_url_redirect_refused(sim: Sim, client: CW) -> None:
    sim.key_redirect = sim.key_url.replace("//system", "/system")
    error = await refused(client, sim, sim.key_url)
    assert error.reason == "key_fetch_failed" and "redirect" in error.message
    assert sim.requests["callback_key"] == 1  # the 302 itself; its Location was never followed


def test_key_url_allow_list(client: CW) -> None:
    for host in ("api-na.myconnectwise.net", "api-eu.myconnectwise.net", "na.myconnectwise.net",
                 "sandbox-na.myconnectwise.net", "api-staging.connectwisedev.com"):
        url = f"https://{host}/v2025_1//system/callbackkey/index.rails?companyName=Acme&id=e17e"
        assert client.check_key_url(url) == (host, 443)
    for url in ("https://www.myconnectwise.net/x?companyName=acme",
                "https://api-na.myconnectwise.net/v2025_1//system/callbackkey/index.rails?companyName=evil",
                "https://api-na.myconnectwise.net/v2025_1//system/callbackkey/index.rails?id=e17e"):
        with pytest.raises(WebhookRejected):
            client.check_key_url(url)


async def test_key_url_of_another_company_refused(sim: Sim, client: CW) -> None:
    error = await refused(client, sim, sim.key_url.replace("companyName=acme", "companyName=evil"))
    assert error.reason == "key_url_refused" and "companyName" in error.message
    payload = sim.webhook_payload(sim.create_ticket("x", "y", 12))
    payload["CompanyId"] = "evil"
    body = body_of(payload)
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook({"x-content-signature": sim.sign(body)}, body)
    assert info.value.reason == "wrong_company"
    assert sim.requests["callback_key"] == 0


async def test_credentials_only_sent_to_the_key_endpoint(sim: Sim, client: CW) -> None:
    error = await refused(client, sim, f"{sim.base_url}/v2025_1/apis/3.0/service/tickets?companyName=acme")
    assert error.reason == "key_fetch_failed"
    assert sim.requests["list_tickets"] == 1  # the anonymous attempt only, no retry with the tenant's keys


async def test_webhook_end_to_end_through_an_ingress(sim: Sim, client: CW) -> None:
    received: list[tuple[str, list[WebhookEvent]]] = []

    async def ingress(request: web.Request) -> web.Response:
        body = await request.read()
        await client.verify_webhook(request.headers, body)
        received.append((request.query.get("recordId", ""), client.parse_webhook(request.headers, body)))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/connectwise/{tenant}", ingress)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        tids = [sim.create_ticket("a", "b", 12), sim.create_ticket("c", "d", 12)]
        assert await sim.send_created_webhook(f"http://127.0.0.1:{port}", "acme-msp", tids) == 200
    finally:
        await runner.cleanup()
    assert [(r, [(e.ticket_id, e.event) for e in ev]) for r, ev in received] == [
        (tids[0], [(tids[0], CREATED)]), (tids[1], [(tids[1], CREATED)])
    ]


# --- tickets -------------------------------------------------------------------------------------------
async def test_ticket_mapped_with_category(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Laptop dead", "No POST, power LED on", 12, ("Hardware", "Laptop", "Won't boot"))
    ticket = await client.fetch_ticket(tid)
    assert (ticket.id, ticket.summary) == (tid, "Laptop dead")
    assert (ticket.scope, ticket.scope_name) == ("12", "Service Desk")
    assert ticket.description == "No POST, power LED on"
    assert ticket.category.path == ("Hardware", "Laptop", "Won't boot")
    assert ticket.category.native["type"]["name"] == "Hardware"
    assert ticket.created_at is not None and ticket.company == "Bayside Dental"


async def test_ticket_without_notes(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Printer", "", 12)
    ticket = await client.fetch_ticket(tid)
    assert ticket.description == "" and not ticket.category.is_set and ticket.category.native == {}


async def test_description_is_first_detail_note(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Outlook crashes", "", 12)
    for n in range(30):  # more than one default page of notes before the description
        sim.add_technician_note(tid, f"internal {n}", internal=True)
    sim.add_technician_note(tid, "Outlook closes on start", detail=True)
    sim.add_technician_note(tid, "Later discussion", detail=True)
    assert (await client.fetch_ticket(tid)).description == "Outlook closes on start"
    assert sim.requests["list_notes"] == 2


async def test_invalid_ticket_id_never_reaches_the_psa(sim: Sim, client: CW) -> None:
    with pytest.raises(PermanentError):
        await client.fetch_ticket("../system/members")
    assert sim.api_log == []


# --- taxonomy ------------------------------------------------------------------------------------------
async def test_taxonomy_excludes_inactive_values(sim: Sim, client: CW) -> None:
    taxonomy = await client.fetch_taxonomy("12")
    paths = {c.path for c in taxonomy.candidates}
    assert paths == sim.valid_paths(12) and len(paths) == 6
    assert not any(p[0] in ("Legacy", "Telephony") or "Fax" in p for p in paths)
    assert taxonomy.scope_name == "Service Desk"
    leaf = candidate(taxonomy.candidates, "Hardware", "Laptop", "Won't boot")
    assert leaf.id == "t{type[id]}-s{subType[id]}-i{item[id]}".format(**leaf.native)
    only_type = candidate(taxonomy.candidates, "Network")
    assert only_type.native["subType"] is None and only_type.native["item"] is None
    again = await client.fetch_taxonomy("12")
    assert [c.id for c in again.candidates] == [c.id for c in taxonomy.candidates]


async def test_taxonomy_follows_link_over_1000_rows(sim: Sim, client: CW) -> None:
    taxonomy = await client.fetch_taxonomy("40")
    assert len(taxonomy.candidates) == 1100
    assert sim.requests["associations"] == 2


async def test_public_only_resolver_drops_private_addresses() -> None:
    with pytest.raises(OSError, match="resolves only to non-public addresses"):
        await _PublicOnlyResolver().resolve("localhost", 80)


def test_link_header_parsing() -> None:
    header = '<https://h/a?page=1>; rel="first", <https://h/a?page=3>; rel=next, <https://h/?p=9>; rel=last'
    assert next_link(header) == "https://h/a?page=3"
    assert next_link('<https://h/a?page=1>; rel="first"') is None
    assert next_link(None) is None


# --- writes --------------------------------------------------------------------------------------------
async def test_write_sends_whole_objects_and_confirms(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Laptop dead", "no boot", 12)
    taxonomy = await client.fetch_taxonomy("12")
    target = candidate(taxonomy.candidates, "Hardware", "Laptop", "Won't boot")
    await client.write_category(await client.fetch_ticket(tid), target)
    assert sim.category_of(tid) == target.path and sim.update_count(tid) == 1
    (_, ops), = sim.patches
    assert [op["path"] for op in ops] == ["type", "subType", "item"]
    assert all(set(op["value"]) == {"id"} for op in ops)
    assert sim.false_200s == 0


async def test_write_removes_an_item_the_candidate_lacks(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("Laptop", "slow", 12, ("Hardware", "Laptop", "Won't boot"))
    target = candidate((await client.fetch_taxonomy("12")).candidates, "Hardware", "Laptop")
    await client.write_category(await client.fetch_ticket(tid), target)
    assert sim.category_of(tid) == ("Hardware", "Laptop")
    assert sim.patches[0][1][-1] == {"op": "remove", "path": "item"}


async def test_invalid_combination_is_permanent_and_not_retried(
    sim: Sim, client: CW
) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    taxonomy = await client.fetch_taxonomy("12")
    hardware = candidate(taxonomy.candidates, "Hardware", "Laptop")
    vpn = candidate(taxonomy.candidates, "Network", "VPN")
    native = {**hardware.native, "subType": vpn.native["subType"]}
    mixed = Candidate(id="bad", path=("Hardware", "VPN"), native=native)
    with pytest.raises(PermanentError) as info:
        await client.write_category(await client.fetch_ticket(tid), mixed)
    assert info.value.reason == "psa_http_400"
    assert "InvalidObject" in info.value.message and "combination" in info.value.message
    assert sim.requests["patch_ticket"] == 1 and sim.rejected_writes == 1 and sim.update_count(tid) == 0


async def test_sub_path_patch_is_a_false_200(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    url = f"{await client.base_url()}service/tickets/{tid}"
    async with aiohttp.ClientSession() as session:
        ops = [{"op": "replace", "path": "type/id", "value": 1}]
        async with session.patch(url, json=ops, headers=client.auth_headers()) as resp:
            assert resp.status == 200
    assert sim.category_of(tid) == () and sim.false_200s == 1 and sim.update_count(tid) == 0


async def test_write_not_applied_is_detected_by_re_read(
    sim: Sim, client: CW, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    target = candidate((await client.fetch_taxonomy("12")).candidates, "Network", "VPN")
    def sub_paths(ticket: Any, target: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"op": "replace", "path": f"{k}/id", "value": v} for k, v in target.items()]

    monkeypatch.setattr(ConnectWiseClient, "patch_ops", staticmethod(sub_paths))
    with pytest.raises(PermanentError) as info:
        await client.write_category(await client.fetch_ticket(tid), target)
    assert info.value.reason == "psa_write_not_applied"
    assert sim.false_200s == 1 and sim.category_of(tid) == ()


async def test_note_is_internal_and_idempotency_check(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    marker = note_marker("acme-msp", tid)
    assert not await client.has_note_with(tid, marker)
    await client.add_note(tid, f"Auto-categorized as Network > VPN.\n{marker}")
    assert await client.has_note_with(tid, marker)
    assert sim.note_count(tid) == 1
    note = sim.ticket_notes[int(tid)][-1]
    assert note["internalAnalysisFlag"] is True and note["detailDescriptionFlag"] is False
    assert note["processNotifications"] is False
    assert (await client.fetch_ticket(tid)).description == "down"


async def test_note_without_flags_rejected_with_cw_message(
    sim: Sim, client: CW
) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    with pytest.raises(PSAError) as info:
        await client._api("POST", f"service/tickets/{tid}/notes", "add_note", json={"text": "hello"})
    assert info.value.status == 400
    assert "serviceNote object is invalid" in info.value.message and "Please choose" in info.value.message
    assert sim.note_count(tid) == 0


# --- rate limits and server errors ---------------------------------------------------------------------
async def test_429_retry_after_then_success(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    sim.inject(429, retry_after=1, operations={"get_ticket"})
    started = time.monotonic()
    assert (await client.fetch_ticket(tid)).id == tid
    assert time.monotonic() - started >= 0.9
    assert sim.requests["get_ticket"] == 2


async def test_500_retried(sim: Sim, client: CW) -> None:
    tid = sim.create_ticket("VPN", "down", 12)
    sim.inject(500, times=2, operations={"list_notes"})
    assert (await client.fetch_ticket(tid)).description == "down"
    assert sim.requests["list_notes"] == 3


# --- history -------------------------------------------------------------------------------------------
async def test_history_reads_closed_categorized_tickets(sim: Sim, client: CW) -> None:
    vpn = ("Network", "VPN")
    closed = [sim.create_ticket(f"old {n}", f"details {n}", 12, vpn, closed=True) for n in range(3)]
    sim.create_ticket("open", "x", 12, ("Network", "VPN"))
    sim.create_ticket("closed, uncategorized", "x", 12, closed=True)
    rows = [h async for h in client.history()]
    assert [h.ticket.id for h in rows] == closed
    assert rows[0].path == ("Network", "VPN") and rows[0].ticket.description == "details 0"
    assert [h.ticket.id for h in [h async for h in client.history(limit=2)]] == closed[:2]
