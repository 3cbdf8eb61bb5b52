"""Property-based tests of the three webhook parsers and the ingress route (hypothesis).

Whatever arrives - arbitrary bytes, arbitrary JSON, valid deliveries with keys dropped, re-typed, re-cased,
huge numbers, nested garbage or deep nesting - ``parse_webhook`` either returns sane events (digit ticket
ids, a delivery id, a payload ingress can encode) or raises ``WebhookRejected`` with status 400; and the
HTTP route, with valid credentials/signatures so that parsing is reached, never answers a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.errors import WebhookRejected
from autotriage.core.events import WebhookReceived, encode, utcnow
from autotriage.core.models import PSAKind
from autotriage.core.settings import Settings
from autotriage.core.tenants import TenantsFile, load_tenants
from autotriage.psa.base import CREATED, DEACTIVATED, DELETED, OTHER, UPDATED, PSAClient
from autotriage.psa.registry import make_client
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from tests.support.pipeline import tenant_entry, write_tenants
from tests.support.tickets import halo_sample

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
EVENTS = {CREATED, UPDATED, DELETED, DEACTIVATED, OTHER}
DEEP = "__deep_nesting_{}__"

# --- strategies ------------------------------------------------------------------------------------------
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats() | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "1e999", "../../api/Tickets", "12345678901234567890", " 42 ", "٤٢",
                       "New Ticket Logged", "Create", "ticket", "added"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)


def dump(value: Any) -> bytes:
    """JSON text (stdlib: big integers, NaN/Infinity as Python writes them); DEEP markers become nesting."""
    text = json.dumps(value)
    while (start := text.find('"__deep_nesting_')) >= 0:
        end = text.index('__"', start) + 3
        depth = int(text[start + 16:end - 3])
        text = text[:start] + "[" * depth + "]" * depth + text[end:]
    return text.encode()


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> bytes:
    """A valid delivery with a few mutations applied."""
    payload: Any = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "retype", "case", "garbage", "entity", "deep", "nest", "batch"]))
        target = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], dict) else payload
        keys = sorted(target) if isinstance(target, dict) else []
        if op == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif op == "retype" and keys:
            target[draw(st.sampled_from(keys))] = draw(json_values)
        elif op == "case" and keys:
            key = draw(st.sampled_from(keys))
            target[draw(st.sampled_from([key.upper(), key.lower(), key.swapcase()]))] = target.pop(key)
        elif op == "garbage" and isinstance(target, dict):
            target[draw(st.text(max_size=12))] = draw(json_values)
        elif op == "entity" and isinstance(target, dict) and isinstance(target.get("Entity"), str):
            try:
                entity = json.loads(target["Entity"])
            except ValueError:
                continue
            if not isinstance(entity, dict):
                continue
            entity[draw(st.sampled_from([*sorted(entity), "id", "board", "recordType"]))] = draw(json_values)
            target["Entity"] = draw(st.sampled_from([json.dumps(entity), entity, json.dumps(entity)[:-3]]))
        elif op == "deep" and keys:
            target[draw(st.sampled_from(keys))] = DEEP.format(draw(st.sampled_from([50, 253, 256, 300, 900, 1100])))
        elif op == "nest":
            payload = draw(st.sampled_from([{"data": payload}, [payload], [[payload]]]))
        elif op == "batch":
            payload = [payload, draw(json_values), copy.deepcopy(payload)]
    return dump(payload)


# --- the parsers, without servers ------------------------------------------------------------------------
def _clients() -> dict[str, PSAClient]:
    secret = {"env": "FUZZ_SECRET"}
    tenants = TenantsFile.model_validate({"tenants": [
        {"id": "h", "psa": {"kind": "halo", "base_url": "http://127.0.0.1:9", "client_id": "c",
                            "client_secret": secret},
         "webhook": {"username": "u", "password": secret}},
        {"id": "c", "psa": {"kind": "connectwise", "company": "acme", "public_key": "p", "private_key": secret,
                            "client_id": "cid"}},
        {"id": "a", "psa": {"kind": "autotask", "username": "u", "secret": secret, "integration_code": secret},
         "webhook": {"secret": secret}},
    ]})
    return {t.psa.kind.value: make_client(t) for t in tenants.tenants}


def _bases() -> dict[str, list[Any]]:
    halo = HaloSimulator(halo_sample(), seed_history=False)
    cw = ConnectWiseSimulator(seed_history=False)
    autotask = AutotaskSimulator(seed_history=False)
    h = [halo.create_ticket("Printer jammed", "jams on every page", 1) for _ in range(2)]
    c = cw.create_ticket("Printer jammed", "jams on every page", 12)
    a = autotask.create_ticket("Printer jammed", "jams on every page", next(iter(autotask.queues)))
    return {
        "halo": [halo.webhook_payload(h[0]), halo.webhook_payload(h[0], "id"), [halo.webhook_payload(t) for t in h]],
        "connectwise": [cw.webhook_payload(c), cw.webhook_payload(c, "deleted")],
        "autotask": [
            autotask.webhook_payload(a), autotask.deactivated_payload(), autotask.webhook_payload(a, "Update"),
        ],
    }


CLIENTS = _clients()
BASES = _bases()


def check_parse(psa: str, body: bytes) -> None:
    """The property: 400 or sane events that ingress can enqueue."""
    try:
        events = CLIENTS[psa].parse_webhook({"Content-Type": "application/json"}, body)
    except WebhookRejected as exc:
        assert exc.status == 400, (exc.status, exc.reason, exc.message)
        return
    assert isinstance(events, list)
    for event in events:
        assert event.event in EVENTS
        assert isinstance(event.delivery_id, str) and event.delivery_id
        assert isinstance(event.ticket_id, str)
        if event.event != DEACTIVATED:
            assert event.ticket_id.isascii() and event.ticket_id.isdigit(), event.ticket_id
        assert isinstance(event.scope_hint, str)
        message = WebhookReceived(tenant="t", psa=PSAKind(psa), ticket_id=event.ticket_id or "-", occurred_at=utcnow(),
                                  delivery_id=event.delivery_id, event=event.event, scope_hint=event.scope_hint,
                                  payload=event.payload)
        encode(message)  # what ingress does next: must not raise


@pytest.mark.parametrize("psa", ["halo", "connectwise", "autotask"])
@FUZZ
@given(body=st.binary(max_size=512))
def test_parse_arbitrary_bytes(psa: str, body: bytes) -> None:
    check_parse(psa, body)


@pytest.mark.parametrize("psa", ["halo", "connectwise", "autotask"])
@FUZZ
@given(value=json_values)
def test_parse_arbitrary_json(psa: str, value: Any) -> None:
    check_parse(psa, dump(value))


@FUZZ
@given(body=mutated(BASES["halo"]))
@example(body=dump({"object_id": 5, "event": "New Ticket Logged", "timestamp": DEEP.format(300)}))
@example(body=dump({"object_id": "../Actions?x=", "event": "New Ticket Logged"}))
@example(body=dump({"object_id": 5, "ticket": {"tickettype_id": DEEP.format(1000)}, "event": "New Ticket Logged"}))
def test_parse_mutated_halo(body: bytes) -> None:
    check_parse("halo", body)


@FUZZ
@given(body=mutated(BASES["connectwise"]))
def test_parse_mutated_connectwise(body: bytes) -> None:
    check_parse("connectwise", body)


@FUZZ
@given(body=mutated(BASES["autotask"]))
def test_parse_mutated_autotask(body: bytes) -> None:
    check_parse("autotask", body)


def test_valid_bases_parse_to_created_events() -> None:
    """Sanity of the seeds: the unmutated deliveries are accepted."""
    for psa, bases in BASES.items():
        events = CLIENTS[psa].parse_webhook({}, dump(bases[0]))
        assert [e.event for e in events] == [CREATED] * len(events), psa


# --- the HTTP route ------------------------------------------------------------------------------------
@dataclass
class Server:
    """Ingress (memory bus) and the three simulators on an event loop in a background thread."""

    tmp_path: Path
    url: str = ""
    halo: HaloSimulator = field(default_factory=lambda: HaloSimulator(halo_sample(), seed_history=False))
    cw: ConnectWiseSimulator = field(default_factory=lambda: ConnectWiseSimulator(seed_history=False))
    autotask: AutotaskSimulator = field(default_factory=lambda: AutotaskSimulator(seed_history=False))
    bases: dict[str, list[Any]] = field(default_factory=dict)
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _error: BaseException | None = None

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        sims = (self.halo, self.cw, self.autotask)
        for sim in sims:
            await sim.start()
        entries, env = [], {}
        for sim, tenant in zip(sims, ("h", "c", "a"), strict=True):
            entry, secrets = tenant_entry(sim, tenant, "http://127.0.0.1:9")
            entries.append(entry)
            env.update(secrets)
        tenants = load_tenants(write_tenants(self.tmp_path / "tenants.yaml", entries), environ=env)
        host = build_host(Settings(bus="memory", http_port=0, http_host="127.0.0.1", max_body_bytes=64 * 1024),
                          tenants, ["ingress"], bus=MemoryBus())
        await host.start()
        self.url = f"http://127.0.0.1:{host.bound_port}"
        h, c = self.halo.create_ticket("Printer jammed", "jams", 1), self.cw.create_ticket("Printer jammed", "jams", 12)
        a = self.autotask.create_ticket("Printer jammed", "jams", next(iter(self.autotask.queues)))
        self.bases = {"halo": [self.halo.webhook_payload(h), [self.halo.webhook_payload(h)]],
                      "connectwise": [self.cw.webhook_payload(c)], "autotask": [self.autotask.webhook_payload(a)]}
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await host.stop()
            for sim in sims:
                await sim.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    def start(self) -> None:
        threading.Thread(target=self._run, name="fuzz-ingress", daemon=True).start()
        assert self._ready.wait(60), "ingress did not start"
        assert self._error is None, self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def headers(self, psa: str, body: bytes) -> dict[str, str]:
        """Valid credentials / signature for ``body``, so that the parser is reached."""
        if psa == "halo":
            creds = f"{self.halo.webhook_user}:{self.halo.webhook_password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(creds).decode()}
        if psa == "autotask":
            digest = hmac.new(self.autotask.webhook_secret.encode(), body, hashlib.sha1).digest()
            return {"X-Hook-Signature": "sha1=" + base64.b64encode(digest).decode()}
        return {"x-content-signature": self.cw.sign(body)}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("fuzz-ingress"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


ROUTE_STATUSES = {
    "halo": {200, 202, 400},
    "autotask": {200, 202, 400},
    # a mutated callback may lose its key_url/CompanyId/signature validity: 401 is a correct answer then
    "connectwise": {200, 202, 400, 401},
}


def _post(server: Server, http: httpx.Client, psa: str, body: bytes) -> None:
    tenant = {"halo": "h", "connectwise": "c", "autotask": "a"}[psa]
    resp = http.post(f"{server.url}/webhooks/{psa}/{tenant}", content=body, headers=server.headers(psa, body))
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert resp.status_code in ROUTE_STATUSES[psa], (resp.status_code, resp.text[:300])


@pytest.mark.parametrize("psa", ["halo", "connectwise", "autotask"])
@FUZZ
@given(data=st.data())
def test_route_never_5xx(server: Server, http: httpx.Client, psa: str, data: st.DataObject) -> None:
    body = data.draw(st.one_of(
        mutated(server.bases[psa]), json_values.map(dump), st.binary(max_size=256),
    ))
    _post(server, http, psa, body)


def test_route_accepts_the_valid_seeds(server: Server, http: httpx.Client) -> None:
    for psa, bases in server.bases.items():
        tenant = {"halo": "h", "connectwise": "c", "autotask": "a"}[psa]
        body = orjson.dumps(bases[0])
        resp = http.post(f"{server.url}/webhooks/{psa}/{tenant}", content=body, headers=server.headers(psa, body))
        assert resp.status_code in (200, 202), (psa, resp.text)  # 200: the fuzzer already sent this one
        assert resp.json()["accepted"] + resp.json()["duplicates"] == 1, (psa, resp.text)
