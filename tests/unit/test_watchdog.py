"""Liveness comes from the poll loop's own heartbeat: a slow LLM or PSA never fails /livez, a stuck or dead
poll loop does (so Kubernetes restarts the pod), and readiness waits for the group assignment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp

from autotriage.core.bus.base import Consumer, OnAssigned, OnRevoked, Record
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import Topics
from autotriage.core.events import TicketNormalized, encode
from autotriage.core.models import PSAKind, Ticket
from autotriage.core.runtime import Output, RunnerOptions, Stage, StageRunner
from autotriage.core.service import ServiceHost

TOPICS = Topics("w.", (0.05,))
OPTIONS = RunnerOptions(poll_timeout_s=0.02, commit_interval_s=0.05, liveness_timeout_s=0.5)


class Gated(Stage[TicketNormalized]):
    name = "gated"
    input_topic = "tickets.normalized"
    event_type = TicketNormalized

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        await self.gate.wait()
        return [Output("tickets.enriched", event)]


def _event(ticket_id: str) -> TicketNormalized:
    return TicketNormalized(tenant="acme", psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=datetime.now(UTC),
                            ticket=Ticket(id=ticket_id, summary="s", scope="1"))


async def _livez(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/livez") as resp:
        return resp.status


async def _stays(port: int, status: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await _livez(port) == status
        await asyncio.sleep(0.05)


async def test_idle_and_slow_handlers_stay_alive() -> None:
    bus, stage = MemoryBus(), Gated()
    runner = StageRunner(stage, bus, TOPICS, OPTIONS)
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=5)
    await host.start()
    try:
        await _stays(host.bound_port, 200, 0.8)  # idle longer than the liveness timeout
        await bus.producer().send(TOPICS.name("tickets.normalized"), encode(_event("1")), key=b"acme:1")
        await _stays(host.bound_port, 200, 1.2)  # a handler hanging 2x the liveness timeout: still alive
        assert runner.in_flight == 1
    finally:
        stage.gate.set()
        await host.stop()


class _StuckConsumer(Consumer):
    """A consumer whose poll never returns (a wedged client): the loop's heartbeat stops."""

    def __init__(self, inner: Consumer) -> None:
        self.inner = inner

    async def getmany(self, timeout_s: float, max_records: int) -> list[Record]:
        await asyncio.sleep(3600)
        return []

    async def commit(self, offsets: dict[tuple[str, int], int]) -> None:
        await self.inner.commit(offsets)

    async def lag(self, topics: set[str] | None = None) -> int:
        return 0

    def assignment(self) -> set[tuple[str, int]]:
        return self.inner.assignment()

    def pause(self, partitions: set[tuple[str, int]]) -> None:
        self.inner.pause(partitions)

    def resume(self, partitions: set[tuple[str, int]]) -> None:
        self.inner.resume(partitions)

    def seek(self, partition: tuple[str, int], offset: int) -> None:
        self.inner.seek(partition, offset)

    async def stop(self) -> None:
        await self.inner.stop()


class _StuckBus(MemoryBus):
    async def consumer(self, topics: Sequence[str], group_id: str, on_revoked: OnRevoked | None = None,
                       on_assigned: OnAssigned | None = None) -> Consumer:
        return _StuckConsumer(await super().consumer(topics, group_id, on_revoked, on_assigned))


async def test_a_stuck_poll_loop_fails_liveness() -> None:
    bus = _StuckBus()
    runner = StageRunner(Gated(), bus, TOPICS, OPTIONS)
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=1)
    await host.start()
    try:
        assert runner.ready
        await asyncio.sleep(0.7)
        assert await _livez(host.bound_port) == 503
    finally:
        await host.stop()


class _BrokenConsumer(_StuckConsumer):
    async def getmany(self, timeout_s: float, max_records: int) -> list[Record]:
        raise RuntimeError("consumer fenced")


class _BrokenBus(MemoryBus):
    async def consumer(self, topics: Sequence[str], group_id: str, on_revoked: OnRevoked | None = None,
                       on_assigned: OnAssigned | None = None) -> Consumer:
        return _BrokenConsumer(await super().consumer(topics, group_id, on_revoked, on_assigned))


async def test_a_dead_poll_loop_stops_the_process_with_exit_code_1() -> None:
    bus = _BrokenBus()
    runner = StageRunner(Gated(), bus, TOPICS, OPTIONS)
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=1)
    await asyncio.wait_for(host.run(), 5)
    assert host.exit_code == 1
    assert isinstance(runner.failure, RuntimeError)
    assert not runner.healthy() or runner._stopping.is_set()
