"""StageRunner on the in-memory bus with small test stages: contiguous commits, ordering, retry tiers, tenant
fairness and parking, deadlines, refused outputs, liveness, host, drain."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from autotriage.core.bus.base import CommitRejected, Headers, OutputRejected, Producer, Record
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import DLQ, TICKETS_NORMALIZED, TICKETS_OUTCOMES, Topics
from autotriage.core.errors import PermanentError, TransientError
from autotriage.core.events import OutcomeRecorded, TicketNormalized, decode, encode
from autotriage.core.metrics import REGISTRY
from autotriage.core.models import Action, PSAKind, Ticket
from autotriage.core.runtime import (
    HEADER_MESSAGE,
    HEADER_NOT_BEFORE,
    HEADER_REASON,
    HEADER_SOURCE,
    HEADER_STAGE,
    TENANT_PARKED,
    Output,
    RunnerOptions,
    Stage,
    StageRunner,
)
from autotriage.core.service import ServiceHost

TOPICS = Topics("t.", (0.05, 0.1))
INPUT = TOPICS.name(TICKETS_NORMALIZED)
OUT = "echo.out"
OCCURRED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

Behaviour = Callable[[TicketNormalized], Awaitable[None]]


class Echo(Stage[TicketNormalized]):
    """Records each call, runs an optional behaviour, then emits the event to ``echo.out``."""

    input_topic = TICKETS_NORMALIZED
    event_type = TicketNormalized

    def __init__(self, behave: Behaviour | None = None) -> None:
        self.name = f"echo{uuid.uuid4().hex[:8]}"  # unique per test: metric labels do not leak between tests
        self.behave = behave
        self.calls: list[tuple[str, int, float]] = []

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        self.calls.append((event.ticket_id, event.attempt, time.monotonic()))
        if self.behave is not None:
            await self.behave(event)
        return [Output(OUT, event)]


def ticket_event(ticket_id: str, summary: str = "s", tenant: str = "acme") -> TicketNormalized:
    ticket = Ticket(id=ticket_id, summary=summary, scope="1")
    return TicketNormalized(tenant=tenant, psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=OCCURRED, ticket=ticket)


async def produce(bus: MemoryBus, *events: TicketNormalized) -> None:
    for ev in events:
        await bus.producer().send(INPUT, encode(ev), key=ev.key)


@asynccontextmanager
async def running(
    stage: Echo, bus: MemoryBus, topics: Topics = TOPICS, **kwargs: Any
) -> AsyncIterator[StageRunner[TicketNormalized]]:
    options: dict[str, Any] = {"max_attempts": 3, "poll_timeout_s": 0.02, "commit_interval_s": 0.02, **kwargs}
    runner = StageRunner(stage, bus, topics, RunnerOptions(**options))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def uncommitted(bus: MemoryBus, stage: Echo, topic: str = INPUT) -> int:
    """Records of ``topic`` after the stage group's committed offsets (a fresh group member starts there)."""
    return await (await bus.consumer([topic], f"{TOPICS.prefix}{stage.name}")).lag()


