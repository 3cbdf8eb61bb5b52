"""In-memory bus: the embedded default for one process (demo, one small MSP). Same keyed ordering as Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotriage.core.bus.base import (
    Bus,
    Consumer,
    Headers,
    OnAssigned,
    OnRevoked,
    Producer,
    Record,
    Table,
    TopicPartition,
    TopicSpec,
    partition_for,
)


@dataclass
class _Topic:
    partitions: list[list[Record]]


@dataclass
class _Group:
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryBus(Bus):
    """Topics as lists of records per partition; one consumer per group (single process)."""

    def __init__(self, default_partitions: int = 3) -> None:
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._changed = asyncio.Condition()
        self._default_partitions = default_partitions
        self._producer = _MemoryProducer(self)

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Wake waiting consumers so they can exit."""
        async with self._changed:
            self._changed.notify_all()

    def producer(self) -> Producer:
        return self._producer

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_revoked: OnRevoked | None = None,
        on_assigned: OnAssigned | None = None,
    ) -> Consumer:
        for name in topics:
            self._topic(name)
        group = self._groups.setdefault(group_id, _Group())
        consumer = _MemoryConsumer(self, list(topics), group)
        if on_assigned is not None:
            await on_assigned(consumer.assignment())
        return consumer

    async def table(self, topic: str) -> Table:
        self._topic(topic)
        return _MemoryTable(self, topic)

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        created = []
        for spec in specs:
            if spec.name not in self._topics:
                self._topics[spec.name] = _Topic([[] for _ in range(spec.partitions)])
                created.append(spec.name)
        return created

    async def read_table(self, topic: str) -> dict[bytes, bytes]:
        table: dict[bytes, bytes] = {}
        for record in self.records(topic):
            if record.key is not None:
                table[record.key] = record.value
        return table

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic (all partitions), for tests and the demo."""
        found = self._topics.get(topic)
        if found is None:
            return []
        return sorted((r for p in found.partitions for r in p), key=lambda r: r.timestamp_ms)

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = _Topic([[] for _ in range(self._default_partitions)])
            self._topics[name] = topic
        return topic

    async def _append(self, topic: str, value: bytes, key: bytes | None, headers: Headers) -> None:
        t = self._topic(topic)
        partition = partition_for(key, len(t.partitions))
        log = t.partitions[partition]
        log.append(Record(topic, partition, len(log), key, value, headers, int(time.time() * 1000)))
        async with self._changed:
            self._changed.notify_all()


class _MemoryProducer(Producer):
    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> asyncio.Future[Any]:
        await self._bus._append(topic, value, key, headers)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self) -> None:
        """Appends are synchronous: nothing to wait for."""


class _MemoryConsumer(Consumer):
    def __init__(self, bus: MemoryBus, topics: list[str], group: _Group) -> None:
        self._bus = bus
        self._topics = topics
        self._group = group
        self._position: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._stopped = False
        for name in topics:
            for partition in range(len(bus._topic(name).partitions)):
                tp = (name, partition)
                self._position[tp] = group.committed.get(tp, 0)

    def _available(self, max_records: int) -> list[Record]:
        batch: list[Record] = []
        for (name, partition), position in self._position.items():
            if (name, partition) in self._paused:
                continue
            log = self._bus._topic(name).partitions[partition]
            take = log[position : position + (max_records - len(batch))]
            batch.extend(take)
            self._position[(name, partition)] = position + len(take)
            if len(batch) >= max_records:
                break
        return batch

    async def getmany(self, timeout_s: float, max_records: int) -> list[Record]:
        async with self._bus._changed:  # check and wait under the lock, so no append is missed
            batch = self._available(max_records)
            if batch or self._stopped:
                return batch
            try:
                await asyncio.wait_for(self._bus._changed.wait(), timeout_s)
            except TimeoutError:
                return []
            return self._available(max_records)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._group.committed.update(offsets)

    async def lag(self, topics: set[str] | None = None) -> int:
        total = 0
        for (name, partition), position in self._position.items():
            if topics is not None and name not in topics:
                continue
            total += len(self._bus._topic(name).partitions[partition]) - position
        return total

    def assignment(self) -> set[TopicPartition]:
        return set(self._position)

    def pause(self, partitions: set[TopicPartition]) -> None:
        self._paused |= partitions & set(self._position)

    def resume(self, partitions: set[TopicPartition]) -> None:
        self._paused -= partitions

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition in self._position:
            self._position[partition] = offset

    def highwater(self, partition: TopicPartition) -> int | None:
        if partition not in self._position:
            return None
        name, number = partition
        return len(self._bus._topic(name).partitions[number])

    async def end_offsets(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: end for tp in partitions if (end := self.highwater(tp)) is not None}

    async def stop(self) -> None:
        self._stopped = True


class _MemoryTable(Table):
    """A view of an in-memory topic: always current, since producing appends synchronously."""

    def __init__(self, bus: MemoryBus, topic: str) -> None:
        self._bus = bus
        self._topic = topic
        self._values: dict[bytes, bytes] = {}
        self._read: list[int] = []
        self._watchers: list[Callable[[bytes, bytes | None], None]] = []

    def _refresh(self) -> None:
        partitions = self._bus._topic(self._topic).partitions
        if len(self._read) < len(partitions):
            self._read += [0] * (len(partitions) - len(self._read))
        for index, log in enumerate(partitions):
            for record in log[self._read[index] :]:
                if record.key is not None:
                    self._values[record.key] = record.value
                    for on_change in self._watchers:
                        on_change(record.key, record.value)
            self._read[index] = len(log)

    def refresh(self) -> None:
        self._refresh()

    def watch(self, on_change: Callable[[bytes, bytes | None], None]) -> None:
        self._refresh()
        for key, value in self._values.items():
            on_change(key, value)
        self._watchers.append(on_change)

    def get(self, key: bytes) -> bytes | None:
        self._refresh()
        return self._values.get(key)

    def items(self) -> list[tuple[bytes, bytes]]:
        self._refresh()
        return list(self._values.items())

    async def wait_for(self, key: bytes, accept: Callable[[bytes], bool], timeout_s: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            value = self.get(key)
            if value is not None and accept(value):
                return value
            if loop.time() >= deadline:
                return None
            async with self._bus._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._bus._changed.wait(), max(0.0, deadline - loop.time()))

    async def close(self) -> None:
        """Nothing runs in the background."""
