#!/usr/bin/env python3
"""Key-fetch attack benchmark: signed ConnectWise deliveries with a cached key, with and without a flood of
unsigned callbacks whose key URLs point at a host that accepts connections and never answers.

The ingress runs in process (memory bus) with the ConnectWise simulator on 127.0.0.1. Each phase sends
``--deliveries`` signed callbacks one after another, ``--interval-ms`` apart (a fresh ticket each), and
prints p50 / p99 / max answer time; the attack phase runs waves of ``--attackers`` unsigned callbacks
spread over ``--urls`` distinct blackholed key URLs until the signed deliveries are done. Also printed:
the ratio of attack p99 to the same-run baseline p99, CPU ms per signed delivery, the attackers' answers
and the connections the blackhole saw.

    python3 tools/bench_key_fetch.py [--deliveries 400] [--attackers 50] [--urls 10] [--interval-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from autotriage.app import build_host
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.blackhole import Blackhole
from autotriage.sandbox.connectwise import ConnectWiseSimulator


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def signed_phase(session: aiohttp.ClientSession, url: str, cw: ConnectWiseSimulator, n: int,
                       interval_s: float = 0.0) -> tuple[list[float], float]:
    """Send ``n`` signed deliveries one by one (``interval_s`` apart); return their answer times and the
    CPU seconds used (sending included)."""
    times = []
    cpu = time.process_time()
    for i in range(n):
        body = json.dumps(cw.webhook_payload(cw.create_ticket(f"VPN drops {i}", "every hour", 12))).encode()
        headers = {"Content-Type": "application/json", "x-content-signature": cw.sign(body)}
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            assert resp.status == 202, resp.status
        times.append(time.perf_counter() - started)
        if interval_s:
            await asyncio.sleep(interval_s)
    return times, time.process_time() - cpu


async def attack(session: aiohttp.ClientSession, url: str, cw: ConnectWiseSimulator, hole: Blackhole,
                 attackers: int, urls: int, stop: asyncio.Event) -> Counter[str]:
    """Waves of ``attackers`` unsigned callbacks until ``stop`` is set; returns the answers by status/reason."""
    answers: Counter[str] = Counter()
    tid = cw.create_ticket("Printer jammed", "tray 2", 12)
    wave = 0

    async def one(i: int) -> None:
        payload: dict[str, Any] = cw.webhook_payload(tid)
        payload["Metadata"] = {"key_url": f"http://127.0.0.1:{hole.port}/v2025_1//system/callbackkey/index.rails"
                                          f"?companyName={cw.company}&id=w{wave}u{i % urls}"}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "x-content-signature": "bm90LXNpZ25lZA=="}
        async with session.post(url, data=body, headers=headers) as resp:
            answer = await resp.json()
            answers[f"{resp.status} {answer.get('error', '')}"] += 1

    while not stop.is_set():
        await asyncio.gather(*(one(i) for i in range(attackers)))
        wave += 1
    return answers


async def main(deliveries: int, attackers: int, urls: int, interval_s: float) -> None:
    logging.getLogger("autotriage").setLevel(logging.ERROR)  # the refusals' own log lines
    cw, hole = ConnectWiseSimulator(seed_history=False), Blackhole()
    await cw.start()
    await hole.start()
    entry, env = cw.tenant_config("cw-bench")
    entry["psa"]["key_url_hosts"] = [cw.host, f"127.0.0.1:{hole.port}"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tenants.yaml"
        path.write_text(yaml.safe_dump({"tenants": [entry]}), encoding="utf-8")
        os.environ.update(env)
        host = build_host(Settings(bus="memory", http_port=0, http_host="127.0.0.1"), load_tenants(path),
                          ["ingress"], bus=MemoryBus())
        await host.start()
    url = f"http://127.0.0.1:{host.bound_port}/webhooks/connectwise/cw-bench"
    try:
        async with aiohttp.ClientSession() as session:
            await signed_phase(session, url, cw, 5)  # warm-up: the key is fetched and cached
            base, base_cpu = await signed_phase(session, url, cw, deliveries, interval_s)
            stop = asyncio.Event()
            flood = asyncio.create_task(attack(session, url, cw, hole, attackers, urls, stop))
            await asyncio.sleep(0.05)
            under, under_cpu = await signed_phase(session, url, cw, deliveries, interval_s)
            stop.set()
            answers = await flood
    finally:
        await host.stop()
        await hole.stop()
        await cw.stop()
    for name, times, cpu in (("baseline", base, base_cpu), ("under attack", under, under_cpu)):
        print(f"{name:13s} n={len(times)} p50={percentile(times, 0.5) * 1000:.1f} ms "
              f"p99={percentile(times, 0.99) * 1000:.1f} ms max={max(times) * 1000:.1f} ms "
              f"cpu={cpu / len(times) * 1000:.2f} ms/delivery")
    print(f"p99 ratio under attack / baseline: {percentile(under, 0.99) / percentile(base, 0.99):.2f}")
    print(f"attacking callbacks: {sum(answers.values())} answered {dict(answers)}; "
          f"blackhole connections: {hole.connections}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--attackers", type=int, default=50)
    parser.add_argument("--urls", type=int, default=10)
    parser.add_argument("--interval-ms", type=float, default=10.0, help="pause between signed deliveries")
    args = parser.parse_args()
    asyncio.run(main(args.deliveries, args.attackers, args.urls, args.interval_ms / 1000))
