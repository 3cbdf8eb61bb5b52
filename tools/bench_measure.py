"""What the benchmark measures with: the outcome reader, the open-loop load generator, percentiles, CPU and
RSS of processes, the machine, each phase's results."""

from __future__ import annotations

import asyncio
import contextlib
import platform
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson
import psutil
from bench_common import ROOT


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
    """User + system CPU seconds of a process; a stage's (``autotriage serve``) also counts its live worker
    processes (the classifier's text workers are its cost too). Other processes count alone: the load generator
    is this process, whose children are everything else."""
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system
        if "serve" in process.cmdline():
            for child in process.children(recursive=True):
                try:
                    child_times = child.cpu_times()
                except psutil.Error:
                    continue
                total += child_times.user + child_times.system
    except psutil.Error:
        return 0.0
    return float(total)


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



async def sample_in_flight(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, samples: list[float]
) -> None:
    """Every 0.5 s until ``stop``, the classifier's in-flight count into ``samples``."""
    while not stop.is_set():
        value = await in_flight_of(session, url, "classifier")
        if value is not None:
            samples.append(value)
        await asyncio.sleep(0.5)


def llm_phase_latencies(phase: LLMPhase, done: Sequence[str], bodies: Sequence[dict[str, Any]],
                        index: dict[str, int], classified_at: dict[str, float], by_ticket: dict[str, float],
                        started: float, ended: float) -> None:
    """The LLM phase's rate under load and its end-to-end, LLM and overhead percentiles, per finished ticket."""
    e2e, llm, overhead = [], [], []
    for key in done:
        tenant, ticket_id = key.split(":", 1)
        sent = datetime.fromisoformat(bodies[int(ticket_id) - 50_000_000]["occurred_at"]).timestamp()
        spent = by_ticket.get(f"{index.get(tenant, 0)}:{ticket_id}", 0.0)
        e2e.append(classified_at[key] - sent)
        llm.append(spent)
        overhead.append(max(0.0, e2e[-1] - spent))
    ramp = min(10.0, phase.seconds / 4)
    in_window = sum(1 for k in done if started + ramp <= classified_at[k] <= ended)
    phase.completed_per_s = in_window / max(1e-9, ended - started - ramp)
    phase.e2e_p50_ms, phase.e2e_p99_ms = pct(e2e, 50) * 1e3, pct(e2e, 99) * 1e3
    phase.llm_p50_ms, phase.llm_p99_ms = pct(llm, 50) * 1e3, pct(llm, 99) * 1e3
    phase.overhead_p50_ms, phase.overhead_p99_ms = pct(overhead, 50) * 1e3, pct(overhead, 99) * 1e3
