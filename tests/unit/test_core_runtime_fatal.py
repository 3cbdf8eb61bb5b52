"""Shutdown and failure paths of the stage runtime: nothing accepted is skipped or spent early."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from autotriage.core.bus.base import Headers, Producer
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import Topics
from autotriage.core.errors import ConfigError, TransientError
from autotriage.core.events import TicketNormalized, encode
from autotriage.core.models import PSAKind, Ticket
from autotriage.core.runtime import Output, RunnerOptions, Stage, StageRunner
from autotriage.core.service import ServiceHost


class _Echo(Stage[TicketNormalized]):
    name = "echo"
    input_topic = "tickets.normalized"
    event_type = TicketNormalized

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        return [Output("tickets.enriched", event)]


class _BrokenProducer(Producer):
    def __init__(self, inner: Producer) -> None:
        self.inner = inner
        self.broken = False

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()) -> Any:
        if self.broken and topic.endswith("tickets.enriched"):
            raise ConnectionError("broker unreachable")
        return await self.inner.send(topic, value, key, headers)

    async def flush(self) -> None:
        await self.inner.flush()


class _Bus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.broken_producer = _BrokenProducer(super().producer())

    def producer(self) -> Producer:
        return self.broken_producer


def _event(ticket_id: str) -> TicketNormalized:
    return TicketNormalized(
        tenant="acme", psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=datetime.now(UTC),
        ticket=Ticket(id=ticket_id, summary="s", scope="1"),
    )


async def test_failed_output_stops_the_host_with_exit_code_1_and_commits_nothing() -> None:
    bus = _Bus()
    topics = Topics()
    runner = StageRunner(_Echo(), bus, topics, RunnerOptions(poll_timeout_s=0.02))
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0)
    bus.broken_producer.broken = True
    await bus.producer().send(topics.name("tickets.normalized"), encode(_event("1")), key=b"acme:1")
    run = asyncio.create_task(host.run())
    await asyncio.wait_for(run, timeout=10)
    assert host.exit_code == 1
    assert isinstance(runner.failure, ConnectionError)
    # nothing was committed: a restarted consumer of the group gets the record again
    consumer = await bus.consumer([topics.name("tickets.normalized")], "autotriage.echo")
    assert len(await consumer.getmany(0.1, 10)) == 1


class _FailsOnce(Stage[TicketNormalized]):
    name = "fails-once"
    input_topic = "tickets.normalized"
    event_type = TicketNormalized

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        self.calls += 1
        raise TransientError("psa_server_error", "HTTP 503")


async def test_a_retry_not_yet_due_at_shutdown_stays_uncommitted_and_unspent() -> None:
    bus = MemoryBus()
    topics = Topics("f.", (30.0,))
    stage = _FailsOnce()
    runner = StageRunner(stage, bus, topics, RunnerOptions(poll_timeout_s=0.02, commit_interval_s=0.02))
    await bus.producer().send(topics.name("tickets.normalized"), encode(_event("7")), key=b"acme:7")
    await runner.start()
    retry_topic = topics.retry("tickets.normalized")
    for _ in range(100):
        if bus.records(retry_topic):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the retry partition is paused until its head is due
    await runner.stop()
    assert stage.calls == 1, "the retry was not handled early"
    assert len(bus.records(retry_topic)) == 1
    # not committed past: the next member of the group reads it again, with its attempt and due time unchanged
    consumer = await bus.consumer([retry_topic], "f.fails-once")
    [again] = await consumer.getmany(0.1, 10)
    assert again.value == bus.records(retry_topic)[0].value


class _Misconfigured(Stage[TicketNormalized]):
    name = "misconfigured"
    input_topic = "tickets.normalized"
    event_type = TicketNormalized

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        self.calls += 1
        raise ConfigError("cannot read local model m.joblib: train one with `autotriage learn`")


async def test_a_configuration_error_is_dead_lettered_at_once_with_its_message() -> None:
    bus = MemoryBus()
    topics = Topics()
    stage = _Misconfigured()
    runner = StageRunner(stage, bus, topics, RunnerOptions(poll_timeout_s=0.02))
    await bus.producer().send(topics.name("tickets.normalized"), encode(_event("9")), key=b"acme:9")
    await runner.start()
    for _ in range(100):
        if bus.records(topics.name("dlq")):
            break
        await asyncio.sleep(0.02)
    await runner.stop()
    dead = bus.records(topics.name("dlq"))
    assert stage.calls == 1, "not retried"
    assert len(dead) == 1
    assert dead[0].header("autotriage-error-reason") == "config"
    assert "autotriage learn" in (dead[0].header("autotriage-error-message") or "")
