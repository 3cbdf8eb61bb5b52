#!/usr/bin/env python3
"""Benchmark the five-stage pipeline on a real Kafka broker (``make bench``).

The five stages run as separate processes (``autotriage serve <stage>``) on the broker from
``KAFKA_BOOTSTRAP_SERVERS`` (else the local one from ``deploy/kafka-local``). The PSA APIs and the LLM are
instant doubles - the three PSA simulators (several tenants) and the OpenAI test server with ``latency_s=0`` -
each in a process of its own, timing every request they serve and attributing it to its ticket, so their
time can be subtracted from the pipeline's. An open-loop load generator (one aiohttp session, pre-built and
pre-signed bodies, sends on a fixed schedule whatever the answers do) posts the PSAs' real webhooks.

Phases (on one pipeline, each drained before the next):
  warm-up       a few tickets per tenant (token, signing key, taxonomy and HTTP connections warm)
  overhead@50   pipeline overhead p50/p99 at 50 tickets/s
  overhead@200  pipeline overhead p50/p99 and ingress ack latency p50/p99 at 200 tickets/s
  throughput    offered load for 60 s; sustained completion rate, CPU s per ticket and peak RSS per process

Pipeline overhead of a ticket = outcome ``finished_at`` - ``occurred_at`` (webhook receipt at ingress) minus
the time the doubles spent serving that ticket's requests. Prints rich tables; ``--json`` writes the numbers.
``--profile STAGE`` runs one stage under cProfile and prints where its CPU time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import platform
import pstats
import random
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import NormalDist
from typing import Any

import aiohttp
import numpy as np
import orjson
import psutil
import yaml
from aiohttp import web
from bench_passthrough import HOPS, PassThroughResult, run_passthrough
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingress", "normalizer", "taxonomy-cache", "classifier", "writer")
MARKER = re.compile(rb"bmk(\d+)t(\d+)")
LLM_KEY = "sk-bench-key"
console = Console(width=max(170, Console().width))


# ==================================================================================== doubles (child processes)
@dataclass
class DoubleSpec:
    """What one doubles process serves: ``llm`` (the OpenAI test server) or ``psa`` (simulators)."""

    role: str
    tenants: list[tuple[str, str]] = field(default_factory=list)  # (tenant id, psa kind) for role psa
    #: role llm: (p50 s, p99 s, seed) of a lognormal latency added to every chat request; None: instant
    latency: tuple[float, float, int] | None = None


def lognormal_sampler(p50_s: float, p99_s: float, seed: int) -> Callable[[], float]:
    """Seeded lognormal delays with median ``p50_s`` and 99th percentile ``p99_s`` (a hosted model's long tail)."""
    rng = random.Random(seed)
    mu, sigma = math.log(p50_s), math.log(p99_s / p50_s) / NormalDist().inv_cdf(0.99)
    return lambda: rng.lognormvariate(mu, sigma)


def lognormal_mean(p50_s: float, p99_s: float) -> float:
    """The mean of that distribution (what Little's law needs)."""
    sigma = math.log(p99_s / p50_s) / NormalDist().inv_cdf(0.99)
    return p50_s * math.exp(sigma * sigma / 2)


class Timings:
    """Server-side time per request, summed per ticket key ``tenant:ticket``."""

    def __init__(self) -> None:
        self.by_ticket: defaultdict[str, float] = defaultdict(float)
        self.unattributed = 0.0
        self.requests = 0
        self.total_s = 0.0

    def add(self, key: str | None, seconds: float) -> None:
        self.requests += 1
        self.total_s += seconds
        if key:
            self.by_ticket[key] += seconds
        else:
            self.unattributed += seconds

    def drain(self) -> dict[str, Any]:
        out = {"by_ticket": dict(self.by_ticket), "unattributed": self.unattributed, "requests": self.requests,
               "total_s": self.total_s}
        self.by_ticket.clear()
        self.unattributed, self.requests, self.total_s = 0.0, 0, 0.0
        return out


def _ticket_of(request: web.Request, body: bytes) -> str | None:
    """The ticket a PSA request is about: ``{id}`` in the path, ``ticket_id`` in the query, or the body's id."""
    route_id = request.match_info.get("id")  # a ticket id, or a ticket type/board id (never a ticket's)
    if route_id:
        return route_id
    if "ticket_id" in request.query:
        return request.query["ticket_id"]
    if body:
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(body)
            item = data[0] if isinstance(data, list) and data else data
            if isinstance(item, dict):
                for name in ("ticket_id", "ticketID", "id"):
                    if isinstance(item.get(name), int | str):
                        return str(item[name])
    return None


async def _serve_doubles(spec: DoubleSpec, conn: multiprocessing.connection.Connection) -> None:
    from autotriage.sandbox.autotask import AutotaskSimulator
    from autotriage.sandbox.common import Simulator
    from autotriage.sandbox.connectwise import ConnectWiseSimulator
    from autotriage.sandbox.halo import HaloSimulator
    from autotriage.sandbox.openai_server import OpenAITestServer

    timings = Timings()
    loop = asyncio.get_running_loop()
    delay = lognormal_sampler(*spec.latency) if spec.latency else None
    _analyze_once_per_request()

    class TimedLLM(OpenAITestServer):
        """The OpenAI test server, timing each chat request and forgetting request bodies (memory)."""

        async def _record(self, request: web.Request) -> tuple[Any, bytes, Any]:
            record, raw, body = await super()._record(request)
            self.requests.clear()
            found = MARKER.search(raw)
            request["bench_key"] = f"{found[1].decode()}:{found[2].decode()}" if found else None
            return record, raw, body

        async def _chat(self, request: web.Request, surface: str, deployment: str | None) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                if delay is not None:
                    await asyncio.sleep(delay())
                return await super()._chat(request, surface, deployment)
            finally:
                timings.add(request.get("bench_key"), time.perf_counter() - started)

    answer: dict[str, Any] = {"pid": os.getpid()}
    sims: dict[str, tuple[Simulator, int]] = {}
    llm: TimedLLM | None = None
    if spec.role == "llm":
        llm = TimedLLM(latency_s=0.0, cache_capacity=50_000)
        answer["url"] = await llm.start()
    else:
        entries, env = [], {}
        for index, (tenant_id, kind) in enumerate(spec.tenants):
            sim: Simulator
            if kind == "halo":
                sim, scope = HaloSimulator(seed_history=False), 1
            elif kind == "connectwise":
                sim, scope = ConnectWiseSimulator(seed_history=False), 12
            else:
                at = AutotaskSimulator(seed_history=False)
                sim, scope = at, next(iter(at.queues))

            @web.middleware
            async def timed(request: web.Request, handler: Any, _index: int = index) -> web.StreamResponse:
                started = time.perf_counter()
                body = await request.read() if request.can_read_body else b""
                try:
                    response: web.StreamResponse = await handler(request)
                    return response
                finally:
                    ticket = _ticket_of(request, body)
                    timings.add(f"{_index}:{ticket}" if ticket else None, time.perf_counter() - started)

            sim.app.middlewares.insert(0, timed)
            await sim.start()
            sims[tenant_id] = (sim, scope)
            entry, secrets = sim.tenant_config(tenant_id)
            entries.append(entry)
            env.update(secrets)
        answer.update(entries=entries, env=env)
    conn.send(answer)

    def deliveries(tenant_id: str, index: int, start: int, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
        """Create ``count`` tickets and their pre-built, pre-signed new-ticket deliveries."""
        sim, scope = sims[tenant_id]
        paths = sorted(sim.valid_paths(scope))
        out = []
        for n in range(start, start + count):
            path = paths[n % len(paths)]
            words = " ".join(path)
            ticket_id = sim.create_ticket(f"{words} problem", f"Issue with {words} (bmk{index}t{{id}}).", scope)
            _set_marker(sim, ticket_id, index)
            out.append((ticket_id, *_delivery(sim, ticket_id)))
        return out

    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name = command[0]
        if name == "create":
            conn.send(deliveries(*command[1:]))
        elif name == "timings":
            conn.send(timings.drain())
        elif name == "stop":
            break
    for sim, _ in sims.values():
        await sim.stop()
    if llm is not None:
        await llm.stop()
    conn.send("stopped")


def _analyze_once_per_request() -> None:
    """The OpenAI test server analyses a request body (tokenizing every candidate) for the answer and again for
    its logprobs; in this process, the second call reuses the first result (the double's CPU is not what is
    measured, and it shares the machine with the stages)."""
    import autotriage.sandbox.openai_server as server

    analyze = server.analyze
    last: list[Any] = [None, None, None]  # messages, response format (the request's own objects), analysis

    def analyze_once(body: Any) -> Any:
        messages, schema = body.get("messages"), body.get("response_format")
        if last[0] is not messages or last[1] is not schema or messages is None:
            last[:] = [messages, schema, analyze(body)]
        return last[2]

    server.analyze = analyze_once


def _set_marker(sim: Any, ticket_id: str, index: int) -> None:
    """Put ``bmk<tenant>t<ticket>`` into the ticket's description (what the LLM request will carry)."""
    marker = f"bmk{index}t{ticket_id}"
    tickets = sim.tickets
    key = int(ticket_id)
    ticket = tickets[key]
    if isinstance(ticket, dict):
        for name in ("details", "description"):
            if name in ticket:
                ticket[name] = ticket[name].replace("bmk" + str(index) + "t{id}", marker)
    else:  # ConnectWise: the description is the first (detail) note
        for note in sim.ticket_notes.get(key, []):
            note["text"] = note["text"].replace("bmk" + str(index) + "t{id}", marker)


def _delivery(sim: Any, ticket_id: str) -> tuple[bytes, dict[str, str]]:
    """The PSA's real new-ticket webhook body and headers (credentials or signature included)."""
    from autotriage.sandbox.autotask import AutotaskSimulator
    from autotriage.sandbox.connectwise import ConnectWiseSimulator

    if isinstance(sim, AutotaskSimulator):
        body, headers = sim.signed_delivery(sim.webhook_payload(ticket_id))
        return body, {**headers, "Content-Type": "application/json"}
    if isinstance(sim, ConnectWiseSimulator):
        body = orjson.dumps(sim.webhook_payload(ticket_id))
        return body, {"Content-Type": "application/json", "x-content-signature": sim.sign(body)}
    body = orjson.dumps(sim.webhook_payload(ticket_id))
    creds = base64.b64encode(f"{sim.webhook_user}:{sim.webhook_password}".encode()).decode()
    return body, {"Content-Type": "application/json", "Authorization": f"Basic {creds}"}


def doubles_process(spec: DoubleSpec, conn: multiprocessing.connection.Connection) -> None:
    """Child process entry point."""
    logging_off()
    asyncio.run(_serve_doubles(spec, conn))


def logging_off() -> None:
    import logging

    logging.disable(logging.CRITICAL)


class Doubles:
    """A doubles child process and its command pipe."""

    def __init__(self, spec: DoubleSpec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=doubles_process, args=(spec, child), daemon=True, name=f"doubles-{spec.role}")
        self.info: dict[str, Any] = {}

    async def start(self) -> dict[str, Any]:
        self.process.start()
        self.info = await self.recv(120)
        return self.info

    async def recv(self, timeout: float) -> Any:
        ready = await asyncio.to_thread(self.conn.poll, timeout)
        if not ready:
            raise TimeoutError(f"{self.process.name} did not answer within {timeout}s")
        return self.conn.recv()

    async def call(self, *command: Any, timeout: float = 120) -> Any:
        self.conn.send(command)
        return await self.recv(timeout)

    async def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                await self.call("stop", timeout=15)
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


# ==================================================================================== stage processes
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StageProc:
    stage: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stages:
    """The five stages as OS processes with a per-run topic prefix."""

    def __init__(self, bootstrap: str, prefix: str, tenants_file: Path, env: dict[str, str], workdir: Path,
                 partitions: int, log_level: str) -> None:
        self.env = {**os.environ, **env, "AUTOTRIAGE_BUS": "kafka", "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AUTOTRIAGE_TOPIC_PREFIX": prefix, "AUTOTRIAGE_TENANTS_FILE": str(tenants_file),
                    "AUTOTRIAGE_HTTP_HOST": "127.0.0.1", "AUTOTRIAGE_LOG_FORMAT": "json",
                    "AUTOTRIAGE_LOG_LEVEL": log_level, "AUTOTRIAGE_PARTITIONS": str(partitions)}
        self.workdir = workdir
        self.partitions = partitions
        self.procs: dict[str, StageProc] = {}

    async def create_topics(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "autotriage.cli", "topics", "create", "--partitions", str(self.partitions),
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(out.decode())

    async def start(self, stage: str, profile: Path | None = None) -> StageProc:
        port = free_port()
        log = self.workdir / f"{stage}.log"
        with log.open("ab") as out:
            prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
            process = await asyncio.create_subprocess_exec(
                *prefix, "-m", "autotriage.cli", "serve", stage, "--port", str(port), env=self.env,
                stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
        sp = self.procs[stage] = StageProc(stage, port, process, log)
        deadline = time.monotonic() + 90
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise RuntimeError(f"{stage} exited {process.returncode}: {log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{sp.url}/readyz") as resp:
                        if resp.status == 200:
                            return sp
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{stage} not ready in 90 s: {log.read_text()[-2000:]}")

    async def stop(self) -> None:
        for sp in self.procs.values():
            if sp.process.returncode is None:
                sp.process.send_signal(signal.SIGTERM)
        for sp in self.procs.values():
            try:
                await asyncio.wait_for(sp.process.wait(), 45)
            except TimeoutError:
                sp.process.kill()
                await sp.process.wait()


# ==================================================================================== measurement
@dataclass
class Outcome:
    occurred: float
    finished: float
    action: str


class OutcomeReader:
    """Reads the outcomes topic (no group) into ``key -> first outcome``."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.outcomes: dict[str, Outcome] = {}
        self.records = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()

        async def run() -> None:
            try:
                while not self._stop.is_set():
                    batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                    for messages in batches.values():
                        for m in messages:
                            self._add(m.value)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    def _add(self, value: bytes) -> None:
        self.records += 1
        data = orjson.loads(value)
        key = f"{data['tenant']}:{data['ticket_id']}"
        if key not in self.outcomes:
            self.outcomes[key] = Outcome(datetime.fromisoformat(data["occurred_at"]).timestamp(),
                                         datetime.fromisoformat(data["finished_at"]).timestamp(), data["action"])

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


@dataclass
class Delivery:
    key: str  # tenant:ticket
    tenant: str
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    ack_s: list[float] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0


async def open_loop(session: aiohttp.ClientSession, deliveries: Sequence[Delivery], rate: float) -> LoadResult:
    """Send ``deliveries`` at ``rate``/s on a fixed schedule (open loop: a slow answer never delays the next)."""
    result = LoadResult(started=time.time())
    tasks: list[asyncio.Task[None]] = []

    async def send(delivery: Delivery, due: float) -> None:
        started = time.perf_counter()
        result.late_s.append(max(0.0, started - due))
        try:
            async with session.post(delivery.url, data=delivery.body, headers=delivery.headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            result.statuses[type(exc).__name__] += 1
            return
        result.ack_s.append(time.perf_counter() - started)
        result.statuses[str(status)] += 1
        if status in (200, 202):
            result.accepted += 1
            result.keys.append(delivery.key)

    origin = time.perf_counter()
    for i, delivery in enumerate(deliveries):
        due = origin + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(delivery, due)))
        result.sent += 1
    await asyncio.gather(*tasks)
    result.ended = time.time()
    return result


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def cpu_s(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) from /proc, else the current RSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except (OSError, psutil.Error):
        return float("nan")


def broker_pid(bootstrap: str = "") -> int | None:
    """The local broker's process: this checkout's pid file, else the process listening on the bootstrap port."""
    pidfile = ROOT / "deploy" / "kafka-local" / ".data" / "kafka.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().strip())
        if psutil.pid_exists(pid):
            return pid
    port = bootstrap.split(",", maxsplit=1)[0].rsplit(":", 1)[-1]
    if port.isdigit():
        with contextlib.suppress(psutil.Error, OSError):
            for conn in psutil.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == int(port) and conn.pid:
                    return int(conn.pid)
    return None


def broker_version(pid: int | None) -> str:
    """The Kafka version from the running broker's class path (``kafka_2.13-<version>.jar``)."""
    with contextlib.suppress(psutil.Error, OSError):
        if pid is not None:
            for jar in ROOT.glob("deploy/kafka-local/.kafka/lib/kafka_2.13-*.jar"):
                return jar.stem.removeprefix("kafka_2.13-")
            found = re.search(r"-cp\s+(\S+)", " ".join(psutil.Process(pid).cmdline()))
            if found:
                jars = sorted(Path(found[1].rstrip("*")).glob("kafka_2.13-*.jar"))
                if jars:
                    return jars[0].stem.removeprefix("kafka_2.13-")
    return "unknown"


def machine(bootstrap: str = "") -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    kafka = broker_version(broker_pid(bootstrap))
    import aiokafka

    return {
        "cpu": f"{psutil.cpu_count(logical=True)} logical cores ({psutil.cpu_count(logical=False)} physical), {cpu}",
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "kafka": kafka,
        "aiokafka": aiokafka.__version__,
    }


# ==================================================================================== the benchmark
@dataclass
class Phase:
    name: str
    rate: float
    seconds: float
    tickets: int = 0
    accepted: int = 0
    completed: int = 0
    ack_p50_ms: float = float("nan")
    ack_p99_ms: float = float("nan")
    ack_max_ms: float = float("nan")
    late_p99_ms: float = float("nan")
    e2e_p50_ms: float = float("nan")
    e2e_p99_ms: float = float("nan")
    overhead_p50_ms: float = float("nan")
    overhead_p99_ms: float = float("nan")
    doubles_per_ticket_ms: float = float("nan")
    offered_per_s: float = float("nan")
    completed_per_s: float = float("nan")
    overall_per_s: float = float("nan")
    drain_s: float = float("nan")
    wall_s: float = float("nan")  # first send to the end of the drain: the time the CPU was measured over
    finished: int = 0  # outcomes finished in that time (the CPU per ticket divisor)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_s_per_ticket: dict[str, float] = field(default_factory=dict)
    cpu_share: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class LLMPhase:
    """One classifier process fed ``tickets.enriched`` events at a fixed rate, its LLM answering with a
    lognormal latency: sustained rate, latency, in-flight records and CPU per ticket."""

    rate: float
    seconds: float
    concurrency: int
    window: int
    p50_s: float
    p99_s: float
    tickets: int = 0
    completed: int = 0
    offered_per_s: float = float("nan")
    completed_per_s: float = float("nan")
    littles_law_per_s: float = float("nan")  # concurrency / mean LLM latency: the bound the slots set
    e2e_p50_ms: float = float("nan")
    e2e_p99_ms: float = float("nan")
    llm_p50_ms: float = float("nan")
    llm_p99_ms: float = float("nan")
    overhead_p50_ms: float = float("nan")
    overhead_p99_ms: float = float("nan")
    in_flight_mean: float = float("nan")
    in_flight_max: float = float("nan")
    drain_s: float = float("nan")
    cpu_ms_per_ticket: dict[str, float] = field(default_factory=dict)
    cpu_share: dict[str, float] = field(default_factory=dict)


class TopicTimes:
    """Reads a topic (no group) into ``tenant:ticket -> record timestamp`` (seconds)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.times: dict[str, float] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()

        async def run() -> None:
            try:
                while not self._stop.is_set():
                    for messages in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                        for m in messages:
                            self.times.setdefault(m.key.decode(), m.timestamp / 1000)
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


async def read_topic(bootstrap: str, topic: str, limit: int, settle_s: float = 10.0) -> list[tuple[bytes, bytes]]:
    """Up to ``limit`` (key, value) records of a topic, from the beginning to its end when read started."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    ends: dict[TopicPartition, int] = {}
    deadline = time.monotonic() + settle_s
    try:
        while len(out) < limit:
            for messages in (await consumer.getmany(timeout_ms=300, max_records=5000)).values():
                out.extend((m.key, m.value) for m in messages if m.key is not None and m.value is not None)
            if not ends and consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
            if ends and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                break
            if not ends and time.monotonic() > deadline:
                break
    finally:
        await consumer.stop()
    return out[:limit]


async def in_flight_of(session: aiohttp.ClientSession, url: str, stage: str) -> float | None:
    """``autotriage_stage_in_flight`` of a stage process, from its /metrics."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
        async with session.get(f"{url}/metrics") as resp:
            text = await resp.text()
        found = re.search(rf'^autotriage_stage_in_flight\{{stage="{re.escape(stage)}"\}} (\S+)$', text, re.M)
        return float(found[1]) if found else None
    return None


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir or f"/tmp/autotriage-bench-{uuid.uuid4().hex[:6]}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"bench{uuid.uuid4().hex[:8]}."
        self.bootstrap = ""
        kinds = ["halo", "connectwise", "autotask", "halo", "connectwise", "autotask"][: args.tenants]
        self.tenants = [(f"bench-{kind[:4]}-{i}", kind) for i, kind in enumerate(kinds)]
        self.psa = Doubles(DoubleSpec("psa", self.tenants))
        self.llm = Doubles(DoubleSpec("llm"))
        latency = (args.llm_p50, args.llm_p99, args.seed)
        self.slow_llm = Doubles(DoubleSpec("llm", latency=latency)) if args.llm_rate > 0 else None
        self.llm_phase: LLMPhase | None = None
        self.llm_stages: Stages | None = None
        self.passthrough: PassThroughResult | None = None
        self.entries: list[dict[str, Any]] = []
        self.env: dict[str, str] = {}
        self.stages: Stages | None = None
        self.reader: OutcomeReader | None = None
        self.created: dict[str, int] = Counter()
        self.doubles_time: defaultdict[str, float] = defaultdict(float)
        self.doubles_unattributed = 0.0
        self.phases: list[Phase] = []
        #: cores each process uses with no load (polling, heartbeats, metrics): its fixed cost
        self.idle_cores: dict[str, float] = {}

    async def setup(self) -> None:
        sys.path.insert(0, str(ROOT))  # the checkout's tests.support (broker helper)
        from tests.support.kafka_local import ensure_broker

        self.bootstrap = self.bootstrap or ensure_broker()
        llm_info, psa_info = await asyncio.gather(self.llm.start(), self.psa.start())
        entries = []
        for entry in psa_info["entries"]:
            entry["llm"] = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{llm_info['url']}/v1",
                            "api_key": {"env": "BENCH_OPENAI_API_KEY"}, "timeout_s": 30, "max_retries": 2}
            entry["policy"] = {"mode": "apply", "apply_threshold": 0.5, "suggest_threshold": 0.2}
            entries.append(entry)
        tenants_file = self.workdir / "tenants.yaml"
        tenants_file.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
        env = {**psa_info["env"], "BENCH_OPENAI_API_KEY": LLM_KEY}
        self.entries, self.env = entries, env
        self.stages = Stages(self.bootstrap, self.prefix, tenants_file, env, self.workdir, self.args.partitions,
                             self.args.log_level)
        await self.stages.create_topics()
        profile = self.workdir / f"{self.args.profile}.prof" if self.args.profile else None
        for stage in STAGES:
            await self.stages.start(stage, profile if stage == self.args.profile else None)
        self.reader = OutcomeReader(self.bootstrap, f"{self.prefix}tickets.outcomes")
        await self.reader.start()

    async def deliveries(self, count: int) -> list[Delivery]:
        """``count`` new tickets spread over the tenants, with their deliveries pre-built."""
        assert self.stages is not None
        ingress = self.stages.procs["ingress"].url
        per_tenant = -(-count // len(self.tenants))
        made: list[list[Delivery]] = []
        for index, (tenant_id, kind) in enumerate(self.tenants):
            rows = await self.psa.call("create", tenant_id, index, self.created[tenant_id], per_tenant)
            self.created[tenant_id] += per_tenant
            made.append([Delivery(f"{tenant_id}:{tid}", tenant_id, f"{ingress}/webhooks/{kind}/{tenant_id}", body,
                                  headers) for tid, body, headers in rows])
        interleaved = [d for group in zip(*made, strict=True) for d in group]
        return interleaved[:count]

    async def collect_doubles(self) -> None:
        for double in (self.psa, self.llm):
            stats = await double.call("timings")
            self.doubles_unattributed += stats["unattributed"]
            for key, seconds in stats["by_ticket"].items():
                index, ticket = key.split(":", 1)
                if index.isdigit() and int(index) < len(self.tenants):
                    self.doubles_time[f"{self.tenants[int(index)][0]}:{ticket}"] += seconds

    def pids(self) -> dict[str, int]:
        assert self.stages is not None
        pids = {stage: sp.process.pid for stage, sp in self.stages.procs.items()}
        pids.update({"doubles: PSA sims": self.psa.pid, "doubles: LLM": self.llm.pid, "load generator": os.getpid()})
        if (broker := broker_pid(self.bootstrap)) is not None:
            pids["kafka broker"] = broker
        return pids

    async def run_phase(
        self, session: aiohttp.ClientSession, name: str, rate: float, seconds: float, drain_timeout: float
    ) -> Phase:
        """Offer ``rate`` tickets/s for ``seconds``, then wait (at most ``drain_timeout``) for their outcomes.

        CPU per ticket = CPU used from the first send to the end of the wait / outcomes finished in that time.
        Sustained throughput = outcomes finished while the load was offered (after a ramp) / that time: equal
        to the offered rate when the pipeline keeps up, its capacity when it does not."""
        assert self.reader is not None
        phase = Phase(name, rate, seconds)
        batch = await self.deliveries(int(rate * seconds))
        phase.tickets = len(batch)
        pids = self.pids()
        cpu_before = {n: cpu_s(p) for n, p in pids.items()}
        wall_started, started = time.monotonic(), time.time()
        console.log(f"{name}: {len(batch)} tickets at {rate:.0f}/s")
        load = await open_loop(session, batch, rate)
        phase.accepted = load.accepted
        phase.statuses = dict(load.statuses)
        phase.offered_per_s = load.sent / max(1e-9, load.ended - load.started)
        expected = set(load.keys)
        for _ in range(int(drain_timeout / 0.2)):  # bounded wait for the phase to drain
            if expected <= self.reader.outcomes.keys():
                break
            await asyncio.sleep(0.2)
        drained = expected <= self.reader.outcomes.keys()
        phase.drain_s = time.time() - load.ended if drained else float("nan")
        wall = time.monotonic() - wall_started
        cpu_used = {n: cpu_s(p) - cpu_before[n] for n, p in pids.items()}
        finished_in_run = sum(1 for o in self.reader.outcomes.values() if started <= o.finished <= time.time())
        phase.peak_rss_mb = {n: peak_rss_mb(p) for n, p in pids.items()}
        await asyncio.sleep(0.5)
        await self.collect_doubles()
        done_keys = [k for k in expected if k in self.reader.outcomes]
        done = [self.reader.outcomes[k] for k in done_keys]
        phase.completed = len(done)
        for proc_name, used in cpu_used.items():
            phase.cpu_s_per_ticket[proc_name] = used / max(1, finished_in_run)
            phase.cpu_share[proc_name] = used / wall
        phase.wall_s, phase.finished = wall, finished_in_run
        e2e = [o.finished - o.occurred for o in done]
        doubles = [self.doubles_time.get(k, 0.0) for k in done_keys]
        overhead = [max(0.0, a - b) for a, b in zip(e2e, doubles, strict=True)]
        phase.ack_p50_ms, phase.ack_p99_ms = pct(load.ack_s, 50) * 1e3, pct(load.ack_s, 99) * 1e3
        phase.ack_max_ms = max(load.ack_s, default=float("nan")) * 1e3
        phase.late_p99_ms = pct(load.late_s, 99) * 1e3
        phase.e2e_p50_ms, phase.e2e_p99_ms = pct(e2e, 50) * 1e3, pct(e2e, 99) * 1e3
        phase.overhead_p50_ms, phase.overhead_p99_ms = pct(overhead, 50) * 1e3, pct(overhead, 99) * 1e3
        phase.doubles_per_ticket_ms = float(np.mean(doubles)) * 1e3 if doubles else float("nan")
        ramp = min(5.0, seconds / 4)
        window = load.ended - (load.started + ramp)
        in_window = sum(1 for o in done if load.started + ramp <= o.finished <= load.ended)
        phase.completed_per_s = in_window / window if window > 0 else float("nan")
        if done:
            phase.overall_per_s = len(done) / (max(o.finished for o in done) - load.started)
        self.phases.append(phase)
        console.log(f"{name}: accepted {phase.accepted}/{phase.tickets}, completed {phase.completed}, "
                    + (f"drained {phase.drain_s:.1f}s after the last send" if drained else
                       f"NOT drained {drain_timeout:.0f}s after the last send"))
        return phase

    async def measure_idle(self, seconds: float) -> None:
        """CPU of each process while nothing is offered (after the warm-up has drained)."""
        if seconds <= 0:
            return
        pids = self.pids()
        before = {n: cpu_s(p) for n, p in pids.items()}
        started = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - started
        self.idle_cores = {n: (cpu_s(p) - before[n]) / wall for n, p in pids.items()}
        console.log("idle: " + ", ".join(f"{n} {c:.3f}" for n, c in self.idle_cores.items()) + " cores")

    def above_idle_ms(self, phase: Phase, name: str) -> float:
        """CPU ms per ticket of a process in a phase beyond what it burns idle for the phase's duration."""
        idle = self.idle_cores.get(name)
        per = phase.cpu_s_per_ticket.get(name)
        if idle is None or per is None or phase.finished <= 0:
            return float("nan")
        return max(0.0, per - idle * phase.wall_s / phase.finished) * 1e3

    async def run_llm_phase(self, session: aiohttp.ClientSession) -> LLMPhase:
        """One classifier process with a concurrency sized by Little's law, its LLM double answering with a
        lognormal latency, fed real ``tickets.enriched`` events of the earlier phases (re-numbered, so each is a
        new ticket) at ``--llm-rate`` for ``--llm-duration`` s, on topics of its own."""
        assert self.slow_llm is not None
        args = self.args
        phase = LLMPhase(args.llm_rate, args.llm_duration, args.llm_concurrency,
                         max(args.llm_window, args.llm_concurrency), args.llm_p50, args.llm_p99)
        phase.littles_law_per_s = phase.concurrency / lognormal_mean(args.llm_p50, args.llm_p99)
        info = await self.slow_llm.start()
        prefix = f"{self.prefix}llm."
        workdir = self.workdir / "llm-phase"
        workdir.mkdir(exist_ok=True)
        entries = [{**e, "llm": {**e["llm"], "base_url": f"{info['url']}/v1", "timeout_s": 60}} for e in self.entries]
        tenants_file = workdir / "tenants.yaml"
        tenants_file.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
        env = {**self.env, "AUTOTRIAGE_CONCURRENCY": str(phase.concurrency), "AUTOTRIAGE_WINDOW": str(phase.window)}
        self.llm_stages = stages = Stages(self.bootstrap, prefix, tenants_file, env, workdir, args.partitions,
                                          args.log_level)
        await stages.create_topics()
        sources = await read_topic(self.bootstrap, f"{self.prefix}tickets.enriched", 50_000)
        taxonomies = await read_topic(self.bootstrap, f"{self.prefix}taxonomies", 10_000)
        if not sources or not taxonomies:
            raise RuntimeError("the LLM phase needs the enriched events and taxonomies of the earlier phases")
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, compression_type="zstd")
        await producer.start()
        times = TopicTimes(self.bootstrap, f"{prefix}tickets.classified")
        try:
            for tax_key, tax_value in taxonomies:
                await producer.send(f"{prefix}taxonomies", tax_value, key=tax_key)
            await producer.flush()
            classifier = await stages.start("classifier")
            await times.start()
            index = {tenant: i for i, (tenant, _) in enumerate(self.tenants)}
            count = int(phase.rate * phase.seconds)
            phase.tickets = count
            bodies = [orjson.loads(sources[n % len(sources)][1]) for n in range(count)]
            pids = {"classifier": classifier.process.pid, "doubles: LLM (lognormal)": self.slow_llm.pid,
                    "load generator": os.getpid()}
            if (broker := broker_pid(self.bootstrap)) is not None:
                pids["kafka broker"] = broker
            cpu_before = {n: cpu_s(p) for n, p in pids.items()}
            samples: list[float] = []
            stop_sampling = asyncio.Event()

            async def sample() -> None:
                while not stop_sampling.is_set():
                    value = await in_flight_of(session, classifier.url, "classifier")
                    if value is not None:
                        samples.append(value)
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            console.log(f"LLM phase: {count} tickets at {phase.rate:g}/s to one classifier, concurrency "
                        f"{phase.concurrency}, window {phase.window}, LLM lognormal p50 {args.llm_p50:g} s "
                        f"p99 {args.llm_p99:g} s")
            keys: list[str] = []
            wall_started, started = time.monotonic(), time.time()
            origin = time.perf_counter()
            for n, event in enumerate(bodies):
                delay = origin + n / phase.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                old, new = event["ticket_id"], str(50_000_000 + n)
                marker = f"bmk{index.get(event['tenant'], 0)}t"
                ticket = event["ticket"]
                for name in ("summary", "description"):
                    ticket[name] = ticket[name].replace(marker + old, marker + new)
                ticket["id"] = event["ticket_id"] = new
                event["event_id"] = uuid.uuid4().hex
                event["occurred_at"] = datetime.now().astimezone().isoformat()
                key = f"{event['tenant']}:{new}"
                keys.append(key)
                await producer.send(f"{prefix}tickets.enriched", orjson.dumps(event), key=key.encode())
            ended = time.time()
            phase.offered_per_s = count / max(1e-9, ended - started)
            for _ in range(int(args.drain_timeout / 0.2)):
                if len(times.times) >= count and all(k in times.times for k in keys):
                    break
                await asyncio.sleep(0.2)
            done = [k for k in keys if k in times.times]
            phase.completed = len(done)
            if phase.completed == count:
                phase.drain_s = time.time() - ended
            wall = time.monotonic() - wall_started
            cpu_used = {n: cpu_s(p) - cpu_before[n] for n, p in pids.items()}
            stop_sampling.set()
            await sampler
        finally:
            await producer.stop()
            await times.stop()
        await asyncio.sleep(0.5)
        llm_time = await self.slow_llm.call("timings")
        by_ticket = llm_time["by_ticket"]
        e2e, llm, overhead = [], [], []
        for key in done:
            tenant, ticket_id = key.split(":", 1)
            sent = datetime.fromisoformat(bodies[int(ticket_id) - 50_000_000]["occurred_at"]).timestamp()
            spent = by_ticket.get(f"{index.get(tenant, 0)}:{ticket_id}", 0.0)
            e2e.append(times.times[key] - sent)
            llm.append(spent)
            overhead.append(max(0.0, e2e[-1] - spent))
        ramp = min(10.0, phase.seconds / 4)
        in_window = sum(1 for k in done if started + ramp <= times.times[k] <= ended)
        phase.completed_per_s = in_window / max(1e-9, ended - started - ramp)
        phase.e2e_p50_ms, phase.e2e_p99_ms = pct(e2e, 50) * 1e3, pct(e2e, 99) * 1e3
        phase.llm_p50_ms, phase.llm_p99_ms = pct(llm, 50) * 1e3, pct(llm, 99) * 1e3
        phase.overhead_p50_ms, phase.overhead_p99_ms = pct(overhead, 50) * 1e3, pct(overhead, 99) * 1e3
        if samples:
            phase.in_flight_mean, phase.in_flight_max = float(np.mean(samples)), max(samples)
        for proc_name, used in cpu_used.items():
            phase.cpu_ms_per_ticket[proc_name] = used / max(1, phase.completed) * 1e3
            phase.cpu_share[proc_name] = used / wall
        console.log(f"LLM phase: completed {phase.completed}/{count}, {phase.completed_per_s:.1f}/s under load")
        await stages.stop()
        self.llm_phase = phase
        return phase

    async def run(self) -> None:
        from autotriage.sandbox.kafka_local import ensure_broker

        self.bootstrap = ensure_broker()
        if self.args.passthrough_burst > 0:
            self.passthrough = await run_passthrough(
                self.bootstrap, self.prefix, self.args.partitions, self.args.overhead_rates, self.args.phase_s,
                self.args.passthrough_burst, console.log, idle_s=min(5.0, self.args.idle_s))
        await self.setup()
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)) as s:
            await self.run_phase(s, "warm-up", 10, 3, self.args.drain_timeout)
            await self.measure_idle(self.args.idle_s)
            for rate in self.args.overhead_rates:
                await self.run_phase(s, f"overhead@{rate:g}/s", rate, self.args.phase_s, self.args.drain_timeout)
            if self.slow_llm is not None:
                await self.run_llm_phase(s)
            if self.args.rate <= 0:
                return
            # The last phase is not drained to the end when the pipeline cannot keep up (the topics are deleted).
            await self.run_phase(s, "throughput", self.args.rate, self.args.duration, 30)

    async def close(self) -> None:
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader.stop()
        if self.stages is not None:
            await self.stages.stop()
        if self.llm_stages is not None:
            await self.llm_stages.stop()
        await asyncio.gather(self.psa.stop(), self.llm.stop(), *([self.slow_llm.stop()] if self.slow_llm else []))
        if self.bootstrap:
            await delete_topics(self.bootstrap, self.prefix)

    # --- output -------------------------------------------------------------------------------------
    def reference_phase(self) -> Phase | None:
        """The drained phase with the most tickets: its CPU per ticket counts only finished work."""
        drained = [p for p in self.phases if not math.isnan(p.drain_s) and p.name != "warm-up"]
        return max(drained, key=lambda p: p.completed, default=None)

    @staticmethod
    def stages_cpu_ms(phase: Phase | None) -> float:
        """The five stages' CPU ms per ticket in a phase."""
        if phase is None:
            return float("nan")
        return sum(v for k, v in phase.cpu_s_per_ticket.items() if k in STAGES) * 1e3

    def report(self) -> dict[str, Any]:
        info = machine(self.bootstrap)
        console.print(f"[bold]Machine[/]: {info['cpu']}, {info['ram']} RAM, {info['os']}, Python {info['python']}, "
                      f"Kafka {info['kafka']} (single KRaft node on the same machine), aiokafka {info['aiokafka']}")
        tenants = ", ".join(f"{t} ({k})" for t, k in self.tenants)
        console.print(f"tenants: {tenants}; partitions {self.args.partitions}; stage log level {self.args.log_level}; "
                      f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        by_name = {p.name: p for p in self.phases}
        results = Table(title="Pipeline benchmark (instant PSA and LLM doubles)")
        for column in ("phase", "offered/s", "accepted", "done", "completed/s under load", "overall/s", "ack p50 ms",
                       "ack p99 ms", "overhead p50 ms", "overhead p99 ms", "e2e p99 ms", "doubles ms/ticket",
                       "drain s"):
            results.add_column(column, justify="right" if column != "phase" else "left")
        for p in self.phases:
            results.add_row(p.name, f"{p.offered_per_s:.0f}", f"{p.accepted}/{p.tickets}", str(p.completed),
                            f"{p.completed_per_s:.1f}", f"{p.overall_per_s:.1f}", f"{p.ack_p50_ms:.1f}",
                            f"{p.ack_p99_ms:.1f}", f"{p.overhead_p50_ms:.0f}", f"{p.overhead_p99_ms:.0f}",
                            f"{p.e2e_p99_ms:.0f}", f"{p.doubles_per_ticket_ms:.1f}", f"{p.drain_s:.1f}")
        console.print(results)

        pt = self.passthrough
        if pt is not None:
            floor = Table(title="Floor: bare aiokafka 5-hop pass-through (consume, produce, commit per batch; same "
                                f"broker, same run); idle {pt.idle_cores_mean:.3f} cores per hop")
            for column in ("records at", "records", "p50 ms end to end", "p99 ms end to end", "CPU ms/hop/record",
                           "above idle", "records/s end to end"):
                floor.add_column(column, justify="right")
            for at in pt.rates:
                floor.add_row(f"{at.rate:g}/s", str(at.records), f"{at.p50_ms:.1f}", f"{at.p99_ms:.1f}",
                              f"{at.cpu_ms:.3f}", f"{pt.above_idle_ms(at):.3f}", f"{at.rate:g}")
            floor.add_row("burst", str(pt.burst_records), "", "", f"{pt.cpu_ms_per_hop_mean:.3f}", "",
                          f"{pt.burst_per_s:.0f}")
            console.print(floor)
        lp = self.llm_phase
        if lp is not None:
            llm = Table(title=f"One classifier, LLM double with lognormal latency (p50 {lp.p50_s:g} s, "
                              f"p99 {lp.p99_s:g} s)")
            for column in ("offered/s", "done", "completed/s under load", "concurrency", "window",
                           "Little's law bound/s", "in flight mean", "in flight max", "LLM p50 ms", "LLM p99 ms",
                           "e2e p50 ms", "e2e p99 ms", "overhead p50 ms", "overhead p99 ms", "drain s"):
                llm.add_column(column, justify="right")
            llm.add_row(f"{lp.offered_per_s:.0f}", f"{lp.completed}/{lp.tickets}", f"{lp.completed_per_s:.1f}",
                        str(lp.concurrency), str(lp.window), f"{lp.littles_law_per_s:.0f}", f"{lp.in_flight_mean:.0f}",
                        f"{lp.in_flight_max:.0f}", f"{lp.llm_p50_ms:.0f}", f"{lp.llm_p99_ms:.0f}",
                        f"{lp.e2e_p50_ms:.0f}", f"{lp.e2e_p99_ms:.0f}", f"{lp.overhead_p50_ms:.0f}",
                        f"{lp.overhead_p99_ms:.0f}", f"{lp.drain_s:.1f}")
            console.print(llm)
            cpu_llm = Table(title="CPU during the LLM phase")
            for column in ("process", "CPU ms/ticket", "cores used"):
                cpu_llm.add_column(column, justify="right" if column != "process" else "left")
            for proc_name, per in lp.cpu_ms_per_ticket.items():
                cpu_llm.add_row(proc_name, f"{per:.2f}", f"{lp.cpu_share.get(proc_name, 0):.2f}")
            console.print(cpu_llm)

        reference = self.reference_phase()
        ref_hop = pt.at(reference.rate) if pt is not None and reference is not None else None
        hop_cpu = ref_hop.cpu_ms if ref_hop else float("nan")
        if self.phases:
            ref_name = reference.name if reference else "-"
            cpu = Table(title=f"CPU ms per ticket by process and phase ('x hop': '{ref_name}' against one "
                              "pass-through hop at the same rate)")
            cpu.add_column("process")
            for p in self.phases:
                cpu.add_column(p.name, justify="right")
            cpu.add_column("x hop", justify="right")
            cpu.add_column("idle cores", justify="right")
            cpu.add_column(f"above idle ({ref_name})", justify="right")
            cpu.add_column("peak RSS MB", justify="right")
            for proc_name in self.phases[-1].cpu_s_per_ticket:
                peak = max((p.peak_rss_mb.get(proc_name, 0.0) for p in self.phases), default=float("nan"))
                ref = reference.cpu_s_per_ticket.get(proc_name, float("nan")) * 1e3 if reference else float("nan")
                ratio = f"{ref / hop_cpu:.1f}x" if proc_name in STAGES and hop_cpu > 0 else ""
                above = self.above_idle_ms(reference, proc_name) if reference else float("nan")
                cpu.add_row(proc_name, *(f"{p.cpu_s_per_ticket.get(proc_name, float('nan')) * 1e3:.2f}"
                                         for p in self.phases), ratio,
                            f"{self.idle_cores.get(proc_name, float('nan')):.3f}", f"{above:.2f}", f"{peak:.0f}")
            stage_sums = [sum(v for k, v in p.cpu_s_per_ticket.items() if k in STAGES) * 1e3 for p in self.phases]
            ref_sum = self.stages_cpu_ms(reference)
            idle_sum = sum(v for k, v in self.idle_cores.items() if k in STAGES)
            above_sum = sum(self.above_idle_ms(reference, k) for k in STAGES) if reference else float("nan")
            cpu.add_row("[bold]five stages[/]", *(f"{v:.2f}" for v in stage_sums),
                        f"{ref_sum / (HOPS * hop_cpu):.1f}x" if hop_cpu > 0 else "", f"{idle_sum:.3f}",
                        f"{above_sum:.2f}", "")
            if pt is not None:
                hop_rows = [pt.at(p.rate) for p in self.phases]
                cpu.add_row("five pass-through hops", *(f"{HOPS * h.cpu_ms:.2f}" if h else "" for h in hop_rows),
                            "1x", f"{HOPS * pt.idle_cores_mean:.3f}",
                            f"{HOPS * pt.above_idle_ms(ref_hop):.2f}" if ref_hop else "", "")
            cpu.add_row("[bold]all processes[/]", *(f"{sum(p.cpu_s_per_ticket.values()) * 1e3:.2f}"
                                                    for p in self.phases), "", "", "", "")
            cpu.add_row("cores used", *(f"{sum(p.cpu_share.values()):.2f}" for p in self.phases), "", "", "", "")
            console.print(cpu)

        targets = Table(title="Targets")
        for column in ("target", "measured", "verdict", "floor (pass-through, same run)"):
            targets.add_column(column)
        tp = by_name.get("throughput")
        at200 = next((p for p in self.phases if p.name.startswith("overhead@200")), None)
        at50 = next((p for p in self.phases if p.name.startswith("overhead@50")), None)
        nan = float("nan")
        hop50 = pt.at(50.0) if pt else None
        checks = [
            (">= 300 tickets/s end to end (sustained 60 s)", tp.completed_per_s if tp else nan, 300, ">=",
             f"{pt.burst_per_s:.0f} records/s" if pt else ""),
            ("ingress ack p99 < 50 ms at 200 req/s", at200.ack_p99_ms if at200 else nan, 50, "<", ""),
            ("pipeline overhead p99 < 100 ms at 50 tickets/s (instant doubles)",
             at50.overhead_p99_ms if at50 else nan, 100, "<", f"p99 {hop50.p99_ms:.1f} ms end to end" if hop50 else ""),
            (f"five stages' CPU <= 4 ms per ticket ('{reference.name if reference else '-'}')",
             self.stages_cpu_ms(reference), 4, "<=", f"{HOPS * hop_cpu:.2f} ms for five hops" if ref_hop else ""),
            (f"  the same, above the stages' idle CPU ('{reference.name if reference else '-'}')",
             sum(self.above_idle_ms(reference, k) for k in STAGES) if reference else nan, 4, "<=",
             f"{HOPS * pt.above_idle_ms(ref_hop):.2f} ms for five hops" if pt and ref_hop else ""),
            (f"one classifier >= 100 tickets/s, LLM p50 {self.args.llm_p50:g} s p99 {self.args.llm_p99:g} s",
             lp.completed_per_s if lp else nan, 100, ">=",
             f"Little's law bound {lp.littles_law_per_s:.0f}/s at concurrency {lp.concurrency}" if lp else ""),
        ]
        for label, value, bound, op, floor_text in checks:
            ok = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
            verdict = "not run" if math.isnan(value) else "[green]met[/]" if ok else "[red]missed[/]"
            targets.add_row(label, f"{value:.2f}", verdict, floor_text)
        console.print(targets)
        return {"machine": info, "tenants": self.tenants, "partitions": self.args.partitions,
                "load_average": os.getloadavg(), "phases": [asdict(p) for p in self.phases],
                "passthrough": asdict(pt) if pt else None, "llm_phase": asdict(lp) if lp else None,
                "idle_cores": self.idle_cores,
                "doubles_unattributed_s": self.doubles_unattributed}


async def delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:  # best effort: leftover topics only cost disk
        console.log(f"could not delete the bench topics {prefix}*: {exc}")
    finally:
        await admin.close()


def print_profile(path: Path, limit: int = 25) -> None:
    if not path.is_file():
        console.print(f"no profile written at {path}")
        return
    for sort in ("tottime", "cumulative"):
        console.rule(f"cProfile of {path.stem}, by {sort}")
        pstats.Stats(str(path)).strip_dirs().sort_stats(sort).print_stats(limit)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300, help="offered tickets/s in the throughput phase")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the throughput phase")
    parser.add_argument("--overhead-rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0],
                        help="comma-separated rates of the overhead phases (the one at 200 also gives the ack latency)")
    parser.add_argument("--phase-s", type=float, default=15, help="seconds of each overhead phase")
    parser.add_argument("--tenants", type=int, default=3, choices=range(1, 7), help="tenants (Halo, CW, Autotask, ...)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--log-level", default="INFO", help="stage log level")
    parser.add_argument("--drain-timeout", type=float, default=240, help="max seconds to wait for a phase to drain")
    parser.add_argument("--llm-rate", type=float, default=100,
                        help="tickets/s offered to one classifier with the lognormal LLM (0: skip that phase)")
    parser.add_argument("--llm-duration", type=float, default=60, help="seconds of the LLM phase")
    parser.add_argument("--llm-concurrency", type=int, default=400, help="handler slots of that classifier")
    parser.add_argument("--llm-window", type=int, default=800, help="in-flight window of that classifier")
    parser.add_argument("--llm-p50", type=float, default=1.0, help="median LLM latency (s) of the LLM phase")
    parser.add_argument("--llm-p99", type=float, default=6.0, help="99th percentile LLM latency (s)")
    parser.add_argument("--seed", type=int, default=17, help="seed of the LLM latency sequence")
    parser.add_argument("--idle-s", type=float, default=10, help="seconds of CPU measured with no load")
    parser.add_argument("--passthrough-burst", type=int, default=20_000,
                        help="records of the bare aiokafka pass-through's throughput burst (0: skip it)")
    parser.add_argument("--profile", choices=STAGES, help="run this stage under cProfile and print its profile")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--workdir", help="where logs, the tenants file and profiles go")
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    bench = Bench(args)
    try:
        await bench.run()
    finally:
        await bench.close()
    results = bench.report()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    if args.profile:
        print_profile(bench.workdir / f"{args.profile}.prof")
    console.print(f"logs: {bench.workdir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
