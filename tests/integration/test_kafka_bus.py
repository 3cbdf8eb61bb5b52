"""The Kafka bus on a real broker: explicit topics, keyed ordering, manual commits, table reads."""

from __future__ import annotations

import asyncio

import pytest

from autotriage.core.bus.base import TopicSpec
from autotriage.core.bus.kafka import KafkaBus

pytestmark = pytest.mark.kafka


async def test_topics_keyed_order_commit_and_resume(kafka_bootstrap: str, topic_prefix: str) -> None:
    bus = KafkaBus(kafka_bootstrap, client_id="test-bus")
    await bus.start()
    topic = f"{topic_prefix}orders"
    group = f"{topic_prefix}group"
    try:
        assert await bus.ensure_topics([TopicSpec(topic, 3)]) == [topic]
        assert await bus.ensure_topics([TopicSpec(topic, 3)]) == []  # idempotent admin step
        futures = []
        for i in range(30):
            key = f"acme:{i % 5}".encode()
            futures.append(await bus.producer().send(topic, str(i).encode(), key=key, headers=(("h", b"v"),)))
        for future in futures:
            await future
        consumer = await bus.consumer([topic], group)
        seen: list[tuple[bytes | None, int, int]] = []
        for _ in range(40):
            batch = await consumer.getmany(1.0, max_records=7)
            assert len(batch) <= 7
            seen += [(r.key, int(r.value), r.partition) for r in batch]
            if len(seen) >= 30:
                break
        assert len(seen) == 30
        per_key: dict[bytes | None, list[int]] = {}
        partitions: dict[bytes | None, set[int]] = {}
        for key, value, partition in seen:
            per_key.setdefault(key, []).append(value)
            partitions.setdefault(key, set()).add(partition)
        assert all(values == sorted(values) for values in per_key.values())  # order within a key
        assert all(len(p) == 1 for p in partitions.values())  # one partition per key
        # nothing committed: a new member of the group gets everything again
        await consumer.stop()
        consumer = await bus.consumer([topic], group)
        again = []
        for _ in range(20):
            again += await consumer.getmany(1.0, max_records=100)
            if len(again) >= 30:
                break
        assert len(again) == 30, "nothing was committed, so everything is redelivered"
        offsets: dict[tuple[str, int], int] = {}
        for record in again:
            tp = (record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        await consumer.commit(offsets)
        await consumer.stop()
        consumer = await bus.consumer([topic], group)
        assert await consumer.getmany(2.0, max_records=100) == []
        assert await consumer.lag() == 0
        await consumer.stop()
    finally:
        await bus.stop()


async def test_read_table_returns_the_latest_value_per_key(kafka_bootstrap: str, topic_prefix: str) -> None:
    bus = KafkaBus(kafka_bootstrap, client_id="test-table")
    await bus.start()
    topic = f"{topic_prefix}taxonomies"
    try:
        await bus.ensure_topics([TopicSpec(topic, 2, compacted=True)])
        for i in range(3):
            for key in (b"acme:1", b"acme:3", b"beta:7"):
                await (await bus.producer().send(topic, f"{key.decode()}-v{i}".encode(), key=key))
        table = await bus.read_table(topic)
        assert table == {b"acme:1": b"acme:1-v2", b"acme:3": b"acme:3-v2", b"beta:7": b"beta:7-v2"}
        assert await bus.read_table(f"{topic_prefix}missing") == {}
    finally:
        await bus.stop()


async def test_a_followed_table_tells_its_watchers_every_entry_and_change(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    bus = KafkaBus(kafka_bootstrap, client_id="test-watch")
    await bus.start()
    topic = f"{topic_prefix}spend"
    try:
        await bus.ensure_topics([TopicSpec(topic, 2, compacted=True)])
        await (await bus.producer().send(topic, b"1", key=b"a"))
        table = await bus.table(topic)
        seen: dict[bytes, bytes | None] = {}
        table.watch(seen.__setitem__)
        assert seen == {b"a": b"1"}  # what was there before watching
        await (await bus.producer().send(topic, b"2", key=b"b"))
        assert bus._aio_producer is not None
        await bus._aio_producer.send_and_wait(topic, None, key=b"a")  # a tombstone (compaction deletes the key)
        assert await table.wait_for(b"b", lambda v: v == b"2", 10.0) == b"2"
        for _ in range(100):
            if b"a" in seen and seen[b"a"] is None:
                break
            await asyncio.sleep(0.05)
        assert seen == {b"a": None, b"b": b"2"}
        await table.close()
    finally:
        await bus.stop()


async def test_a_followed_table_catches_up_with_another_processs_writes(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """What ``catch_up`` promises the classify-once ledger after a rebalance: every record acknowledged before the
    call is in the view when it returns True, whichever process wrote it."""
    reader_bus = KafkaBus(kafka_bootstrap, client_id="test-catch-up-reader")
    writer_bus = KafkaBus(kafka_bootstrap, client_id="test-catch-up-writer")
    await reader_bus.start()
    await writer_bus.start()
    topic = f"{topic_prefix}ledger"
    try:
        await reader_bus.ensure_topics([TopicSpec(topic, 3, compacted=True)])
        table = await reader_bus.table(topic)
        assert await table.catch_up(10.0)  # an empty topic: nothing to wait for
        for round_ in range(5):
            keys = [f"acme:{round_}-{i}".encode() for i in range(40)]
            acks = [await writer_bus.producer().send(topic, b"1", key=key) for key in keys]
            for ack in acks:
                await ack
            assert await table.catch_up(10.0)
            assert [key for key in keys if table.get(key) is None] == []
        await table.close()
    finally:
        await reader_bus.stop()
        await writer_bus.stop()
