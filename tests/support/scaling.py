"""Harness of the scaling test: six tenants on six PSA simulators (two per PSA, each with its own LLM API key), the
LLM double with a realistic latency, the stages as processes with replicas that join and leave the stage's
consumer group, a watcher that polls every process's ``/livez`` and notices any exit nobody asked for, and the
numbers the test prints (loss, duplicate PSA writes, end-to-end latency per tenant, parked records)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import signal
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.runtime import REDELIVERY
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.common import Simulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import LogNormalLatency, OpenAITestServer
from tests.support.faults import Delay, FaultRig, Key, SimTenant
from tests.support.pipeline import tenant_entry, write_tenants
from tests.support.processes import Pipeline, StageProcess
from tests.support.tickets import halo_sample

#: A ``/livez`` answer slower than this counts as a failure: the Kubernetes probe's ``timeoutSeconds`` in deploy/.
PROBE_TIMEOUT_S = 3.0


def six_tenants() -> list[SimTenant]:
    """Two tenants per PSA (HaloPSA, ConnectWise, Autotask), each on a simulator of its own."""
    tenants = []
    for kind in ("halo", "connectwise", "autotask"):
        for suffix in ("a", "b"):
            sim: Simulator
            if kind == "halo":
                sim, scope = HaloSimulator(halo_sample(), seed_history=False), 1
            elif kind == "connectwise":
                sim, scope = ConnectWiseSimulator(seed_history=False), 12
            else:
                sim = AutotaskSimulator(seed_history=False)
                scope = next(iter(sim.queues))
            delay = Delay()
            sim.app.middlewares.append(delay.middleware)
            tenants.append(SimTenant(f"{kind[:4]}-{suffix}", sim, scope, delay))
    return tenants


def api_key(tenant: str) -> str:
    """The LLM API key of a tenant (one account per tenant, so the LLM double can fail one account only)."""
    return f"sk-{tenant}-0123456789abcdef"


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank method; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def metrics_text(session: aiohttp.ClientSession, url: str) -> str | None:
    """A process's ``/metrics`` page, or None when it does not answer within 2 s."""
    try:
        async with session.get(f"{url}/metrics", timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return await resp.text()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for found in re.finditer(rf"^{re.escape(name)}{{([^}}]*)}} ([0-9.eE+-]+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(found.group(2))
    return total


@dataclass
class Watch:
    """Polls ``/livez`` of every watched process every ``interval_s`` (a failure: any answer but 200 within
    ``PROBE_TIMEOUT_S``; a single one counts, where Kubernetes restarts after three) and notes any process that exits
    on its own."""

    pipeline: Pipeline
    interval_s: float = 0.5
    watched: set[str] = field(default_factory=set)
    polls: int = 0
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic time, process, answer)
    exits: list[tuple[str, int]] = field(default_factory=list)  # exits nobody asked for
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def failures_between(self, start: float, end: float) -> int:
        return sum(1 for at, _, _ in self.failures if start <= at <= end)

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                started = time.monotonic()
                await asyncio.gather(*(self._poll(session, name) for name in sorted(self.watched)))
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def _poll(self, session: aiohttp.ClientSession, name: str) -> None:
        sp = self.pipeline.stages[name]
        assert sp.process is not None
        if sp.process.returncode is not None:
            if name in self.watched:  # still watched: nobody stopped it
                self.watched.discard(name)
                self.exits.append((name, sp.process.returncode))
            return
        self.polls += 1
        try:
            async with session.get(f"{sp.url}/livez", timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)) as resp:
                answer = str(resp.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            answer = type(exc).__name__
        if answer != "200" and name in self.watched:
            self.failures.append((time.monotonic(), name, answer))


@dataclass
class Phase:
    """The tickets of one phase of the test, for latencies and checks."""

    name: str
    keys: set[Key] = field(default_factory=set)


class ScalingRig(FaultRig):
    """A fault rig with six tenants, per-tenant LLM keys, a lognormal LLM latency and replicas."""

    def __init__(
        self, tmp_path: Path, bootstrap: str, prefix: str, *, latency: LogNormalLatency,
        settings: dict[str, str], partitions: int = 6,
    ) -> None:
        super().__init__(tmp_path, bootstrap, prefix, kinds=(), settings=settings, partitions=partitions,
                         llm={"timeout_s": 30, "max_retries": 2})
        self.tenants = six_tenants()
        self.llm = OpenAITestServer(latency=latency)
        self.watch: Watch | None = None
        self.signalled: dict[str, int] = {}  # process -> exit code after the signal the test sent
        self._cpu: dict[str, float] = {}  # CPU seconds of processes that ended, by process (and restart)

    async def start(self) -> None:
        """Simulators, LLM double, tenants file (one LLM key per tenant), topics, one process per stage."""
        llm_url = await self.llm.start()
        entries, env = [], {}
        for tenant in self.tenants:
            await tenant.sim.start()
            tenant.paths = sorted(tenant.sim.valid_paths(tenant.scope))
            key_env = f"TEST_OPENAI_KEY_{tenant.id.upper().replace('-', '_')}"
            llm: dict[str, Any] = {**self.llm_overrides, "api_key": {"env": key_env}}
            entry, secrets = tenant_entry(tenant.sim, tenant.id, llm_url, llm=llm)
            entries.append(entry)
            env.update(secrets)
            env[key_env] = api_key(tenant.id)
        tenants_file = write_tenants(self.tmp_path / "tenants.yaml", entries)
        self.pipeline = Pipeline(self.bootstrap, self.prefix, tenants_file, env, self.tmp_path, settings=self.settings)
        await self.pipeline.create_topics(partitions=self.partitions)
        await self.pipeline.start_all()
        await self.outcomes.start()
        await self.dlq.start()
        self.watch = Watch(self.pipeline)
        self.watch.watched.update(self.pipeline.stages)
        self.watch.start()
        self._started = time.monotonic()

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
            self.watch.watched.clear()
        await super().stop()

    # --- replicas -----------------------------------------------------------------------------------
    async def add(self, stage: str, name: str) -> StageProcess:
        """Start one more process of ``stage`` (or restart a stopped one) and watch it once it is ready."""
        assert self.pipeline is not None and self.watch is not None
        sp = await self.pipeline.start(stage, name)
        self.watch.watched.add(name)
        self.note(f"{name} ready ({stage}: {self.replicas(stage)} processes)")
        return sp

    async def signal(self, name: str, sig: signal.Signals) -> int | None:
        """Stop watching ``name``, send it ``sig`` and wait for its exit code."""
        assert self.pipeline is not None and self.watch is not None
        self.watch.watched.discard(name)
        in_flight = await self.metric(name, "autotriage_stage_in_flight")
        self._cpu.update(self._cpu_of([name]))
        code = await self.pipeline.kill(name, sig)
        self.signalled[name] = code if code is not None else -999
        stage = self.pipeline.stages[name].stage
        self.note(f"{sig.name} {name} with {in_flight or 0:.0f} records in flight: exit {code} "
                  f"({stage}: {self.replicas(stage)} processes)")
        return code

    def _cpu_of(self, names: Iterable[str]) -> dict[str, float]:
        assert self.pipeline is not None
        out = {}
        for name in names:
            sp = self.pipeline.stages[name]
            if sp.process is None or sp.process.returncode is not None:
                continue
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(sp.process.pid).cpu_times()
                out[f"{name}#{sp.restarts}"] = times.user + times.system
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per stage process so far (ended ones included), the stages' total and this test process's
        (simulators, LLM double, webhook feeder, readers)."""
        assert self.pipeline is not None
        cpu = {**self._cpu, **self._cpu_of(self.pipeline.stages)}
        me = psutil.Process().cpu_times()
        out = {k: round(v, 1) for k, v in sorted(cpu.items())}
        out["stages_total"] = round(sum(cpu.values()), 1)
        out["test_process"] = round(me.user + me.system, 1)
        return out

    @property
    def started_at(self) -> float:
        """Monotonic time the timeline of ``note`` counts from."""
        return self._started

    def replicas(self, stage: str) -> int:
        assert self.pipeline is not None
        return sum(1 for sp in self.pipeline.stages.values()
                   if sp.stage == stage and sp.process is not None and sp.process.returncode is None)

    def processes(self, stage: str) -> list[str]:
        """Names of the running processes of a stage."""
        assert self.pipeline is not None
        return [n for n, sp in self.pipeline.stages.items()
                if sp.stage == stage and sp.process is not None and sp.process.returncode is None]

    # --- feeding ------------------------------------------------------------------------------------
    async def run_phase(self, phase: Phase, per_tenant: int, rate_per_s: float) -> None:
        """Create and deliver ``per_tenant`` tickets per tenant at a steady total rate; their keys go to ``phase``."""
        created = self.create_tickets(per_tenant)
        phase.keys.update((t.id, tid) for t, tid in created)
        tasks = []
        interval = 1.0 / rate_per_s
        started = time.monotonic()
        for n, (tenant, ticket_id) in enumerate(created):
            tasks.append(asyncio.create_task(self.deliver(tenant, ticket_id)))
            await asyncio.sleep(max(0.0, started + (n + 1) * interval - time.monotonic()))
        await asyncio.gather(*tasks)

    # --- observation --------------------------------------------------------------------------------
    def first_outcomes(self) -> dict[Key, tuple[OutcomeRecorded, float]]:
        """Each ticket's first outcome (not a redelivery, not an ignored repeat) and its end-to-end latency:
        webhook receipt at ingress to the outcome record's create time."""
        first: dict[Key, tuple[OutcomeRecorded, float]] = {}
        for (_, value, _), stamp in zip(self.outcomes.values, self.outcomes.timestamps, strict=True):
            outcome = decode(value, OutcomeRecorded)
            if outcome.action.value == "ignored" or outcome.detail == REDELIVERY:
                continue
            key = (outcome.tenant, outcome.ticket_id)
            if key not in first:
                first[key] = (outcome, stamp / 1000 - outcome.occurred_at.timestamp())
        return first

    def repeated(self) -> dict[Key, list[str]]:
        """Tickets with more than one outcome not marked as a redelivery: ``action:reason@stage`` of each."""
        seen: dict[Key, list[str]] = {}
        for outcome in self.outcomes.outcomes():
            if outcome.action.value != "ignored" and outcome.detail != REDELIVERY:
                seen.setdefault((outcome.tenant, outcome.ticket_id), []).append(
                    f"{outcome.action.value}:{outcome.reason}@{outcome.stage}")
        return {k: v for k, v in seen.items() if len(v) > 1}

    def latencies(self, keys: set[Key], tenants: set[str]) -> list[float]:
        """End-to-end latencies of the tickets in ``keys`` of ``tenants``."""
        first = self.first_outcomes()
        return [first[k][1] for k in keys if k[0] in tenants and k in first]

    def actions(self, keys: set[Key]) -> dict[str, Counter[str]]:
        """Per tenant: first outcomes by ``action`` or ``action:reason`` for needs_triage/skipped/failed."""
        out: dict[str, Counter[str]] = {}
        for key, (outcome, _) in self.first_outcomes().items():
            if key in keys:
                label = outcome.action.value
                if label != "applied":
                    label += f":{outcome.reason}"
                out.setdefault(key[0], Counter())[label] += 1
        return out
