"""Webhook security at ingress, in process on the memory bus, with tenants for all three PSA simulators.

Refused deliveries must never reach ``autotriage.webhooks.raw``; signature/credential failures are counted in
``autotriage_webhook_signature_failures_total``; ConnectWise's ``Metadata.key_url`` (attacker-controlled) is
refused before any request is made when it is not https, not on an allow-listed host, resolves to a private
address, or redirects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from autotriage.app import build_host
from autotriage.core import metrics
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import WEBHOOKS_RAW, Topics
from autotriage.core.service import ServiceHost
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from tests.support.pipeline import environ, tenant_entry, write_tenants
from tests.support.tickets import halo_sample

RAW = Topics().name(WEBHOOKS_RAW)
MAX_BODY = 4096


class Target:
    """A local server standing in for where a hostile ``key_url`` points: it counts every request."""

    def __init__(self) -> None:
        self.hits = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._any)
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _any(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"signing_key": "attacker-chosen-key"})

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class Ingress:
    url: str
    bus: MemoryBus
    halo: HaloSimulator
    cw: ConnectWiseSimulator
    cw_redirect: ConnectWiseSimulator
    autotask: AutotaskSimulator
    target: Target
    session: aiohttp.ClientSession

    def enqueued(self) -> int:
        return len(self.bus.records(RAW))

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.session.post(f"{self.url}{path}", data=body, headers=headers or {}) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    # --- well-formed deliveries, signed or with credentials --------------------------------------------
    def halo_delivery(self, ticket_id: str, password: str | None = None) -> tuple[bytes, dict[str, str]]:
        creds = f"{self.halo.webhook_user}:{password or self.halo.webhook_password}".encode()
        body = json.dumps(self.halo.webhook_payload(ticket_id)).encode()
        return body, {"Authorization": "Basic " + base64.b64encode(creds).decode(), "Content-Type": "application/json"}

    def autotask_delivery(self, ticket_id: str, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        return self.autotask.signed_delivery(self.autotask.webhook_payload(ticket_id), secret=secret)

    def cw_delivery(self, ticket_id: str, *, key_url: str | None = None, signing_key: str | None = None,
                    company: str | None = None) -> tuple[bytes, dict[str, str]]:
        payload = self.cw.webhook_payload(ticket_id)
        if key_url is not None:
            payload["Metadata"] = {"key_url": key_url}
        if company is not None:
            payload["CompanyId"] = company
        body = json.dumps(payload).encode()
        signature = cw_sign(signing_key or self.cw.signing_key, body)
        return body, {"Content-Type": "application/json", "x-content-signature": signature}


def cw_sign(signing_key: str, body: bytes) -> str:
    key = hashlib.sha256(signing_key.encode()).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def signature_failures(psa: str, tenant: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "autotriage_webhook_signature_failures_total", {"psa": psa, "tenant": tenant}
    )
    return value or 0.0


@pytest.fixture
async def ingress(tmp_path: Path) -> AsyncIterator[Ingress]:
    target = Target()
    await target.start()
    halo = HaloSimulator(halo_sample(), seed_history=False)
    # The CW simulator's callback-key endpoint answers with a redirect to the target (used by one tenant).
    cw = ConnectWiseSimulator(seed_history=False)
    cw_redirect = ConnectWiseSimulator(seed_history=False, key_redirect=f"http://127.0.0.1:{target.port}/key")
    autotask = AutotaskSimulator(seed_history=False)
    for sim in (halo, cw, cw_redirect, autotask):
        await sim.start()
    entries, env = [], {}
    for sim, tenant_id in ((halo, "halo-t"), (cw, "cw-t"), (autotask, "at-t"), (cw_redirect, "cw-redirect")):
        entry, secrets = tenant_entry(sim, tenant_id, "http://127.0.0.1:9")
        entries.append(entry)
        env.update(secrets)
    # A cloud-style CW tenant: https only, the vendor hosts plus one listed host on loopback, private
    # addresses refused (the production default).
    strict, secrets = tenant_entry(cw, "cw-strict", "http://127.0.0.1:9")
    strict["psa"] = {**strict["psa"], "site": "api-na.myconnectwise.net", "scheme": "https",
                     "key_url_hosts": [f"127.0.0.1:{target.port}", f"localhost:{target.port}"],
                     "allow_private_key_url": False}
    entries.append(strict)
    env.update(secrets)
    with environ(env):
        tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", entries))
        bus = MemoryBus()
        settings = Settings(bus="memory", http_port=0, http_host="127.0.0.1", max_body_bytes=MAX_BODY)
        host: ServiceHost = build_host(settings, tenants, ["ingress"], bus=bus)
        await host.start()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        try:
            yield Ingress(f"http://127.0.0.1:{host.bound_port}", bus, halo, cw, cw_redirect, autotask, target, session)
        finally:
            await session.close()
            await host.stop()
            for sim in (halo, cw, cw_redirect, autotask):
                await sim.stop()
            await target.stop()


def ticket(sim: HaloSimulator | ConnectWiseSimulator | AutotaskSimulator) -> str:
    scope = 1 if isinstance(sim, HaloSimulator) else 12 if isinstance(sim, ConnectWiseSimulator) else next(
        iter(sim.queues))
    return sim.create_ticket("Printer jammed", "The printer jams on every page", scope)


# --- 401: bad or missing signatures / credentials ------------------------------------------------------
async def test_halo_missing_or_wrong_credentials_401(ingress: Ingress) -> None:
    tid = ticket(ingress.halo)
    body, good = ingress.halo_delivery(tid)
    before = signature_failures("halo", "halo-t")
    cases = {
        "missing": {},
        "wrong password": ingress.halo_delivery(tid, password="guess")[1],
        "wrong user": {"Authorization": "Basic " + base64.b64encode(b"admin:" + b"halo-webhook-password").decode()},
        "not base64": {"Authorization": "Basic %%%not-base64"},
        "bearer": {"Authorization": "Bearer " + good["Authorization"][6:]},
        "empty password": {"Authorization": "Basic " + base64.b64encode(b"halo:").decode()},
    }
    for name, headers in cases.items():
        status, answer = await ingress.post("/webhooks/halo/halo-t", body, headers)
        assert status == 401, (name, answer)
        assert answer["error"] in ("missing_credentials", "bad_credentials"), (name, answer)
    assert ingress.enqueued() == 0
    assert signature_failures("halo", "halo-t") == before + len(cases)
    status, _ = await ingress.post("/webhooks/halo/halo-t", body, good)  # the same body, right credentials
    assert status == 202 and ingress.enqueued() == 1


async def test_autotask_missing_or_wrong_signature_401(ingress: Ingress) -> None:
    tid = ticket(ingress.autotask)
    body, good = ingress.autotask_delivery(tid)
    _, wrong_secret = ingress.autotask_delivery(tid, secret="not-the-secret")
    other_body, other_headers = ingress.autotask_delivery(ticket(ingress.autotask))
    before = signature_failures("autotask", "at-t")
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "missing": (body, {"Content-Type": "application/json"}),
        "wrong secret": (body, wrong_secret),
        "not base64": (body, {"X-Hook-Signature": "sha1=***"}),
        "sha256 length": (body, {"X-Hook-Signature": "sha1=" + base64.b64encode(b"x" * 32).decode()}),
        "signature of another body": (body, other_headers),
        # whitespace is not tampering: the verifier also accepts Autotask's re-serialised forms of the body
        "tampered ticket id": (body.replace(tid.encode(), b"1"), good),
        "tampered action": (body.replace(b"Create", b"Delete"), good),
    }
    for name, (payload, headers) in cases.items():
        assert payload != body or name != "tampered ticket id"
        status, answer = await ingress.post("/webhooks/autotask/at-t", payload, headers)
        assert status == 401, (name, answer)
    assert ingress.enqueued() == 0
    assert signature_failures("autotask", "at-t") == before + len(cases)
    assert (await ingress.post("/webhooks/autotask/at-t", other_body, other_headers))[0] == 202


async def test_connectwise_missing_or_wrong_signature_401(ingress: Ingress) -> None:
    tid = ticket(ingress.cw)
    body, good = ingress.cw_delivery(tid)
    before = signature_failures("connectwise", "cw-t")
    cases = {
        "missing": (body, {"Content-Type": "application/json"}),
        "signed with another key": ingress.cw_delivery(tid, signing_key="someone-elses-key"),
        "garbage": (body, {"x-content-signature": "garbage"}),
        "tampered body": (body.replace(b'"added"', b'"updated"'), good),
        "tampered whitespace": (body.replace(b'"added"', b'"added" '), good),
        "another company": ingress.cw_delivery(tid, company="evilcorp"),
    }
    for name, (payload, headers) in cases.items():
        status, answer = await ingress.post("/webhooks/connectwise/cw-t", payload, headers)
        assert status == 401, (name, answer)
    assert ingress.enqueued() == 0
    assert signature_failures("connectwise", "cw-t") == before + len(cases)
    assert (await ingress.post("/webhooks/connectwise/cw-t", body, good))[0] == 202


# --- 404 / 413 / 400 -----------------------------------------------------------------------------------
async def test_unknown_tenant_or_psa_404(ingress: Ingress) -> None:
    body, headers = ingress.halo_delivery(ticket(ingress.halo))
    for path in ("/webhooks/halo/nobody", "/webhooks/autotask/halo-t", "/webhooks/connectwise/halo-t",
                 "/webhooks/servicenow/halo-t", "/webhooks/HALO/halo-t", "/webhooks/halo/HALO-T"):
        status, answer = await ingress.post(path, body, headers)
        assert status == 404, (path, answer)
    assert ingress.enqueued() == 0


async def test_oversized_body_413(ingress: Ingress) -> None:
    tid = ticket(ingress.halo)
    body, headers = ingress.halo_delivery(tid)
    big = json.loads(body)
    big["message"] = "x" * (MAX_BODY * 2)
    raw = json.dumps(big).encode()
    status, answer = await ingress.post("/webhooks/halo/halo-t", raw, headers)
    assert status == 413, answer

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while reading
        for i in range(0, len(raw), 1024):
            yield raw[i:i + 1024]

    async with ingress.session.post(f"{ingress.url}/webhooks/halo/halo-t", data=chunks(), headers=headers) as resp:
        assert resp.status == 413
    # the limit is checked before the signature: an unsigned huge body is refused the same way
    assert (await ingress.post("/webhooks/autotask/at-t", raw, {}))[0] == 413
    assert ingress.enqueued() == 0


async def test_malformed_json_400(ingress: Ingress) -> None:
    creds = ingress.halo_delivery(ticket(ingress.halo))[1]
    for body in (b"{not json", b"", b"\xff\xfe", b"[1, 2", b"null", b"42", b'"text"', b"[[]]", b'{"event": 1}'):
        status, answer = await ingress.post("/webhooks/halo/halo-t", body, creds)
        assert status == 400, (body, answer)
    for body in (b"{not json", b"[]]", b'{"Action": "Create"}', b'{"Action": 1, "EntityType": "Ticket", "Id": 5}'):
        signed = base64.b64encode(hmac.new(ingress.autotask.webhook_secret.encode(), body, hashlib.sha1).digest())
        headers = {"X-Hook-Signature": f"sha1={signed.decode()}"}
        status, answer = await ingress.post("/webhooks/autotask/at-t", body, headers)
        assert status == 400, (body, answer)
    # ConnectWise: the signing key's location is inside the body, so a body that is not JSON cannot be
    # verified at all; that is a 401 (unverifiable), never a 5xx.
    status, answer = await ingress.post("/webhooks/connectwise/cw-t", b"{not json", {"x-content-signature": "x"})
    assert status == 401 and answer["error"] == "unverifiable"
    assert ingress.enqueued() == 0


# --- replays -------------------------------------------------------------------------------------------
async def test_replayed_delivery_is_acknowledged_but_not_enqueued_again(ingress: Ingress) -> None:
    deliveries = {
        "/webhooks/halo/halo-t": ingress.halo_delivery(ticket(ingress.halo)),
        "/webhooks/autotask/at-t": ingress.autotask_delivery(ticket(ingress.autotask)),
        "/webhooks/connectwise/cw-t": ingress.cw_delivery(ticket(ingress.cw)),
    }
    for path, (body, headers) in deliveries.items():
        before = ingress.enqueued()
        status, answer = await ingress.post(path, body, headers)
        assert status == 202 and answer["accepted"] == 1, (path, answer)
        for _ in range(3):
            status, answer = await ingress.post(path, body, headers)
            assert status == 200 and answer == {"accepted": 0, "duplicates": 1, "ignored": 0}, (path, answer)
        assert ingress.enqueued() == before + 1, path
    assert ingress.enqueued() == 3


# --- ConnectWise key_url ---------------------------------------------------------------------------------
async def test_connectwise_hostile_key_urls_are_refused_without_a_request(ingress: Ingress) -> None:
    port = ingress.target.port
    query = f"companyName={ingress.cw.company}&id={ingress.cw.key_id}"
    key_path = f"/v4_6_release/apis/3.0/system/callbackkey/index.rails?{query}"
    private, unlisted, scheme = "non-public address", "not a ConnectWise host", "scheme is not https"
    hostile = {
        # listed hosts, but on loopback: refused because they resolve to a private address
        "private address (ip)": (f"https://127.0.0.1:{port}{key_path}", private),
        "private address (name)": (f"https://localhost:{port}{key_path}", private),
        # not allow-listed
        "another host": (f"https://127.0.0.2:{port}{key_path}", unlisted),
        "vendor lookalike": (f"https://na.myconnectwise.net.evil.example:{port}{key_path}", unlisted),
        "vendor host, other port": (f"https://na.myconnectwise.net:{port}{key_path}", unlisted),
        "metadata ip": (f"https://169.254.169.254{key_path}", unlisted),
        "userinfo trick": (f"https://na.myconnectwise.net@127.0.0.1:{port}{key_path}", "credentials"),
        # not https
        "http": (f"http://127.0.0.1:{port}{key_path}", scheme),
        "file": ("file:///etc/passwd", scheme),
        "no scheme": (f"//127.0.0.1:{port}{key_path}", scheme),
        # another company's key on an allowed host
        "other company": (f"https://na.myconnectwise.net{key_path.replace(ingress.cw.company, 'evilcorp')}",
                          "companyName"),
    }
    tid = ticket(ingress.cw)
    before = signature_failures("connectwise", "cw-strict")
    for name, (key_url, why) in hostile.items():
        body, headers = ingress.cw_delivery(tid, key_url=key_url)
        status, answer = await ingress.post("/webhooks/connectwise/cw-strict", body, headers)
        assert status == 401, (name, answer)
        assert answer["error"] == "key_url_refused" and why in answer["message"], (name, answer)
    assert ingress.target.hits == 0
    assert ingress.enqueued() == 0
    assert signature_failures("connectwise", "cw-strict") == before + len(hostile)


async def test_connectwise_key_url_redirect_is_not_followed(ingress: Ingress) -> None:
    """The allow-listed key host answers 302 to somewhere else: refused, and the target sees no request."""
    redirector = ingress.cw_redirect  # the "cw-redirect" tenant's PSA: its key endpoint answers 302 -> target
    body, headers = ingress.cw_delivery(ticket(ingress.cw), key_url=redirector.key_url,
                                        signing_key=redirector.signing_key)
    status, answer = await ingress.post("/webhooks/connectwise/cw-redirect", body, headers)
    assert status == 401, answer
    assert answer["error"] == "key_fetch_failed" and "redirect" in answer["message"], answer
    assert len(redirector.key_requests) == 1  # the allowed host was asked (without credentials) ...
    assert redirector.key_requests == [False]
    assert ingress.target.hits == 0  # ... and the redirect was not followed
    assert ingress.enqueued() == 0