async def all_committed(bus: MemoryBus, stage: Echo, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while await uncommitted(bus, stage) > 0:
        assert time.monotonic() < deadline, "offsets not committed in time"
        await asyncio.sleep(0.005)


def outputs(bus: MemoryBus) -> list[TicketNormalized]:
    return [decode(r.value, TicketNormalized) for r in bus.records(TOPICS.name(OUT))]


def outcomes(bus: MemoryBus) -> list[OutcomeRecorded]:
    return [decode(r.value, OutcomeRecorded) for r in bus.records(TOPICS.name(TICKETS_OUTCOMES))]


def retries(bus: MemoryBus, topics: Topics = TOPICS) -> list[Record]:
    return [r for topic in topics.retry_topics(TICKETS_NORMALIZED) for r in bus.records(topic)]


def dead_letters(bus: MemoryBus) -> list[Record]:
    return bus.records(TOPICS.name(DLQ))


def dead_letter_count(stage: Echo, reason: str) -> float:
    return REGISTRY.get_sample_value("autotriage_dead_letter_total", {"stage": stage.name, "reason": reason}) or 0.0


# --- commit and ordering --------------------------------------------------------------------------------
async def test_commits_the_complete_prefix_while_a_slow_record_runs_and_others_flow_past_it() -> None:
    gate = asyncio.Event()

    async def behave(event: TicketNormalized) -> None:
        if event.ticket_id == "slow":
            await gate.wait()

    bus, stage = MemoryBus(default_partitions=1), Echo(behave)
    await produce(bus, ticket_event("a"), ticket_event("slow"), ticket_event("b"))
    async with running(stage, bus):
        await until(lambda: len(outputs(bus)) == 2)  # "b" is not held back by "slow": no batch barrier
        await produce(bus, ticket_event("c"))
        await until(lambda: len(outputs(bus)) == 3)  # new records keep being fetched and started
        await asyncio.sleep(0.1)
        assert await uncommitted(bus, stage) == 3  # "a" committed; "slow" and everything after it not yet
        gate.set()
        await until(lambda: len(outputs(bus)) == 4)
        await all_committed(bus, stage)
    assert sorted(e.ticket_id for e in outputs(bus)) == ["a", "b", "c", "slow"]
    assert all(e.occurred_at == OCCURRED for e in outputs(bus))


async def test_same_key_in_order_other_keys_concurrent() -> None:
    log: list[tuple[str, str, str]] = []
    in_flight = 0
    peak = 0

    async def behave(event: TicketNormalized) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        log.append(("start", event.ticket_id, event.ticket.summary))
        await asyncio.sleep(0.02)
        log.append(("end", event.ticket_id, event.ticket.summary))
        in_flight -= 1

    bus, stage = MemoryBus(default_partitions=1), Echo(behave)
    events = [ticket_event(tid, str(n)) for n in range(4) for tid in ("k1", "k2", "k3")]
    await produce(bus, *events)
    async with running(stage, bus):
        await until(lambda: len(outputs(bus)) == len(events))
    for tid in ("k1", "k2", "k3"):
        mine = [(what, seq) for what, t, seq in log if t == tid]
        assert mine == [(what, str(n)) for n in range(4) for what in ("start", "end")]  # in order, never overlapping
        assert [e.ticket.summary for e in outputs(bus) if e.ticket_id == tid] == ["0", "1", "2", "3"]
    assert peak >= 2  # different keys ran at the same time


async def test_a_full_window_pauses_fetching_while_the_loop_stays_alive() -> None:
    gate = asyncio.Event()

    async def behave(event: TicketNormalized) -> None:
        await gate.wait()

    bus, stage = MemoryBus(default_partitions=1), Echo(behave)
    await produce(bus, *(ticket_event(f"t{n}") for n in range(10)))
    async with running(stage, bus, window=4, concurrency=2, liveness_timeout_s=0.3) as runner:
        await until(lambda: runner.in_flight == 4)
        await asyncio.sleep(0.5)  # handlers hang far longer than the liveness timeout
        assert runner.in_flight == 4  # no more fetched than the window holds
        assert runner.healthy()  # a slow handler is not a dead stage
        gate.set()
        await until(lambda: len(outputs(bus)) == 10)
        await all_committed(bus, stage)


# --- retries and dead letters ---------------------------------------------------------------------------
async def test_transient_error_goes_to_a_retry_tier_and_is_handled_again_when_due() -> None:
    async def behave(event: TicketNormalized) -> None:
        if event.attempt == 0:
            raise TransientError("psa_rate_limited", "slow down", retry_after_s=0.1)

    bus, stage = MemoryBus(), Echo(behave)
    sent_ms = time.time() * 1000
    await produce(bus, ticket_event("t1"))
    async with running(stage, bus):
        await until(lambda: len(outputs(bus)) == 1)
    [retry] = retries(bus)
    assert retry.topic == TOPICS.retry(TICKETS_NORMALIZED, 0.1)  # the tier that fits the server's Retry-After
    not_before = int(retry.header(HEADER_NOT_BEFORE) or 0)
    assert sent_ms + 90 <= not_before <= sent_ms + 2000  # retry_after_s (0.1) beats the first tier (0.05)
    assert retry.header(HEADER_REASON) == "psa_rate_limited"
    assert retry.header(HEADER_STAGE) == stage.name
    assert retry.key == b"acme:t1"
    assert decode(retry.value, TicketNormalized).attempt == 1
    assert [(t, a) for t, a, _ in stage.calls] == [("t1", 0), ("t1", 1)]
    assert stage.calls[1][2] - stage.calls[0][2] >= 0.08  # handled again only once due
    assert outputs(bus)[0].attempt == 1
    assert dead_letters(bus) == [] and outcomes(bus) == []


async def test_retry_after_is_capped_at_the_longest_tier() -> None:
    async def behave(event: TicketNormalized) -> None:
        if event.attempt == 0:
            raise TransientError("psa_threshold", "hourly limit", retry_after_s=600)

    bus, stage = MemoryBus(), Echo(behave)
    await produce(bus, ticket_event("t1"))
    started = time.time()
    async with running(stage, bus):
        await until(lambda: len(outputs(bus)) == 1)
    [retry] = retries(bus)
    assert retry.topic == TOPICS.retry(TICKETS_NORMALIZED, 0.1)
    assert int(retry.header(HEADER_NOT_BEFORE) or 0) / 1000 <= started + 0.1 + 0.5


async def test_exhausted_retries_dead_letter_with_failed_outcome() -> None:
    async def behave(event: TicketNormalized) -> None:
        raise TransientError("psa_server_error", "HTTP 503 from halo")

    bus, stage = MemoryBus(), Echo(behave)
    before = dead_letter_count(stage, "psa_server_error")
    await produce(bus, ticket_event("t1"))
    async with running(stage, bus):
        await until(lambda: len(outcomes(bus)) == 1)
        await until(lambda: len(dead_letters(bus)) == 1)
    assert [a for _, a, _ in stage.calls] == [0, 1, 2]
    assert [r.topic for r in retries(bus)] == [TOPICS.retry(TICKETS_NORMALIZED, t) for t in (0.05, 0.1)]
    [letter] = dead_letters(bus)
    assert letter.header(HEADER_REASON) == "psa_server_error"
    assert (letter.header(HEADER_MESSAGE) or "").startswith("gave up after 3 attempts: HTTP 503 from halo")
    assert letter.header(HEADER_STAGE) == stage.name
    assert (letter.header(HEADER_SOURCE) or "").startswith(f"{TOPICS.retry(TICKETS_NORMALIZED, 0.1)}/")
    assert letter.key == b"acme:t1"
    assert decode(letter.value, TicketNormalized).ticket_id == "t1"
    [outcome] = outcomes(bus)
    assert (outcome.action, outcome.reason, outcome.stage) == (Action.FAILED, "psa_server_error", stage.name)
    assert (outcome.tenant, outcome.ticket_id, outcome.occurred_at) == ("acme", "t1", OCCURRED)
    assert "HTTP 503" in outcome.detail
    assert dead_letter_count(stage, "psa_server_error") == before + 1
    assert outputs(bus) == []


async def test_permanent_error_dead_letters_at_once() -> None:
    async def behave(event: TicketNormalized) -> None:
        raise PermanentError("psa_http_400", "category not allowed")

    bus, stage = MemoryBus(), Echo(behave)
    await produce(bus, ticket_event("t1"))
    async with running(stage, bus):
        await until(lambda: len(outcomes(bus)) == 1)
        await until(lambda: len(dead_letters(bus)) == 1)
    assert len(stage.calls) == 1
    assert retries(bus) == []
    [letter] = dead_letters(bus)
    assert letter.header(HEADER_REASON) == "psa_http_400"
    assert letter.header(HEADER_MESSAGE) == "category not allowed"
    assert letter.header(HEADER_SOURCE) == f"{INPUT}/{letter.partition}/0"
    assert outcomes(bus)[0].action is Action.FAILED
    assert dead_letter_count(stage, "psa_http_400") == 1


async def test_undecodable_record_dead_lettered_and_next_processed() -> None:
    bus, stage = MemoryBus(), Echo()
    good = ticket_event("t1")
    wrong_version = orjson.dumps({**orjson.loads(encode(good)), "schema_version": 99})
    await bus.producer().send(INPUT, b"\x00 not json", key=good.key)
    await bus.producer().send(INPUT, wrong_version, key=good.key)
    await produce(bus, good)
    async with running(stage, bus):
        await until(lambda: len(outputs(bus)) == 1)
        await until(lambda: len(dead_letters(bus)) == 2)
        await all_committed(bus, stage)
    assert [r.header(HEADER_REASON) for r in dead_letters(bus)] == ["undecodable", "unknown_schema_version"]
    assert [r.value for r in dead_letters(bus)] == [b"\x00 not json", wrong_version]  # kept byte for byte
    assert outcomes(bus) == []  # no event to account for: nothing to attribute an outcome to
    assert [t for t, _, _ in stage.calls] == ["t1"]
    assert dead_letter_count(stage, "undecodable") == 1


async def test_unexpected_exception_retried_then_dead_lettered() -> None:
    async def behave(event: TicketNormalized) -> None:
        raise ValueError("boom")

    bus, stage = MemoryBus(), Echo(behave)
    await produce(bus, ticket_event("t1"))
    async with running(stage, bus):
        await until(lambda: len(outcomes(bus)) == 1)
    assert [a for _, a, _ in stage.calls] == [0, 1, 2]
    [letter] = dead_letters(bus)
    assert letter.header(HEADER_REASON) == "unexpected"
    assert "ValueError: boom" in (letter.header(HEADER_MESSAGE) or "")
    assert outcomes(bus)[0].reason == "unexpected"
    assert dead_letter_count(stage, "unexpected") == 1


async def test_waiting_retry_does_not_block_new_records() -> None:
    """A retry record not yet due holds neither a handler slot nor the poll loop."""

    async def behave(event: TicketNormalized) -> None:
        if event.ticket_id == "flaky" and event.attempt == 0:
            raise TransientError("psa_rate_limited", "slow down")

    bus, stage = MemoryBus(), Echo(behave)
    topics = Topics("t.", (0.4,))
    await produce(bus, ticket_event("flaky"))
    async with running(stage, bus, topics, concurrency=1):
        await until(lambda: len(retries(bus, topics)) == 1)
        await asyncio.sleep(0.05)  # the retry partition is paused until its head is due
        started = time.monotonic()
        await produce(bus, ticket_event("fresh"))
        await until(lambda: any(e.ticket_id == "fresh" for e in outputs(bus)))
        assert time.monotonic() - started < 0.25
        await until(lambda: len(outputs(bus)) == 2)
    assert [(t, a) for t, a, _ in stage.calls] == [("flaky", 0), ("fresh", 0), ("flaky", 1)]


async def test_a_record_past_its_deadline_is_retried_and_frees_its_slot() -> None:
    async def behave(event: TicketNormalized) -> None:
        if event.attempt == 0 and event.ticket_id == "hangs":
            await asyncio.sleep(30)

    bus, stage = MemoryBus(), Echo(behave)
    await produce(bus, ticket_event("hangs"), ticket_event("next"))
    async with running(stage, bus, concurrency=1, handle_timeout_s=0.2):
        await until(lambda: len(outputs(bus)) == 2)
    [retry] = retries(bus)
    assert retry.header(HEADER_REASON) == "handler_timeout"


class _RefusingProducer(Producer):
    """Refuses records over ``limit`` bytes the way a Kafka producer does (max_request_size)."""

    def __init__(self, inner: Producer, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()) -> Any:
        if len(value) > self.limit and topic.endswith(OUT):
            raise OutputRejected(f"record of {len(value)} bytes for {topic} is too large")
        return await self.inner.send(topic, value, key, headers)

    async def flush(self) -> None:
        await self.inner.flush()


class _SmallBus(MemoryBus):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._refusing = _RefusingProducer(super().producer(), limit)

    def producer(self) -> Producer:
        return self._refusing


async def test_an_output_the_bus_refuses_is_dead_lettered_not_a_crash_loop() -> None:
    bus, stage = _SmallBus(limit=2000), Echo()
    await produce(bus, ticket_event("huge", summary="x" * 5000), ticket_event("small"))
    async with running(stage, bus) as runner:
        await until(lambda: len(dead_letters(bus)) == 1 and len(outputs(bus)) == 1)
        await all_committed(bus, stage)
        assert runner.healthy() and runner.failure is None
    [letter] = dead_letters(bus)
    assert letter.header(HEADER_REASON) == "output_rejected"
    assert "too large" in (letter.header(HEADER_MESSAGE) or "")
    assert [(o.action, o.reason, o.ticket_id) for o in outcomes(bus)] == [(Action.FAILED, "output_rejected", "huge")]


# --- tenants --------------------------------------------------------------------------------------------
async def test_a_slow_tenant_cannot_take_the_slots_the_others_need() -> None:
    gate = asyncio.Event()

    async def behave(event: TicketNormalized) -> None:
        if event.tenant == "slow":
            await gate.wait()

    bus, stage = MemoryBus(default_partitions=1), Echo(behave)
    await produce(bus, *(ticket_event(f"s{n}", tenant="slow") for n in range(8)))
    await produce(bus, *(ticket_event(f"q{n}", tenant="quick") for n in range(8)))
    async with running(stage, bus, concurrency=4, tenant_cap=2) as runner:
        await until(lambda: len(outputs(bus)) == 8)  # every quick record done while the slow ones hang
        assert {e.tenant for e in outputs(bus)} == {"quick"}
        assert runner._slots.held["slow"] == 2
        gate.set()
        await until(lambda: len(outputs(bus)) == 16)


async def test_a_rate_limited_tenant_is_parked_and_its_records_wait_untried_in_a_retry_tier() -> None:
    limited_until = time.monotonic() + 0.3

    async def behave(event: TicketNormalized) -> None:
        if event.tenant == "noisy" and time.monotonic() < limited_until:
            raise TransientError("llm_rate_limited", "429", retry_after_s=0.1, tenant_wide=True)

    bus, stage = MemoryBus(default_partitions=1), Echo(behave)
    topics = Topics("t.", (0.05, 0.4))
    await produce(bus, *(ticket_event(f"n{n}", tenant="noisy") for n in range(5)))
    await produce(bus, *(ticket_event(f"c{n}", tenant="calm") for n in range(5)))
    async with running(stage, bus, topics, concurrency=2, max_attempts=10):
        await until(lambda: len([e for e in outputs(bus) if e.tenant == "calm"]) == 5, timeout=2)
        await until(lambda: len(outputs(bus)) == 10, timeout=10)
    parked = [r for r in retries(bus, topics) if r.header(HEADER_REASON) == TENANT_PARKED]
    assert parked, "the noisy tenant's later records were parked, not tried"
    assert all(decode(r.value, TicketNormalized).attempt == 0 for r in parked)  # parking spends no attempt
    noisy_calls = [t for t, _, _ in stage.calls if t.startswith("n")]
    assert len(noisy_calls) < 5 + len(parked)  # parked records were not tried while the tenant was parked
    sample = REGISTRY.get_sample_value("autotriage_tenant_parked_total", {"stage": stage.name, "tenant": "noisy"})
    assert sample and sample >= 1


# --- host and drain -------------------------------------------------------------------------------------
class FakeComponent:
    def __init__(self, ready: bool = True, healthy: bool = True) -> None:
        self._ready, self._healthy = ready, healthy

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    @property
    def ready(self) -> bool:
        return self._ready

    def healthy(self) -> bool:
        return self._healthy


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


async def test_host_serves_health_and_metrics() -> None:
    bus, stage = MemoryBus(), Echo()
    runner = StageRunner(stage, bus, TOPICS, RunnerOptions(poll_timeout_s=0.02))
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=5)
    await host.start()
    try:
        assert host.bound_port != 0
        await produce(bus, ticket_event("t1"))
        await until(lambda: len(outputs(bus)) == 1)
        assert (await get(host.bound_port, "/livez"))[0] == 200
        assert await get(host.bound_port, "/readyz") == (200, '{"status": "ready"}')
        status, text = await get(host.bound_port, "/metrics")
        assert status == 200
        assert f'autotriage_stage_consumed_total{{stage="{stage.name}"}} 1.0' in text
    finally:
        await host.stop()
    assert not runner.ready


