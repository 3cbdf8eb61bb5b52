"""The stage runtime on a real broker: a rebalance with records in flight, a long Retry-After past the poll
interval, refused outputs, and a 1,500-category taxonomy carried by reference."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from autotriage.core.bus.base import TopicSpec
from autotriage.core.bus.kafka import KafkaBus
from autotriage.core.bus.topics import DLQ, TICKETS_NORMALIZED, Topics
from autotriage.core.errors import TransientError
from autotriage.core.events import TicketEnriched, TicketNormalized, encode
from autotriage.core.models import Candidate, PSAKind, Taxonomy, Ticket
from autotriage.core.runtime import HEADER_REASON, Output, RunnerOptions, Stage, StageRunner
from autotriage.core.taxonomies import TaxonomyStore

pytestmark = pytest.mark.kafka

OUT = "runtime.out"


class Recorder(Stage[TicketNormalized]):
    """Sleeps for tickets whose summary says so, counts every handling, emits the event (or a huge output)."""

    input_topic = TICKETS_NORMALIZED
    event_type = TicketNormalized

    def __init__(self, name: str, handled: Counter[str], repeats: dict[str, list[bool]] | None = None) -> None:
        self.name = name
        self.handled = handled
        self.repeats = repeats if repeats is not None else {}

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        self.handled[event.ticket_id] += 1
        self.repeats.setdefault(event.ticket_id, []).append(event.repeat)
        summary = event.ticket.summary
        if summary.startswith("sleep:"):
            await asyncio.sleep(float(summary.split(":")[1]))
        if summary == "retry-after-600" and event.attempt == 0:
            raise TransientError("psa_rate_limited", "HTTP 429", retry_after_s=600)
        if summary == "huge":
            big = event.ticket.model_copy(update={"description": _incompressible(3 * 1024 * 1024)})
            return [Output(OUT, event.model_copy(update={"ticket": big}))]
        return [Output(OUT, event)]


def _incompressible(size: int) -> str:
    import secrets

    return secrets.token_hex(size // 2)


def _event(ticket_id: str, summary: str, tenant: str = "acme") -> TicketNormalized:
    return TicketNormalized(tenant=tenant, psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=datetime.now(UTC),
                            ticket=Ticket(id=ticket_id, summary=summary, scope="1"))


async def _produce(bus: KafkaBus, topics: Topics, events: list[TicketNormalized]) -> None:
    acks = [await bus.producer().send(topics.name(TICKETS_NORMALIZED), encode(e), key=e.key) for e in events]
    await asyncio.gather(*acks)


async def _count(bootstrap: str, topic: str) -> int:
    """Records in a topic (the sum of its partitions' end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        [described] = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        return sum((await reader.end_offsets(partitions)).values())
    finally:
        await reader.stop()
        await admin.close()


async def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s")


async def _members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        [described] = response.groups
        return len(described[5])  # (error_code, group, state, protocol_type, protocol, members)
    finally:
        await admin.close()


async def test_rebalance_with_records_in_flight_loses_nothing_handles_nothing_twice_and_exits_nobody(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix, (1.0, 5.0))
    handled: Counter[str] = Counter()
    buses = [KafkaBus(kafka_bootstrap, client_id=f"member-{n}", rebalance_timeout_ms=20_000) for n in range(2)]
    options = RunnerOptions(concurrency=8, window=32, revoke_wait_s=15, poll_timeout_s=0.05)
    for bus in buses:
        await bus.start()
    await buses[0].ensure_topics([*topics.specs(4), TopicSpec(topics.name(OUT), 4)])
    runners = [StageRunner(Recorder("rebalance", handled), bus, topics, options) for bus in buses]
    out_topic = topics.name(OUT)
    try:
        await runners[0].start()
        await _until(lambda: _ready(runners[0]), 30, "first member assigned")
        slow = [_event(f"slow{n}", "sleep:2") for n in range(16)]
        await _produce(buses[0], topics, [*slow, *(_event(f"fast{n}", "fast") for n in range(40))])
        await _until(lambda: _in_flight(runners[0], 8), 30, "records in flight on the first member")
        await runners[1].start()  # joins: the group rebalances while the first member has records running
        await _until(lambda: _ready(runners[1]), 60, "second member assigned")
        await _produce(buses[1], topics, [_event(f"late{n}", "fast") for n in range(40)])
        try:
            await _until(lambda: _has(kafka_bootstrap, out_topic, 96), 60, "every record's output")
        except AssertionError:
            for r in runners:
                c = r._consumer
                print("runner", r.in_flight, r.failure, c.assignment() if c else None, r._retry_paused,
                      r._window_paused, {tp: (o.committable(), o.in_flight) for tp, o in r._offsets.items()},
                      r._slots.held, r._slots.waiting())
            print(len(handled), await _count(kafka_bootstrap, out_topic))
            raise
        await asyncio.sleep(2)
        assert await _members(kafka_bootstrap, f"{topic_prefix}rebalance") == 2
        assert all(r.failure is None and r.healthy() for r in runners), [r.failure for r in runners]
        assert len(handled) == 96
        assert [t for t, n in handled.items() if n > 1] == []  # in-flight work finished and committed on revoke
        assert await _count(kafka_bootstrap, out_topic) == 96
    finally:
        for runner in runners:
            await runner.stop()
        for bus in buses:
            await bus.stop()


async def test_after_a_crash_the_new_member_flags_the_uncommitted_backlog_and_nothing_newer(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix, (1.0, 5.0))
    handled: Counter[str] = Counter()
    repeats: dict[str, list[bool]] = {}
    options = RunnerOptions(concurrency=8, window=32, poll_timeout_s=0.05, commit_interval_s=3600)
    first_bus = KafkaBus(kafka_bootstrap, client_id="crashing", session_timeout_ms=6000)
    await first_bus.start()
    await first_bus.ensure_topics([*topics.specs(2), TopicSpec(topics.name(OUT), 2)])
    first = StageRunner(Recorder("crash", handled, repeats), first_bus, topics, options)
    await first.start()
    await _until(lambda: _ready(first), 30, "first member assigned")
    await _produce(first_bus, topics, [_event(f"old{n}", "fast") for n in range(10)])
    await _until(lambda: _handled(handled, 10), 30, "the first member handled the records")

    async def killed(only: object = None) -> None:  # SIGKILL: nothing is committed on the way out
        return None

    first._commit = killed  # type: ignore[method-assign]
    first._stopping.set()
    assert first._task is not None
    await asyncio.gather(first._task, return_exceptions=True)
    await first_bus.stop()
    second_bus = KafkaBus(kafka_bootstrap, client_id="taking-over", session_timeout_ms=6000)
    await second_bus.start()
    second = StageRunner(Recorder("crash", handled, repeats), second_bus, topics,
                         RunnerOptions(concurrency=8, window=32, poll_timeout_s=0.05))
    try:
        await second.start()
        await _until(lambda: _ready(second), 60, "second member assigned")
        await _until(lambda: _handled(handled, 20), 30, "the backlog handled again")
        await _produce(second_bus, topics, [_event(f"new{n}", "fast") for n in range(10)])
        await _until(lambda: _handled(handled, 30), 30, "the new records handled")
    finally:
        await second.stop()
        await second_bus.stop()
    assert {t: r for t, r in repeats.items() if t.startswith("old")} == {f"old{n}": [False, True] for n in range(10)}
    assert {t: r for t, r in repeats.items() if t.startswith("new")} == {f"new{n}": [False] for n in range(10)}


async def test_a_long_retry_after_never_blocks_the_poll_loop_or_evicts_the_member(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix, (1.0, 12.0))
    handled: Counter[str] = Counter()
    bus = KafkaBus(kafka_bootstrap, client_id="long-retry", max_poll_interval_ms=6_000, session_timeout_ms=6_000)
    await bus.start()
    await bus.ensure_topics([*topics.specs(2), TopicSpec(topics.name(OUT), 2)])
    runner = StageRunner(Recorder("long-retry", handled), bus, topics, RunnerOptions(poll_timeout_s=0.05))
    out_topic = topics.name(OUT)
    try:
        await runner.start()
        await _until(lambda: _ready(runner), 30, "member assigned")
        await _produce(bus, topics, [_event("wait", "retry-after-600")])
        await _until(lambda: _retried(handled), 20, "the 429")
        started = time.monotonic()
        for wave in range(4):  # 4 waves over ~8 s: longer than max_poll_interval_ms while the retry waits
            await _produce(bus, topics, [_event(f"w{wave}-{n}", "fast") for n in range(10)])
            await _until(lambda w=wave: _has(kafka_bootstrap, out_topic, 10 * (w + 1)), 20, "wave outputs")
            await asyncio.sleep(2)
        assert handled["wait"] == 1, "not retried before it is due"
        assert await _members(kafka_bootstrap, f"{topic_prefix}long-retry") == 1  # still in the group
        assert runner.healthy() and runner.failure is None
        await _until(lambda: _has(kafka_bootstrap, out_topic, 41), 30, "the capped retry's output")
        waited = time.monotonic() - started
        assert 6 < waited < 30, waited  # Retry-After 600 was capped at the longest tier (12 s)
    finally:
        await runner.stop()
        await bus.stop()


async def test_an_output_over_the_size_limit_is_dead_lettered_and_the_loop_goes_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix, (0.5,))
    handled: Counter[str] = Counter()
    bus = KafkaBus(kafka_bootstrap, client_id="too-large", max_request_bytes=1024 * 1024)
    await bus.start()
    await bus.ensure_topics([*topics.specs(1), TopicSpec(topics.name(OUT), 1)])
    runner = StageRunner(Recorder("too-large", handled), bus, topics, RunnerOptions(poll_timeout_s=0.05))
    try:
        await runner.start()
        await _produce(bus, topics, [_event("big", "huge"), _event("after", "fast")])
        await _until(lambda: _has(kafka_bootstrap, topics.name(OUT), 1), 30, "the next record's output")
        await _until(lambda: _has(kafka_bootstrap, topics.name(DLQ), 1), 30, "the dead letter")
        reader = AIOKafkaConsumer(topics.name(DLQ), bootstrap_servers=kafka_bootstrap, group_id=None,
                                  auto_offset_reset="earliest")
        await reader.start()
        try:
            batch = await reader.getmany(timeout_ms=5000)
            [letter] = [m for messages in batch.values() for m in messages]
        finally:
            await reader.stop()
        assert dict(letter.headers)[HEADER_REASON] == b"output_rejected"
        assert handled["big"] == 1  # dead-lettered at once, not retried into a crash loop
        assert runner.failure is None and runner.healthy()
    finally:
        await runner.stop()
        await bus.stop()


