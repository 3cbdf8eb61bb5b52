"""ConnectWise signing-key fetch under attack, through the real ingress on 127.0.0.1.

The attacker sends callbacks with a signature header but no valid signature, naming a key URL on an
allow-listed host that accepts connections and never answers (a blackhole). Legitimate callbacks whose key
is cached must keep answering fast; failures answer "retry later" (429 + Retry-After, which ConnectWise
retries), are cached, bounded and limited per source; DNS failure answers the same in every configuration.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import WEBHOOKS_RAW, Topics
from autotriage.core.errors import WebhookRejected
from autotriage.core.service import ServiceHost
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.psa.signing_keys import FetchGate, SigningKeys
from autotriage.sandbox.blackhole import Blackhole
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from tests.support.pipeline import environ, tenant_entry, write_tenants

RAW = Topics().name(WEBHOOKS_RAW)


@dataclass
class Rig:
    url: str
    bus: MemoryBus
    cw: ConnectWiseSimulator
    hole: Blackhole
    session: aiohttp.ClientSession
    answers: list[tuple[int, float]] = field(default_factory=list)

    def hole_url(self, key_id: str = "k") -> str:
        return (f"http://127.0.0.1:{self.hole.port}/v2025_1//system/callbackkey/index.rails"
                f"?companyName={self.cw.company}&id={key_id}")

    def delivery(self, ticket_id: str, key_url: str | None = None, sign: bool = True) -> tuple[bytes, dict[str, str]]:
        payload = self.cw.webhook_payload(ticket_id)
        if key_url is not None:
            payload["Metadata"] = {"key_url": key_url}
        body = json.dumps(payload).encode()
        signature = self.cw.sign(body) if sign else "bm90LWEtc2lnbmF0dXJl"
        return body, {"Content-Type": "application/json", "x-content-signature": signature}

    async def post(self, tenant: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], str]:
        async with self.session.post(f"{self.url}/webhooks/connectwise/{tenant}", data=body, headers=headers) as r:
            return r.status, await r.json(), r.headers.get("Retry-After", "")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    cw = ConnectWiseSimulator(seed_history=False)
    hole = Blackhole()
    await cw.start()
    await hole.start()
    entry, env = tenant_entry(cw, "cw-a", "http://127.0.0.1:9")
    entry["psa"]["key_url_hosts"] = [cw.host, f"127.0.0.1:{hole.port}", "key-host.invalid"]
    strict, more = tenant_entry(cw, "cw-strict", "http://127.0.0.1:9")
    strict["psa"].update(allow_private_key_url=False, key_url_hosts=["key-host.invalid"])
    env.update(more)
    with environ(env):
        tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry, strict]))
        bus = MemoryBus()
        settings = Settings(bus="memory", http_port=0, http_host="127.0.0.1", trusted_proxies=("127.0.0.1/32",))
        host: ServiceHost = build_host(settings, tenants, ["ingress"], bus=bus)
        await host.start()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            yield Rig(f"http://127.0.0.1:{host.bound_port}", bus, cw, hole, session)
        finally:
            await session.close()
            await host.stop()
            await hole.stop()
            await cw.stop()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def test_cached_key_answers_fast_while_50_unsigned_callbacks_hit_a_blackholed_key_url(rig: Rig) -> None:
    tid = rig.cw.create_ticket("Laptop will not boot", "Black screen after the update", 12)
    body, headers = rig.delivery(tid)
    assert (await rig.post("cw-a", body, headers))[0] == 202  # the legitimate key is now cached

    # 50 unsigned callbacks, 10 distinct blackholed key URLs (5 each), all at once
    attack = [rig.post("cw-a", *rig.delivery(tid, rig.hole_url(f"k{i % 10}"), sign=False)) for i in range(50)]
    attack_task = asyncio.gather(*attack)
    await asyncio.sleep(0.05)  # the fetches are now hanging on the blackhole

    latencies = []
    started_all = time.perf_counter()
    while not attack_task.done() or len(latencies) < 100:
        ticket_id = rig.cw.create_ticket("VPN drops every hour", "Since Monday", 12)
        body, headers = rig.delivery(ticket_id)
        started = time.perf_counter()
        status, answer, _ = await rig.post("cw-a", body, headers)
        latencies.append(time.perf_counter() - started)
        assert status == 202, answer
        await asyncio.sleep(0.005)  # a steady stream, not a busy loop
    attack_s = time.perf_counter() - started_all
    answers = await attack_task
    p50 = sorted(latencies)[len(latencies) // 2]
    print(f"signed deliveries during the attack: n={len(latencies)} p50={p50 * 1000:.1f} ms "
          f"p99={p99(latencies) * 1000:.1f} ms max={max(latencies) * 1000:.1f} ms; attack lasted {attack_s:.1f} s; "
          f"blackhole connections={rig.hole.connections}")
    assert p99(latencies) < 0.100
    # every attacking callback was told to retry later (429 + Retry-After), none was accepted
    assert {a[0] for a in answers} == {429}, answers
    assert all(a[2].isdigit() for a in answers)
    reasons = {a[1]["error"] for a in answers}
    assert reasons <= {"key_fetch_unavailable", "key_fetch_busy", "key_fetch_rate_limited"}, reasons
    # single flight per URL and the process-wide bound: at most 8 fetches ever reached the blackhole
    assert 1 <= rig.hole.connections <= 8
    accepted = {json.loads(r.value)["ticket_id"] for r in rig.bus.records(RAW)}
    assert len(accepted) == len(latencies) + 1


async def test_failed_fetch_is_cached_and_source_budget_runs_out(rig: Rig) -> None:
    tid = rig.cw.create_ticket("Printer jammed", "Tray 2", 12)
    url = rig.hole_url("only")
    first = await rig.post("cw-a", *rig.delivery(tid, url, sign=False))
    assert first[0] == 429 and first[1]["error"] == "key_fetch_unavailable"
    connections = rig.hole.connections
    started = time.perf_counter()
    again = await rig.post("cw-a", *rig.delivery(tid, url, sign=False))
    assert again[0] == 429 and time.perf_counter() - started < 1.0  # the cached failure, no second wait
    assert rig.hole.connections == connections
    # each new dead URL is one more failure for this source; its budget (10) runs out
    reasons = []
    for i in range(12):
        status, answer, _ = await _quick(rig, tid, i)
        reasons.append(answer["error"])
        assert status == 429
    assert reasons[-1] == "key_fetch_rate_limited", reasons
    # behind a trusted reverse proxy (here 127.0.0.1) each X-Forwarded-For sender has its own budget; the
    # left hop is the sender's own claim and is not believed
    for forwarded, expected in (("6.6.6.6, 198.51.100.23", "key_fetch_unavailable"),
                                (None, "key_fetch_rate_limited")):
        body, headers = rig.delivery(tid, f"http://key-host.invalid/v2025_1//system/callbackkey/index.rails"
                                          f"?companyName={rig.cw.company}&id=xff-{forwarded}", sign=False)
        if forwarded:
            headers["X-Forwarded-For"] = forwarded
        status, answer, _ = await rig.post("cw-a", body, headers)
        assert (status, answer["error"]) == (429, expected), (forwarded, answer)


async def _quick(rig: Rig, tid: str, i: int) -> tuple[int, dict[str, Any], str]:
    """A callback naming an allow-listed host that does not resolve: fails at once (no 5 s wait)."""
    key_url = f"http://key-host.invalid/v2025_1//system/callbackkey/index.rails?companyName={rig.cw.company}&id={i}"
    return await rig.post("cw-a", *rig.delivery(tid, key_url, sign=False))


async def test_dns_failure_answers_the_same_in_every_configuration(rig: Rig) -> None:
    tid = rig.cw.create_ticket("Outlook crashes", "On start", 12)
    answers = []
    for tenant, scheme in (("cw-a", "http"), ("cw-strict", "http")):
        key_url = f"{scheme}://key-host.invalid/v2025_1//system/callbackkey/index.rails?companyName={rig.cw.company}"
        status, answer, retry_after = await rig.post(tenant, *rig.delivery(tid, key_url))
        answers.append((status, answer["error"], bool(retry_after)))
    assert answers == [(429, "key_fetch_unavailable", True)] * 2, answers


async def test_rejected_deliveries_are_logged_with_context_and_rate_limited(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    tid = rig.cw.create_ticket("Mouse broken", "Left button", 12)
    body, headers = rig.delivery(tid)
    headers["x-content-signature"] = rig.cw.sign(b"another body")
    with caplog.at_level(logging.WARNING, logger="autotriage.ingress.rejected"):
        for _ in range(60):
            assert (await rig.post("cw-a", body, headers))[0] == 401
        async with rig.session.post(f"{rig.url}/webhooks/connectwise/nobody", data=b"{}") as resp:
            assert resp.status == 404
    lines = [r for r in caplog.records if r.name == "autotriage.ingress.rejected"]
    bad = [r for r in lines if getattr(r, "reason", "") == "bad_signature"]
    assert len(bad) == 20, len(bad)  # 60 rejections, 20 lines per reason and minute
    first = bad[0]
    assert (first.status, first.tenant, first.psa, first.remote) == (401, "cw-a", "connectwise", "127.0.0.1")
    [unknown] = [r for r in lines if getattr(r, "reason", "") == "unknown_tenant"]
    assert unknown.tenant == "nobody" and unknown.status == 404


# --- the SigningKeys rules on their own ---------------------------------------------------------------
async def test_single_flight_and_cached_keys_never_wait() -> None:
    release = asyncio.Event()
    calls: list[str] = []

    async def fetch(url: str) -> str:
        calls.append(url)
        if url == "slow":
            await release.wait()
        return f"key-of-{url}"

    keys = SigningKeys(fetch, gate=FetchGate(), timeout_s=5)
    assert await keys.get("fast") == "key-of-fast"
    waiting = [asyncio.ensure_future(keys.get("slow", "1.2.3.4")) for _ in range(20)]
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    assert await keys.get("fast") == "key-of-fast"  # cached: does not wait behind the slow fetch
    assert time.perf_counter() - started < 0.01
    release.set()
    assert set(await asyncio.gather(*waiting)) == {"key-of-slow"}
    assert calls == ["fast", "slow"]


async def test_concurrent_fetches_are_bounded_without_queueing() -> None:
    never = asyncio.Event()

    async def fetch(url: str) -> str:
        await never.wait()
        return "k"

    keys = SigningKeys(fetch, gate=FetchGate(max_concurrent=3), timeout_s=0.3)
    hanging = [asyncio.ensure_future(keys.get(f"u{i}", f"10.0.0.{i}")) for i in range(3)]
    await asyncio.sleep(0.01)
    with pytest.raises(WebhookRejected) as info:
        await keys.get("u9", "10.0.0.9")
    assert (info.value.status, info.value.reason) == (429, "key_fetch_busy")
    for task in hanging:
        with pytest.raises(WebhookRejected) as info:
            await task
        assert (info.value.status, info.value.reason) == (429, "key_fetch_unavailable")
    # slots are free again after the timeouts
    with pytest.raises(WebhookRejected) as info:
        await keys.get("u10", "10.0.0.10")
    assert info.value.reason == "key_fetch_unavailable"


async def test_definite_refusal_is_cached_longer_than_a_retry_later() -> None:
    calls = 0

    async def fetch(url: str) -> str:
        nonlocal calls
        calls += 1
        raise WebhookRejected(401, "key_fetch_failed", "HTTP 404")

    keys = SigningKeys(fetch, gate=FetchGate(), retry_failure_ttl_s=0.0, refusal_ttl_s=60.0)
    for _ in range(5):
        with pytest.raises(WebhookRejected) as info:
            await keys.get("gone")
        assert info.value.status == 401
    assert calls == 1


async def test_fetches_in_flight_count_against_the_source_budget() -> None:
    never = asyncio.Event()

    async def fetch(url: str) -> str:
        await never.wait()
        return "k"

    gate = FetchGate(max_concurrent=8, failure_burst=2)
    keys = SigningKeys(fetch, gate=gate, timeout_s=0.2)
    results = await asyncio.gather(*(keys.get(f"u{i}", "203.0.113.7") for i in range(6)), return_exceptions=True)
    reasons = Counter(r.reason for r in results if isinstance(r, WebhookRejected))
    # two fetches may fail within the budget of 2; the other four are refused before any fetch starts
    assert reasons == {"key_fetch_unavailable": 2, "key_fetch_rate_limited": 4}, reasons
    with pytest.raises(WebhookRejected) as info:  # the budget is spent now
        await keys.get("u9", "203.0.113.7")
    assert info.value.reason == "key_fetch_rate_limited"
    assert await asyncio.wait_for(SigningKeys(_ok, gate=gate).get("u1", "198.51.100.1"), 1) == "ok"  # other source


async def _ok(url: str) -> str:
    return "ok"