async def test_host_reports_unready_and_unhealthy_components() -> None:
    host = ServiceHost(MemoryBus(), [FakeComponent(ready=False, healthy=False)], host="127.0.0.1", port=0)
    await host.start()
    try:
        assert (await get(host.bound_port, "/readyz"))[0] == 503
        status, text = await get(host.bound_port, "/livez")
        assert status == 503 and "FakeComponent" in text
    finally:
        await host.stop()


async def test_request_stop_drains_in_flight_record() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def behave(event: TicketNormalized) -> None:
        started.set()
        await release.wait()

    bus, stage = MemoryBus(), Echo(behave)
    runner = StageRunner(stage, bus, TOPICS, RunnerOptions(poll_timeout_s=0.02))
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=5)
    run = asyncio.create_task(host.run())
    await until(lambda: runner.ready)
    await produce(bus, ticket_event("t1"))
    await asyncio.wait_for(started.wait(), 2)
    host.request_stop()
    await asyncio.sleep(0.1)
    assert not run.done()  # still draining
    release.set()
    await asyncio.wait_for(run, 5)
    assert [e.ticket_id for e in outputs(bus)] == ["t1"]
    assert await uncommitted(bus, stage) == 0


class _RejectingConsumer:
    """Wraps a consumer; the first commit is rejected the way Kafka rejects an evicted member's commit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.rejected = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not self.rejected:
            self.rejected += 1
            raise CommitRejected("UnknownMemberIdError: the member was evicted")
        await self.inner.commit(offsets)


class _EvictingBus(MemoryBus):
    async def consumer(self, topics: Any, group_id: str, on_revoked: Any = None, on_assigned: Any = None) -> Any:
        return _RejectingConsumer(await super().consumer(topics, group_id, on_revoked, on_assigned))


async def test_an_evicted_member_starts_nothing_until_it_is_assigned_again() -> None:
    gate = asyncio.Event()

    async def behave(event: TicketNormalized) -> None:
        if event.ticket_id == "first":
            await gate.wait()

    bus, stage = _EvictingBus(default_partitions=1), Echo(behave)
    await produce(bus, ticket_event("first"), ticket_event("waiting"))
    async with running(stage, bus, concurrency=1) as runner:
        await until(lambda: len(stage.calls) == 1)  # "first" runs, "waiting" waits for the only slot
        await bus.producer().send(INPUT, encode(ticket_event("x")), key=b"acme:x")
        await until(lambda: runner._fenced)  # the completed-prefix commit was rejected: evicted
        await produce(bus, ticket_event("late"))
        gate.set()
        await asyncio.sleep(0.2)
        assert [t for t, _, _ in stage.calls] == ["first"]  # nothing else started: the group gave it away
        await runner._on_assigned(runner._consumer.assignment())  # type: ignore[union-attr]  # rejoined
        assert not runner._fenced
