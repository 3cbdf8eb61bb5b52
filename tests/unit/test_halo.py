"""HaloPSA adapter against the Halo simulator over real HTTP on 127.0.0.1: auth, webhooks, taxonomy, writes, limits."""

from __future__ import annotations

import base64
import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from autotriage.core.errors import PermanentError, TransientError, WebhookRejected
from autotriage.core.metrics import REGISTRY
from autotriage.core.models import Candidate
from autotriage.core.resilience import retry_after_seconds
from autotriage.core.tenants import Tenant
from autotriage.psa import halo as halo_module
from autotriage.psa.base import CREATED, DELETED, OTHER, UPDATED, note_marker
from autotriage.psa.halo import HaloClient, map_halo_event
from autotriage.psa.http import PSAError, PSAHttp
from autotriage.sandbox.common import SampleData, SampleTicket
from autotriage.sandbox.halo import RATE_LIMIT_MESSAGE, HaloSimulator
from tests.support.tickets import HALO_SCOPES, halo_sample

INCIDENT, SERVICE_REQUEST = 1, 3


def make_tenant(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch, **psa: Any) -> Tenant:
    entry, env = sim.tenant_config("acme")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    entry["psa"].update(psa)
    return Tenant.model_validate(entry)


def make_client(tenant: Tenant, timeout_s: float = 5.0) -> HaloClient:
    client = HaloClient(tenant)
    client.http = PSAHttp("halo", total_timeout_s=timeout_s, connect_timeout_s=timeout_s, base_backoff_s=0.01)
    return client


@pytest.fixture
async def sim() -> AsyncIterator[HaloSimulator]:
    simulator = HaloSimulator(halo_sample())
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HaloClient]:
    c = make_client(make_tenant(sim, monkeypatch))
    yield c
    await c.close()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def psa_requests(operation: str, status: str) -> float:
    labels = {"psa": "halo", "operation": operation, "status": status}
    return REGISTRY.get_sample_value("autotriage_psa_api_requests_total", labels) or 0.0


def laptop(sim: HaloSimulator) -> str:
    return sim.create_ticket("Laptop will not boot", "black screen", INCIDENT)


