"""Harness for the crash and fault tests: three PSA simulators (one tenant each), the OpenAI test server,
the five stages as processes on a Kafka broker, a webhook feeder that behaves like a PSA (re-sends a delivery
until it is acknowledged), and the bookkeeping the tests assert on.

Every ticket is created with words of one of its scope's category paths, so the test LLM picks a category
with enough confidence to apply it: every accepted ticket must end with exactly one ``applied`` outcome
(repeats only as ``detail == "redelivery"``), exactly one note and at most one category update in its PSA.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from autotriage.core.bus.topics import DLQ, TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded
from autotriage.core.runtime import REDELIVERY
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.common import Simulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import OpenAITestServer
from tests.support.kafka_io import TopicReader
from tests.support.pipeline import tenant_entry, write_tenants
from tests.support.processes import Pipeline
from tests.support.tickets import halo_sample

#: The consumer stages, their input topics (logical names) and consumer groups (without the prefix).
CONSUMERS = {
    "normalizer": "webhooks.raw",
    "taxonomy-cache": "tickets.normalized",
    "classifier": "tickets.enriched",
    "writer": "tickets.classified",
}
Key = tuple[str, str]  # (tenant, ticket id)


class Delay:
    """A per-request delay added to a simulator (stretches the PSA-bound stages so they can be hit mid-batch)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.seconds > 0:
            await asyncio.sleep(self.seconds)
        response: web.StreamResponse = await handler(request)
        return response


@dataclass
class SimTenant:
    """One tenant and the simulated PSA it points at."""

    id: str
    sim: Simulator
    scope: int
    delay: Delay
    paths: list[tuple[str, ...]] = field(default_factory=list)

    def create_ticket(self, index: int) -> str:
        """A ticket whose text names one of the scope's categories (the test LLM finds it by word overlap)."""
        path = self.paths[index % len(self.paths)]
        words = " ".join(path)
        return self.sim.create_ticket(f"{words} problem #{index}", f"Issue with {words}. Please help.", self.scope)

    def webhook(self, ticket_id: str) -> Callable[[str], Awaitable[int]]:
        """A function that (re-)sends this ticket's one new-ticket delivery to ingress and returns the status."""
        sim = self.sim
        if isinstance(sim, HaloSimulator):
            payload = sim.webhook_payload(ticket_id)
            return lambda url: sim.deliver(url, self.id, [payload])
        if isinstance(sim, ConnectWiseSimulator):
            cw_body = json.dumps(sim.webhook_payload(ticket_id)).encode()
            return lambda url: sim.deliver(url, self.id, [cw_body], query=f"?recordId={ticket_id}")
        assert isinstance(sim, AutotaskSimulator)
        delivery = sim.signed_delivery(sim.webhook_payload(ticket_id))
        return lambda url: sim.deliver(url, self.id, [delivery])


def make_tenants(kinds: Iterable[str]) -> list[SimTenant]:
    """One simulator and tenant per PSA kind (``halo``, ``connectwise``, ``autotask``), not started yet."""
    tenants = []
    for kind in kinds:
        delay = Delay()
        sim: Simulator
        if kind == "halo":
            sim, scope = HaloSimulator(halo_sample(), seed_history=False), 1
        elif kind == "connectwise":
            sim, scope = ConnectWiseSimulator(seed_history=False), 12
        else:
            sim = AutotaskSimulator(seed_history=False)
            scope = next(iter(sim.queues))
        sim.app.middlewares.append(delay.middleware)
        tenants.append(SimTenant(f"{kind[:4]}-tenant", sim, scope, delay))
    return tenants


@dataclass
class Counts:
    """What a fault test prints and asserts on."""

    accepted: int
    outcomes: int
    duplicates: int
    lost: int
    duplicate_notes: int
    duplicate_updates: int
    unmarked_duplicates: int
    not_applied: int
    missing_notes: int
    actions: Counter[str]
    retried: int = 0

    def line(self) -> str:
        return (f"accepted={self.accepted} outcomes={self.outcomes} duplicates={self.duplicates} lost={self.lost} "
                f"duplicate_notes={self.duplicate_notes} duplicate_updates={self.duplicate_updates}")


