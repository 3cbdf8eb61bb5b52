"""In-memory bus: keyed ordering, group commits and resume, lag, bounded fetches, prompt wake-up."""

from __future__ import annotations

import asyncio
import time

from autotriage.core.bus.base import Consumer, Record, TopicSpec, partition_for
from autotriage.core.bus.memory import MemoryBus

TOPIC = "t.events"


async def send_all(bus: MemoryBus, items: list[tuple[bytes | None, bytes]], topic: str = TOPIC) -> None:
    for key, value in items:
        ack = await bus.producer().send(topic, value, key=key)
        assert ack.done()


async def drain(consumer: Consumer, max_records: int = 1000) -> list[Record]:
    out: list[Record] = []
    while batch := await consumer.getmany(0.01, max_records):
        out.extend(batch)
    return out


async def test_same_key_one_partition_in_order() -> None:
    bus = MemoryBus(default_partitions=4)
    keys = [f"acme:{i}".encode() for i in range(8)]
    items = [(key, f"{key.decode()}#{n}".encode()) for n in range(5) for key in keys]
    await send_all(bus, items)
    records = await drain(await bus.consumer([TOPIC], "g"))
    assert len(records) == len(items)
    for key in keys:
        mine = [r for r in records if r.key == key]
        assert {r.partition for r in mine} == {partition_for(key, 4)}
        assert [r.value for r in mine] == [f"{key.decode()}#{n}".encode() for n in range(5)]
        assert [r.offset for r in mine] == sorted(r.offset for r in mine)
    assert len({r.partition for r in records}) > 1  # different keys spread over partitions


async def test_headers_and_topic_kept() -> None:
    bus = MemoryBus()
    await bus.producer().send(TOPIC, b"v", key=b"k", headers=(("h", b"1"),))
    [record] = await drain(await bus.consumer([TOPIC], "g"))
    assert (record.topic, record.key, record.value, record.header("h"), record.header("missing")) == (
        TOPIC,
        b"k",
        b"v",
        "1",
        None,
    )
    assert bus.records(TOPIC) == [record]
    assert bus.records("nope") == []


async def test_ensure_topics_partition_count() -> None:
    bus = MemoryBus(default_partitions=3)
    assert await bus.ensure_topics([TopicSpec(TOPIC, 6)]) == [TOPIC]
    assert await bus.ensure_topics([TopicSpec(TOPIC, 6)]) == []
    await send_all(bus, [(f"k{i}".encode(), b"x") for i in range(60)])
    assert {r.partition for r in bus.records(TOPIC)} == set(range(6))


async def test_second_consumer_resumes_after_commit() -> None:
    bus = MemoryBus(default_partitions=2)
    await send_all(bus, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)])
    first = await bus.consumer([TOPIC], "g")
    batch = await first.getmany(0.01, 4)
    assert len(batch) == 4
    offsets: dict[tuple[str, int], int] = {}
    for r in batch:
        offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0), r.offset + 1)
    await first.commit(offsets)
    uncommitted = await first.getmany(0.01, 3)  # fetched but never committed: must be redelivered
    assert len(uncommitted) == 3
    await first.stop()

    second = await bus.consumer([TOPIC], "g")
    rest = await drain(second)
    assert {r.value for r in rest} == {f"v{i}".encode() for i in range(10)} - {r.value for r in batch}
    assert {r.value for r in uncommitted} <= {r.value for r in rest}


async def test_groups_are_independent() -> None:
    bus = MemoryBus()
    await send_all(bus, [(b"k", b"1"), (b"k", b"2")])
    a = await bus.consumer([TOPIC], "a")
    got = await drain(a)
    await a.commit({(r.topic, r.partition): r.offset + 1 for r in got})
    assert [r.value for r in await drain(await bus.consumer([TOPIC], "b"))] == [b"1", b"2"]
    assert await drain(await bus.consumer([TOPIC], "a")) == []


async def test_lag_counts_unfetched_records() -> None:
    bus = MemoryBus(default_partitions=3)
    consumer = await bus.consumer([TOPIC, "t.other"], "g")
    assert await consumer.lag() == 0
    await send_all(bus, [(f"k{i}".encode(), b"x") for i in range(7)])
    await send_all(bus, [(b"o", b"y")], topic="t.other")
    assert await consumer.lag() == 8
    await consumer.getmany(0.01, 5)
    assert await consumer.lag() == 3
    await drain(consumer)
    assert await consumer.lag() == 0


async def test_getmany_bounded() -> None:
    bus = MemoryBus(default_partitions=3)
    await send_all(bus, [(f"k{i}".encode(), b"x") for i in range(25)])
    consumer = await bus.consumer([TOPIC], "g")
    sizes = []
    while batch := await consumer.getmany(0.01, 10):
        sizes.append(len(batch))
    assert sizes == [10, 10, 5]
    one_partition = MemoryBus(default_partitions=1)
    await send_all(one_partition, [(b"k", b"x")] * 5)
    c = await one_partition.consumer([TOPIC], "g")
    assert len(await c.getmany(0.01, 1)) == 1
    assert len(await c.getmany(0.01, 100)) == 4


async def test_getmany_wakes_on_append() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer([TOPIC], "g")

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bus.producer().send(TOPIC, b"hello", key=b"k")

    task = asyncio.create_task(later())
    started = time.monotonic()
    records = await consumer.getmany(5.0, 10)
    elapsed = time.monotonic() - started
    await task
    assert [r.value for r in records] == [b"hello"]
    assert elapsed < 1.0


async def test_getmany_times_out_empty() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer([TOPIC], "g")
    started = time.monotonic()
    assert await consumer.getmany(0.05, 10) == []
    assert 0.04 <= time.monotonic() - started < 1.0


async def test_bus_stop_wakes_waiting_consumer() -> None:
    bus = MemoryBus()
    consumer = await bus.consumer([TOPIC], "g")
    task = asyncio.create_task(consumer.getmany(5.0, 10))
    await asyncio.sleep(0.02)
    started = time.monotonic()
    await bus.stop()
    assert await asyncio.wait_for(task, 1.0) == []
    assert time.monotonic() - started < 1.0