# --- OAuth2 ---------------------------------------------------------------------------------------------
async def test_token_fetched_once_and_cached(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    ticket = await client.fetch_ticket(tid)
    await client.fetch_ticket(tid)
    await client.fetch_taxonomy(str(INCIDENT))
    assert sim.token_requests == 1
    assert (ticket.id, ticket.summary, ticket.description) == (tid, "Laptop will not boot", "black screen")
    assert (ticket.scope, ticket.scope_name) == ("1", "Incident")


async def test_token_refreshed_60s_before_expiry(
    sim: HaloSimulator, client: HaloClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(halo_module, "time", clock)
    tid = laptop(sim)
    await client.fetch_ticket(tid)
    clock.offset = 3600 - 61
    await client.fetch_ticket(tid)
    assert sim.token_requests == 1
    clock.offset = 3600 - 59
    await client.fetch_ticket(tid)
    assert sim.token_requests == 2
    assert sim.requests["get_ticket"] == 3  # refreshed ahead of time: no request was refused first


async def test_short_lived_token_refreshed_after_10s_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = HaloSimulator(halo_sample(), token_lifetime_s=30)
    await sim.start()
    client = make_client(make_tenant(sim, monkeypatch))
    clock = FakeClock()
    monkeypatch.setattr(halo_module, "time", clock)
    try:
        tid = laptop(sim)
        await client.fetch_ticket(tid)
        clock.offset = 9
        await client.fetch_ticket(tid)
        assert sim.token_requests == 1
        clock.offset = 11
        await client.fetch_ticket(tid)
        assert sim.token_requests == 2
    finally:
        await client.close()
        await sim.stop()


async def test_expired_or_revoked_token_retried_once_with_new_token(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    await client.fetch_ticket(tid)
    [token] = sim.tokens
    sim.tokens[token] = (sim.tokens[token][0], 0.0)  # expired early on the server side
    await client.fetch_ticket(tid)
    assert (sim.token_requests, sim.requests["get_ticket"]) == (2, 3)
    sim.tokens.clear()  # revoked
    await client.fetch_ticket(tid)
    assert (sim.token_requests, sim.requests["get_ticket"]) == (3, 5)


async def test_persistent_401_gives_up_after_one_new_token(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    sim.inject(401, times=10, operations={"get_ticket"})
    with pytest.raises(PSAError) as caught:
        await client.fetch_ticket(tid)
    assert caught.value.status == 401
    assert (sim.token_requests, sim.requests["get_ticket"]) == (2, 2)


async def test_wrong_client_secret_is_a_clear_permanent_error(
    sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(sim, monkeypatch)
    monkeypatch.setenv("ACME_HALO_CLIENT_SECRET", "wrong")
    client = make_client(Tenant.model_validate(tenant.model_dump()))
    try:
        with pytest.raises(PSAError) as caught:
            await client.fetch_ticket(laptop(sim))
    finally:
        await client.close()
    assert caught.value.status == 401
    assert "invalid_client" in caught.value.message
    assert "client_secret" in caught.value.message  # names the setting to fix
    assert "ACME_HALO_CLIENT_SECRET" in caught.value.message  # where the secret comes from, never its value
    assert sim.token_requests == 1
    assert sim.requests["get_ticket"] == 0


async def test_scope_not_granted_refused_at_token(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = HaloSimulator(halo_sample(), granted_scopes="read:tickets")
    await sim.start()
    client = make_client(make_tenant(sim, monkeypatch))  # asks for read:tickets edit:tickets
    try:
        with pytest.raises(PSAError) as caught:
            await client.fetch_ticket(laptop(sim))
        assert caught.value.status == 400 and "invalid_scope" in caught.value.message
    finally:
        await client.close()
        await sim.stop()


async def test_missing_scope_403_not_retried(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(make_tenant(sim, monkeypatch, scope="read:tickets"))
    tid = laptop(sim)
    candidate = Candidate(id="c1", path=("Hardware", "Laptop"), native={"category_1": "Hardware>Laptop"})
    try:
        ticket = await client.fetch_ticket(tid)  # reading is granted
        with pytest.raises(PSAError) as caught:
            await client.write_category(ticket, candidate)
    finally:
        await client.close()
    assert caught.value.status == 403
    assert "edit:tickets" in caught.value.message
    assert sim.requests["update_ticket"] == 1
    assert sim.token_requests == 1
    assert sim.category_of(tid) == ()


class FakeClock:
    """Stands in for the ``time`` module inside the Halo adapter: monotonic time moved forward by ``offset``."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


# --- webhook credentials ---------------------------------------------------------------------------------
async def test_webhook_right_credentials_pass(sim: HaloSimulator, client: HaloClient) -> None:
    await client.verify_webhook(basic(sim.webhook_user, sim.webhook_password), b"{}")
    lowered = {k.lower(): v for k, v in basic(sim.webhook_user, sim.webhook_password).items()}
    await client.verify_webhook(lowered, b"{}")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (basic("intruder", "halo-webhook-password"), "bad_credentials"),
        (basic("halo", "guess"), "bad_credentials"),
        (basic("halo", ""), "bad_credentials"),
        ({}, "missing_credentials"),
        ({"Authorization": "Bearer halo-webhook-password"}, "missing_credentials"),
        ({"Authorization": "Basic !!!not-base64!!!"}, "bad_credentials"),
        ({"Authorization": "Basic "}, "bad_credentials"),
    ],
    ids=["wrong-user", "wrong-password", "empty-password", "missing", "bearer", "malformed", "empty"],
)
async def test_webhook_bad_credentials_rejected(client: HaloClient, headers: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        await client.verify_webhook(headers, b"{}")
    assert (caught.value.status, caught.value.reason) == (401, reason)


async def test_webhook_password_with_colon(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(sim, monkeypatch)
    monkeypatch.setenv("ACME_HALO_WEBHOOK_PASSWORD", "pa:ss:word")
    client = HaloClient(Tenant.model_validate(tenant.model_dump()))
    await client.verify_webhook(basic("halo", "pa:ss:word"), b"{}")
    with pytest.raises(WebhookRejected):
        await client.verify_webhook(basic("halo", "pa"), b"{}")


# --- webhook parsing -------------------------------------------------------------------------------------
async def test_parse_full_object(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    payload = sim.webhook_payload(tid, "full")
    [event] = client.parse_webhook({}, orjson.dumps(payload))
    assert (event.ticket_id, event.event, event.delivery_id, event.scope_hint) == (tid, CREATED, payload["id"], "1")
    assert event.payload["object_id"] == int(tid)
    assert "ticket" not in event.payload  # no ticket body carried forward


async def test_parse_event_only(client: HaloClient) -> None:
    body = {"id": "d-1", "event": "New Ticket Logged", "object_id": 4242, "webhook_id": "w-1"}
    [event] = client.parse_webhook({}, orjson.dumps(body))
    assert (event.ticket_id, event.event, event.delivery_id, event.scope_hint) == ("4242", CREATED, "d-1", "")


async def test_parse_batched_array(sim: HaloSimulator, client: HaloClient) -> None:
    tids = [laptop(sim) for _ in range(3)]
    body = [sim.webhook_payload(tids[0]), sim.webhook_payload(tids[1], "event"), sim.webhook_payload(tids[2])]
    events = client.parse_webhook({}, orjson.dumps(body))
    assert [e.ticket_id for e in events] == tids
    assert len({e.delivery_id for e in events}) == 3
    assert all(e.event == CREATED for e in events)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("New Ticket Logged", CREATED),
        ("new ticket logged", CREATED),
        ("NEW TICKET LOGGED ", CREATED),
        ("Ticket Logged", CREATED),
        ("Ticket Updated", UPDATED),
        ("Status Change", UPDATED),
        ("ticket status changed", UPDATED),
        ("Ticket Deleted", DELETED),
        ("New Action Logged", OTHER),
        ("", OTHER),
    ],
)
def test_event_names(name: str, kind: str) -> None:
    assert map_halo_event(name) == kind


async def test_parse_update_event(client: HaloClient) -> None:
    body = {"id": "d-2", "event": "Ticket Status Changed", "object_id": 7, "webhook_id": "w"}
    assert client.parse_webhook({}, orjson.dumps(body))[0].event == UPDATED


async def test_parse_id_from_ticket_and_stable_delivery_id(client: HaloClient) -> None:
    body = {"event": "New Ticket Logged", "ticket": {"id": 77, "tickettype_id": 3}}
    first = client.parse_webhook({}, orjson.dumps(body))
    again = client.parse_webhook({}, orjson.dumps(dict(reversed(body.items()))))
    assert (first[0].ticket_id, first[0].scope_hint) == ("77", "3")
    assert first[0].delivery_id == again[0].delivery_id  # a re-sent delivery without id is still recognised


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"id": "d", "event": "New Ticket Logged"}', "bad_payload"),
        (b'{"id": "d", "event": "New Ticket Logged", "object_id": true}', "bad_payload"),
        (b'{"id": "d", "event": "New Ticket Logged", "object_id": ""}', "bad_payload"),
        (b'{"id": "d", "event": "New Ticket Logged", "object_id": {"x": 1}}', "bad_payload"),
        (b'{"id": "d", "event": "New Ticket Logged", "object_id": 4242', "malformed_json"),
        (b"not json at all", "malformed_json"),
        (b"[1, 2]", "bad_payload"),
        (b'[{"id": "d", "event": "New Ticket Logged", "object_id": 1}, "x"]', "bad_payload"),
        (b'"just a string"', "bad_payload"),
    ],
    ids=["no-id", "bool-id", "empty-id", "object-id", "truncated", "text", "numbers", "mixed-array", "string"],
)
async def test_parse_rejects_bad_payload(client: HaloClient, body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        client.parse_webhook({}, body)
    assert (caught.value.status, caught.value.reason) == (400, reason)


# --- taxonomy --------------------------------------------------------------------------------------------
async def test_taxonomy_allowall_lists_active_categories(sim: HaloSimulator, client: HaloClient) -> None:
    sim.ticket_types[INCIDENT]["allowall_category1"] = True
    taxonomy = await client.fetch_taxonomy(str(INCIDENT))
    labels = {c.label for c in taxonomy.candidates}
    assert "Legacy > Fax" not in labels  # inactive
    assert labels == {" > ".join(p) for p in sim.valid_paths(INCIDENT)}
    assert "Accounts > New starter" in labels  # allowed for every type: all active categories
    assert len(labels) == len(taxonomy.candidates)
    assert (taxonomy.tenant, taxonomy.scope, taxonomy.scope_name) == ("acme", "1", "Incident")
    laptop_candidate = next(c for c in taxonomy.candidates if c.path == ("Hardware", "Laptop"))
    assert laptop_candidate.native == {"category_1": "Hardware>Laptop"}


async def test_taxonomy_allowed_list_only(sim: HaloSimulator, client: HaloClient) -> None:
    taxonomy = await client.fetch_taxonomy(str(SERVICE_REQUEST))
    assert {c.path for c in taxonomy.candidates} == {("Accounts", "New starter"), ("Software", "Install")}
    assert len({c.id for c in taxonomy.candidates}) == 2
    incident = await client.fetch_taxonomy(str(INCIDENT))
    assert {c.path for c in incident.candidates} == sim.valid_paths(INCIDENT)


async def test_taxonomy_allowed_list_drops_inactive_category(sim: HaloSimulator, client: HaloClient) -> None:
    """An allowed category that was deactivated is not a candidate: Halo would refuse to write it."""
    next(c for c in sim.categories if c["value"] == "Hardware>Printer")["inactive"] = True
    taxonomy = await client.fetch_taxonomy(str(INCIDENT))
    assert ("Hardware", "Printer") not in {c.path for c in taxonomy.candidates}
    assert {c.path for c in taxonomy.candidates} == sim.valid_paths(INCIDENT)


async def test_unknown_ticket_type_is_permanent(client: HaloClient) -> None:
    with pytest.raises(PSAError) as caught:
        await client.fetch_taxonomy("999")
    assert caught.value.status == 404


# --- tickets and writes ----------------------------------------------------------------------------------
async def test_fetch_ticket_maps_category_path(sim: HaloSimulator, client: HaloClient) -> None:
    tid = sim.create_ticket("VPN drops", "from home", INCIDENT, ("Network", "VPN"))
    ticket = await client.fetch_ticket(tid)
    assert ticket.category.path == ("Network", "VPN")
    assert ticket.category.native == {"category_1": "Network>VPN"}
    assert (await client.fetch_ticket(laptop(sim))).category.is_set is False


async def test_fetch_unknown_ticket_is_404(client: HaloClient) -> None:
    with pytest.raises(PSAError) as caught:
        await client.fetch_ticket("99999")
    assert caught.value.status == 404


async def test_write_category(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    taxonomy = await client.fetch_taxonomy(str(INCIDENT))
    candidate = next(c for c in taxonomy.candidates if c.path == ("Hardware", "Laptop"))
    await client.write_category(await client.fetch_ticket(tid), candidate)
    assert sim.category_of(tid) == ("Hardware", "Laptop")
    assert sim.update_count(tid) == 1
    assert sim.requests["update_ticket"] == 1
    assert sim.tickets[int(tid)]["summary"] == "Laptop will not boot"  # partial update


async def test_write_category_not_allowed_for_type_is_permanent(sim: HaloSimulator, client: HaloClient) -> None:
    tid = sim.create_ticket("new starter", "Sam joins Monday", SERVICE_REQUEST)
    candidate = Candidate(id="c1", path=("Hardware", "Laptop"), native={"category_1": "Hardware>Laptop"})
    with pytest.raises(PSAError) as caught:
        await client.write_category(await client.fetch_ticket(tid), candidate)
    assert caught.value.status == 400
    assert "not allowed" in caught.value.message
    assert (sim.requests["update_ticket"], sim.rejected_writes) == (1, 1)
    assert sim.category_of(tid) == ()


async def test_note_is_internal_with_outcome(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    await client.add_note(tid, "Auto-categorized as Hardware > Laptop")
    [action] = sim.actions[int(tid)]
    assert action["hiddenfromuser"] is True
    assert action["sendemail"] is False
    assert action["outcome_id"] == 7
    assert action["ticket_id"] == int(tid)
    assert action["note"] == "Auto-categorized as Hardware > Laptop"


async def test_note_uses_configured_outcome(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(make_tenant(sim, monkeypatch, note_outcome_id=12))
    tid = laptop(sim)
    try:
        await client.add_note(tid, "hello")
    finally:
        await client.close()
    assert sim.actions[int(tid)][0]["outcome_id"] == 12


async def test_note_by_outcome_name(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(make_tenant(sim, monkeypatch, note_outcome_id=None, note_outcome="Private Note"))
    tid = laptop(sim)
    try:
        await client.add_note(tid, "hello")
    finally:
        await client.close()
    action = sim.actions[int(tid)][0]
    assert action["outcome"] == "Private Note" and "outcome_id" not in action


async def test_note_without_outcome_refused_by_halo(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = make_tenant(sim, monkeypatch)
    psa = tenant.psa.model_copy(update={"note_outcome_id": None, "note_outcome": None})
    client = make_client(tenant.model_copy(update={"psa": psa}))
    try:
        with pytest.raises(PSAError) as caught:
            await client.add_note(laptop(sim), "hello")
    finally:
        await client.close()
    assert caught.value.status == 400
    assert "An Outcome must be entered for this Action" in caught.value.message
    assert sim.requests["add_note"] == 1


async def test_has_note_with_marker(sim: HaloSimulator, client: HaloClient) -> None:
    tid, other = laptop(sim), laptop(sim)
    marker = note_marker("acme", tid)
    assert await client.has_note_with(tid, marker) is False
    await client.add_note(tid, f"Auto-categorized.\n{marker}")
    assert await client.has_note_with(tid, marker) is True
    assert await client.has_note_with(other, marker) is False
    assert await client.has_note_with(tid, note_marker("acme", other)) is False


# --- rate limits, retries --------------------------------------------------------------------------------
async def test_429_backs_off_then_succeeds(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    before = psa_requests("get_ticket", "429")
    sim.inject(429, times=2, operations={"get_ticket"})
    ticket = await client.fetch_ticket(tid)
    assert ticket.id == tid
    assert sim.requests["get_ticket"] == 3
    assert psa_requests("get_ticket", "429") == before + 2


async def test_persistent_429_is_transient_rate_limited(sim: HaloSimulator, client: HaloClient) -> None:
    sim.inject(429, times=10, operations={"get_ticket"})
    with pytest.raises(TransientError) as caught:
        await client.fetch_ticket(laptop(sim))
    assert caught.value.reason == "psa_rate_limited"
    assert RATE_LIMIT_MESSAGE in caught.value.message
    assert caught.value.tenant_wide  # the tenant's PSA limits every call: the runtime parks the tenant
    assert sim.requests["get_ticket"] == 3


async def test_long_retry_after_handed_to_retry_topic(sim: HaloSimulator, client: HaloClient) -> None:
    sim.inject(429, times=1, retry_after=120, operations={"get_ticket"})
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        await client.fetch_ticket(laptop(sim))
    assert time.monotonic() - started < 1.0  # not slept in place
    assert caught.value.retry_after_s == 120
    assert sim.requests["get_ticket"] == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12.0), ("0.5", 0.5), ("-5", 0.0), ("", 1.0), ("soon", 1.0), ("inf", 1.0), ("nan", 1.0)],
)
def test_retry_after_header_values(value: str, expected: float) -> None:
    assert retry_after_seconds({"Retry-After": value}, 1.0) == expected


def test_retry_after_http_date() -> None:
    in_30s = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds({"retry-after": in_30s}, 1.0) <= 30
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1.0) == 0.0


async def test_post_429_retried_in_place(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    sim.inject(429, times=1, operations={"add_note"})
    await client.add_note(tid, "hello")
    assert sim.requests["add_note"] == 2
    assert sim.note_count(tid) == 1


async def test_post_5xx_not_retried_in_place(sim: HaloSimulator, client: HaloClient) -> None:
    tid = laptop(sim)
    sim.inject(503, times=1, operations={"add_note", "update_ticket"})
    with pytest.raises(TransientError) as caught:
        await client.add_note(tid, "hello")
    assert caught.value.reason == "psa_server_error"
    assert caught.value.tenant_wide
    assert sim.requests["add_note"] == 1


async def test_post_timeout_not_retried_in_place(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(make_tenant(sim, monkeypatch), timeout_s=0.2)
    tid = laptop(sim)
    await client.fetch_ticket(tid)  # token first, so the timeout hits the note itself
    sim.inject(201, times=1, delay_s=0.4, operations={"add_note"})
    try:
        with pytest.raises(TransientError) as caught:
            await client.add_note(tid, "hello")
    finally:
        await client.close()
    assert caught.value.reason == "psa_timeout"
    assert not caught.value.tenant_wide  # one slow call is the ticket's trouble, not the tenant's
    assert sim.requests["add_note"] == 1


async def test_get_5xx_and_timeout_retried(sim: HaloSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(make_tenant(sim, monkeypatch), timeout_s=0.2)
    tid = laptop(sim)
    try:
        sim.inject(502, times=1, operations={"get_ticket"})
        await client.fetch_ticket(tid)
        assert sim.requests["get_ticket"] == 2
        sim.inject(200, times=1, delay_s=0.4, operations={"get_ticket"})
        await client.fetch_ticket(tid)
        assert sim.requests["get_ticket"] == 4
    finally:
        await client.close()


async def test_psa_error_is_permanent() -> None:
    assert issubclass(PSAError, PermanentError)


# --- history ---------------------------------------------------------------------------------------------
def history_sample() -> SampleData:
    paths = [tuple(p) for p in HALO_SCOPES[0]["paths"]]
    history = [
        SampleTicket(id=str(i), scope=INCIDENT, summary=f"old {i}", details="", category=paths[i % len(paths)])
        for i in range(205)
    ]
    history += [
        SampleTicket(id=f"u{i}", scope=INCIDENT, summary="no category", details="", category=None) for i in range(20)
    ]
    return SampleData(scopes=HALO_SCOPES, history=history)


async def test_history_paginates_and_yields_categorized_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = HaloSimulator(history_sample())
    await sim.start()
    for _ in range(10):
        sim.create_ticket("open one", "", INCIDENT, ("Network", "VPN"))  # open: not history
    client = make_client(make_tenant(sim, monkeypatch))
    try:
        found = [h async for h in client.history()]
        assert sim.requests["list_tickets"] == 3  # 225 closed tickets, 100 per page
        first_five = [h async for h in client.history(limit=5)]
    finally:
        await client.close()
        await sim.stop()
    assert len(found) == 205
    assert all(h.path and h.ticket.summary.startswith("old ") for h in found)
    assert len({h.ticket.id for h in found}) == 205
    assert found[0].path == ("Hardware", "Laptop")
    assert [h.ticket.id for h in first_five] == [h.ticket.id for h in found[:5]]


# --- the ticket's sender (UNCONFIRMED field names: read defensively) ------------------------------------------
@pytest.mark.parametrize(("fields", "sender"), [
    ({"user_emailaddress": "jo.smith@baysidedental.example"}, "jo.smith@baysidedental.example"),
    ({"user_emailaddress": "", "emailaddress": " desk@baysidedental.example "}, "desk@baysidedental.example"),
    ({"user_emailaddress": {"address": "jo@x.example"}}, ""),  # an unexpected shape: no sender, no error
    ({"user_emailaddress": "Jo Smith"}, ""),
    ({}, ""),  # what the reference documents: user_id / user_name only
])
async def test_the_end_users_email_is_the_sender_when_halo_sends_one(
    sim: HaloSimulator, client: HaloClient, fields: dict[str, Any], sender: str
) -> None:
    tid = laptop(sim)
    sim.tickets[int(tid)].update(fields)
    ticket = await client.fetch_ticket(tid)
    assert ticket.contact_email == sender and ticket.summary == "Laptop will not boot"