async def test_a_1500_category_taxonomy_travels_by_reference(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = Topics(topic_prefix)
    bus = KafkaBus(kafka_bootstrap, client_id="big-taxonomy")
    await bus.start()
    await bus.ensure_topics(topics.specs(2))
    candidates = tuple(
        Candidate(id=f"c{n}", path=(f"Area {n // 100}", f"Type {n // 10}", f"Item {n} with a longer label"),
                  native={"typeId": n // 100, "subTypeId": n // 10, "itemId": n})
        for n in range(1500)
    )
    taxonomy = Taxonomy(tenant="acme", psa=PSAKind.CONNECTWISE, scope="board-7", candidates=candidates,
                        fetched_at=datetime.now(UTC))
    publisher, reader = TaxonomyStore(bus, topics), TaxonomyStore(bus, topics)
    try:
        await publisher.start()
        await publisher.publish(taxonomy)
        size = len(taxonomy.model_dump_json())
        enriched = TicketEnriched(**_event("1", "s").envelope_fields(), ticket=Ticket(id="1", summary="s", scope="7"),
                                  taxonomy_ref=taxonomy.ref())
        event_size = len(encode(enriched))
        assert size > 100 * event_size  # the event carries a reference, not the taxonomy
        await reader.start()  # a classifier starting after the publication reads it from the compacted topic
        resolved = await reader.resolve(taxonomy.ref())
        assert resolved.version == taxonomy.version and len(resolved.candidates) == 1500
        print(f"\n[taxonomy by reference] taxonomy {size} bytes in the compacted topic; event {event_size} bytes")
    finally:
        await publisher.close()
        await reader.close()
        await bus.stop()


async def _ready(runner: StageRunner[TicketNormalized]) -> bool:
    return runner.ready


async def _in_flight(runner: StageRunner[TicketNormalized], at_least: int) -> bool:
    return runner.in_flight >= at_least


async def _retried(handled: Counter[str]) -> bool:
    return handled["wait"] >= 1


async def _has(bootstrap: str, topic: str, count: int) -> bool:
    return await _count(bootstrap, topic) >= count


async def _handled(handled: Counter[str], at_least: int) -> bool:
    return sum(handled.values()) >= at_least