class FaultRig:
    """Everything one fault test runs: simulators, LLM double, pipeline processes, feeder and readers."""

    def __init__(
        self,
        tmp_path: Path,
        bootstrap: str,
        prefix: str,
        *,
        kinds: Iterable[str] = ("halo", "connectwise", "autotask"),
        llm_latency_s: float = 0.05,
        psa_latency_s: float = 0.0,
        llm: dict[str, Any] | None = None,
        settings: dict[str, str] | None = None,
        partitions: int = 3,
    ) -> None:
        self.tmp_path = tmp_path
        self.bootstrap = bootstrap
        self.prefix = prefix
        tiers = orjson.loads((settings or {}).get("AUTOTRIAGE_RETRY_TIERS_S", "[0.5, 2, 8]"))  # processes.py's default
        self.topics = Topics(prefix, tuple(float(t) for t in tiers))
        self.tenants = make_tenants(kinds)
        self.llm = OpenAITestServer(latency_s=llm_latency_s)
        self.llm_overrides = llm or {}
        self.psa_latency_s = psa_latency_s
        self.settings = settings or {}
        self.partitions = partitions
        self.pipeline: Pipeline | None = None
        self.outcomes = TopicReader(bootstrap, self.topics.name(TICKETS_OUTCOMES))
        self.dlq = TopicReader(bootstrap, self.topics.name(DLQ))
        self.tickets: list[tuple[SimTenant, str]] = []
        self.accepted: set[Key] = set()
        self.statuses: Counter[str] = Counter()
        self.sending = 0
        self.feeding: asyncio.Task[None] | None = None
        self.events: list[str] = []
        self._started = time.monotonic()

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the simulators and the LLM double, write the tenants file, create topics, start the stages."""
        llm_url = await self.llm.start()
        entries, env = [], {}
        for tenant in self.tenants:
            await tenant.sim.start()
            tenant.delay.seconds = self.psa_latency_s
            tenant.paths = sorted(tenant.sim.valid_paths(tenant.scope))
            overrides: dict[str, Any] = {"llm": self.llm_overrides} if self.llm_overrides else {}
            entry, secrets = tenant_entry(tenant.sim, tenant.id, llm_url, **overrides)
            entries.append(entry)
            env.update(secrets)
        tenants_file = write_tenants(self.tmp_path / "tenants.yaml", entries)
        self.pipeline = Pipeline(self.bootstrap, self.prefix, tenants_file, env, self.tmp_path, settings=self.settings)
        await self.pipeline.create_topics(partitions=self.partitions)
        await self.pipeline.start_all()
        await self.outcomes.start()
        await self.dlq.start()
        self._started = time.monotonic()

    async def stop(self) -> None:
        """Stop everything this rig started (stages get SIGTERM, then SIGKILL after 40 s)."""
        if self.feeding is not None and not self.feeding.done():
            self.feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.feeding
        for reader in (self.outcomes, self.dlq):
            with contextlib.suppress(Exception):
                await reader.stop()
        if self.pipeline is not None:
            await self.pipeline.stop_all()
        for tenant in self.tenants:
            await tenant.sim.stop()
        await self.llm.stop()

    def note(self, text: str) -> None:
        """Record a timeline event (printed with the counts)."""
        self.events.append(f"{time.monotonic() - self._started:6.1f}s {text}")

    # --- webhooks -----------------------------------------------------------------------------------
    @property
    def ingress_url(self) -> str:
        assert self.pipeline is not None
        return self.pipeline.stages["ingress"].url

    def create_tickets(self, per_tenant: int) -> list[tuple[SimTenant, str]]:
        """Create tickets round-robin over the tenants."""
        created = []
        for i in range(per_tenant):
            for tenant in self.tenants:
                created.append((tenant, tenant.create_ticket(len(self.tickets) + i)))
        self.tickets.extend(created)
        return created

    async def deliver(self, tenant: SimTenant, ticket_id: str, deadline_s: float = 120.0) -> None:
        """Send one delivery until ingress acknowledges it, as PSAs retry failed deliveries (bounded)."""
        send = tenant.webhook(ticket_id)
        deadline = time.monotonic() + deadline_s
        for _ in range(400):
            self.sending += 1
            try:
                status = await asyncio.wait_for(send(self.ingress_url), 15)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                status, label = 0, type(exc).__name__
            else:
                label = str(status)
            finally:
                self.sending -= 1
            self.statuses[label] += 1
            if status in (200, 202):
                self.accepted.add((tenant.id, ticket_id))
                return
            if (400 <= status < 500 and status != 429) or time.monotonic() > deadline:
                return  # refused for good (429 is "retry later"): never accepted, the counts will show it
            await asyncio.sleep(0.3)

    async def feed(self, per_tenant: int, interval_s: float) -> None:
        """Create ``per_tenant`` tickets per tenant and deliver them one every ``interval_s`` (concurrently)."""
        tasks = []
        for tenant, ticket_id in self.create_tickets(per_tenant):
            tasks.append(asyncio.create_task(self.deliver(tenant, ticket_id)))
            await asyncio.sleep(interval_s)
        await asyncio.gather(*tasks)

    def start_feeding(self, per_tenant: int, interval_s: float) -> None:
        """Feed in the background (``wait_done`` waits for it)."""
        self.feeding = asyncio.create_task(self.feed(per_tenant, interval_s))

    # --- observation --------------------------------------------------------------------------------
    async def metric(self, stage: str, name: str) -> float | None:
        """One sample of a stage's ``/metrics`` (summed over label sets), or None when unreachable."""
        assert self.pipeline is not None
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                session.get(f"{self.pipeline.stages[stage].url}/metrics") as resp,
            ):
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", re.M)
        values = [float(v) for v in pattern.findall(text)]
        return sum(values) if values else None

    async def wait_busy(self, stage: str, timeout: float = 30) -> bool:
        """Wait until the stage is in the middle of work: records in flight (ingress: a delivery in flight)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stage == "ingress":
                if self.sending > 0:
                    return True
                await asyncio.sleep(0.005)
                continue
            in_flight = await self.metric(stage, "autotriage_stage_in_flight")
            if in_flight:
                return True
            await asyncio.sleep(0.01)
        return False

    async def outcome_count(self) -> int:
        await self.outcomes.poll(0.1)
        return len({(o.tenant, o.ticket_id) for o in self.outcomes.outcomes()})

    async def wait_outcomes(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` distinct tickets have an outcome."""
        return await self.outcomes.wait_until(
            lambda: len({(o.tenant, o.ticket_id) for o in self.outcomes.outcomes()}) >= count, timeout
        )

    async def wait_done(self, timeout: float = 180) -> bool:
        """Wait for the feeder, then until every accepted ticket has an outcome and no group has lag."""
        deadline = time.monotonic() + timeout
        if self.feeding is not None:
            await asyncio.wait_for(self.feeding, timeout)
        expected = set(self.accepted)

        def complete() -> bool:
            return expected <= {(o.tenant, o.ticket_id) for o in self.outcomes.outcomes()}

        done = await self.outcomes.wait_until(complete, max(1.0, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            if not any((await self.unprocessed()).values()):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # a late duplicate would show up now
        await self.outcomes.poll()
        await self.dlq.poll()
        return done

    async def unprocessed(self) -> dict[str, int]:
        """Records not yet committed by each stage group, main and retry topics (the ``nothing left`` check)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await admin.start()
        await consumer.start()
        lag: dict[str, int] = {}
        try:
            for stage, logical in CONSUMERS.items():
                group = f"{self.prefix}{stage}"
                committed = await admin.list_consumer_group_offsets(group)
                for topic in (self.topics.name(logical), *self.topics.retry_topics(logical)):
                    partitions = [TopicPartition(topic, p) for p in range(self.partitions)]
                    ends = await consumer.end_offsets(partitions)
                    lag[topic.removeprefix(self.prefix)] = sum(
                        max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in partitions
                    )
        finally:
            await consumer.stop()
            await admin.close()
        return lag

    async def retried(self) -> int:
        """Records written to the retry topics so far (each is one deferred retry of one event)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for logical in CONSUMERS.values()
                          for topic in self.topics.retry_topics(logical) for p in range(self.partitions)]
            return sum((await consumer.end_offsets(partitions)).values())
        finally:
            await consumer.stop()

    def dead_letters(self) -> list[tuple[bytes | None, bytes, dict[str, str]]]:
        """DLQ records with their headers decoded."""
        return [(k, v, {h: b.decode("utf-8", "replace") for h, b in headers}) for k, v, headers in self.dlq.values]

    # --- verdict ------------------------------------------------------------------------------------
    def counts(self) -> Counts:
        everything = self.outcomes.outcomes()
        # an ``ignored`` record accounts for a repeated delivery (e.g. a PSA retry after a timeout that had
        # in fact been enqueued): it is not a second outcome of the ticket
        outcomes = [o for o in everything if o.action.value != "ignored"]
        by_key: dict[Key, list[OutcomeRecorded]] = {}
        for outcome in outcomes:
            by_key.setdefault((outcome.tenant, outcome.ticket_id), []).append(outcome)
        accepted = self.accepted
        lost = accepted - set(by_key)
        unmarked = sum(max(0, sum(1 for o in found if o.detail != REDELIVERY) - 1) for found in by_key.values())
        not_applied = sum(1 for key in accepted if not any(o.action.value == "applied" for o in by_key.get(key, [])))
        notes = {(t.id, tid): t.sim.note_count(tid) for t, tid in self.tickets}
        updates = {(t.id, tid): t.sim.update_count(tid) for t, tid in self.tickets}
        return Counts(
            accepted=len(accepted),
            outcomes=len(set(by_key) & accepted),
            duplicates=len(outcomes) - len(by_key),
            lost=len(lost),
            duplicate_notes=sum(max(0, n - 1) for n in notes.values()),
            duplicate_updates=sum(max(0, n - 1) for n in updates.values()),
            unmarked_duplicates=unmarked,
            not_applied=not_applied,
            missing_notes=sum(1 for key in accepted if notes.get(key, 0) == 0),
            actions=Counter(f"{o.action.value}{'/redelivery' if o.detail == REDELIVERY else ''}" for o in everything),
        )

    async def report(self, name: str, *, dlq_expected: int = 0, check_all_delivered: bool = True) -> Counts:
        """Print the counts line (and details), then assert the fault left no loss, duplicate or backlog."""
        counts = self.counts()
        lag = await self.unprocessed()
        counts.retried = await self.retried()
        print(f"\n[{name}] {counts.line()}")
        print(f"[{name}] outcome_records={sum(counts.actions.values())} actions={dict(counts.actions)} "
              f"retry_topic_records={counts.retried} unprocessed={sum(lag.values())} dlq={len(self.dlq.values)} "
              f"webhook_answers={dict(self.statuses)}")
        for event in self.events:
            print(f"[{name}]   {event}")
        if check_all_delivered:
            assert counts.accepted == len(self.tickets), f"only {counts.accepted}/{len(self.tickets)} accepted"
        assert counts.lost == 0, f"{counts.lost} accepted tickets have no outcome"
        assert counts.outcomes == counts.accepted
        assert counts.duplicate_notes == 0, "a ticket got more than one note"
        assert counts.duplicate_updates == 0, "a ticket's category was written more than once"
        assert counts.unmarked_duplicates == 0, "a repeated outcome is not marked as a redelivery"
        assert counts.not_applied == 0, f"{counts.not_applied} tickets have no applied outcome: {counts.actions}"
        assert counts.missing_notes == 0, f"{counts.missing_notes} accepted tickets have no note"
        assert not any(lag.values()), f"unprocessed records left: {lag}"
        assert len(self.dlq.values) == dlq_expected, [h for _, _, h in self.dead_letters()]
        return counts
