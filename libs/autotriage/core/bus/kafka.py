"""Kafka bus on aiokafka: idempotent zstd producer, manual commits, pause/resume/seek, rebalance callbacks,
and live views of compacted topics.

Group timing is set deliberately: a member has ``rebalance_timeout_ms`` to finish and commit the in-flight work
of revoked partitions (the runtime waits a little less than that), the session times out after
``session_timeout_ms`` without heartbeats (sent by aiokafka's own task, independent of slow handlers), and the
poll loop calls ``getmany`` every fraction of a second whatever the handlers do, so ``max_poll_interval_ms`` is
never reached by a slow LLM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    RebalanceInProgressError,
    RecordTooLargeError,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
    UnknownTopicOrPartitionError,
)

from autotriage.core.bus.base import (
    Bus,
    CommitRejected,
    Consumer,
    Headers,
    OnAssigned,
    OnRevoked,
    OutputRejected,
    Producer,
    Record,
    Table,
    TopicSpec,
)
from autotriage.core.bus.base import TopicPartition as TP

log = logging.getLogger(__name__)

#: Commit errors that mean "this member no longer owns the generation": retrying can never succeed.
_GROUP_MOVED = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError, UnknownMemberIdError,
                IllegalStateError)
#: Produce errors no retry fixes: the record is too large for the producer or the topic.
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)


class KafkaBus(Bus):
    """Kafka backend. One producer per process; one consumer per stage loop."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str = "autotriage",
        replication_factor: int = 1,
        linger_ms: int = 10,
        max_poll_interval_ms: int = 300_000,
        session_timeout_ms: int = 30_000,
        rebalance_timeout_ms: int = 60_000,
        max_request_bytes: int = 8 * 1024 * 1024,
        security: Mapping[str, Any] | None = None,
        fetch_max_wait_ms: int = 50,
        fetch_min_bytes: int = 1,
    ) -> None:
        self._bootstrap = bootstrap_servers
        #: TLS/SASL keyword arguments for every client (``kafka_security.client_kwargs``).
        self._security = dict(security or {})
        self._client_id = client_id
        self._replication = replication_factor
        self._max_poll_interval_ms = max_poll_interval_ms
        self._session_timeout_ms = session_timeout_ms
        self._rebalance_timeout_ms = rebalance_timeout_ms
        self._max_request_bytes = max_request_bytes
        self._linger_ms = linger_ms
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._fetch_min_bytes = fetch_min_bytes
        self._aio_producer: AIOKafkaProducer | None = None
        self._producer: _KafkaProducer | None = None
        self._consumers: list[AIOKafkaConsumer] = []

    async def start(self) -> None:
        if self._aio_producer is not None:
            return
        self._aio_producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            compression_type="zstd",
            linger_ms=self._linger_ms,
            max_batch_size=128 * 1024,
            max_request_size=self._max_request_bytes,
            request_timeout_ms=30_000,
            **self._security,
        )
        await self._aio_producer.start()
        self._producer = _KafkaProducer(self._aio_producer)

    async def stop(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        self._consumers.clear()
        if self._aio_producer is not None:
            await self._aio_producer.stop()
            self._aio_producer = None

    def producer(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() must be awaited before producing")
        return self._producer

    @property
    def rebalance_timeout_s(self) -> float:
        """How long a member may take to release revoked partitions before the group moves on without it."""
        return self._rebalance_timeout_ms / 1000

    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_revoked: OnRevoked | None = None,
        on_assigned: OnAssigned | None = None,
    ) -> Consumer:
        aio = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=self._max_poll_interval_ms,
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(1000, self._session_timeout_ms // 10),
            rebalance_timeout_ms=self._rebalance_timeout_ms,
            max_partition_fetch_bytes=self._max_request_bytes,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            fetch_min_bytes=self._fetch_min_bytes,
            isolation_level="read_committed",
            **self._security,
        )
        await aio.start()
        aio.subscribe(list(topics), listener=_Listener(on_revoked, on_assigned))
        self._consumers.append(aio)
        return _KafkaConsumer(aio, self._consumers)

    async def table(self, topic: str) -> Table:
        table = _KafkaTable(self._bootstrap, f"{self._client_id}-table", topic, self._max_request_bytes,
                            self._security)
        await table.start()
        return table

    async def read_table(self, topic: str, settle_s: float = 5.0) -> dict[bytes, bytes]:
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}-table",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._security,
        )
        await reader.start()
        table: dict[bytes, bytes] = {}
        ends: dict[TopicPartition, int] = {}
        deadline = asyncio.get_running_loop().time() + settle_s
        try:
            reader.subscribe([topic])  # without a group: every partition, from the beginning
            while True:
                batches = await reader.getmany(timeout_ms=300, max_records=1000)
                for messages in batches.values():
                    for m in messages:
                        if m.key is not None and m.value is None:
                            table.pop(m.key, None)  # tombstone
                        elif m.key is not None:
                            table[m.key] = m.value
                assigned = reader.assignment()
                if assigned and not ends:
                    ends = await reader.end_offsets(list(assigned))
                if ends and not [tp for tp in ends if await reader.position(tp) < ends[tp]]:
                    return table
                if not ends and asyncio.get_running_loop().time() > deadline:
                    return table  # the topic does not exist (yet)
        finally:
            await reader.stop()

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, client_id=f"{self._client_id}-admin", **self._security
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [s for s in specs if s.name not in existing]
            new = []
            for spec in missing:
                config = dict(spec.config)
                if spec.compacted:
                    config.setdefault("cleanup.policy", "compact")
                new.append(NewTopic(spec.name, spec.partitions, self._replication, topic_configs=config))
            created = []
            for topic in new:
                try:
                    await admin.create_topics([topic])
                    created.append(topic.name)
                except TopicAlreadyExistsError:
                    pass
            return created
        finally:
            await admin.close()


class _KafkaProducer(Producer):
    def __init__(self, aio: AIOKafkaProducer) -> None:
        self._aio = aio

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> asyncio.Future[Any]:
        try:
            future: asyncio.Future[Any] = await self._aio.send(topic, value=value, key=key, headers=list(headers))
        except _TOO_LARGE as exc:
            raise OutputRejected(f"record of {len(value)} bytes for {topic} is too large: {exc}") from exc
        except UnknownTopicOrPartitionError as exc:
            raise RuntimeError(f"topic {topic} does not exist: create the topics with `autotriage topics create` "
                               "(the broker does not create them on first use)") from exc
        return _translated(future, topic, len(value))

    async def flush(self) -> None:
        await self._aio.flush()


def _translated(future: asyncio.Future[Any], topic: str, size: int) -> asyncio.Future[Any]:
    """The acknowledgement future, with a broker's "too large" answer turned into :class:`OutputRejected`."""
    out: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(source: asyncio.Future[Any]) -> None:
        if out.done():
            return
        if source.cancelled():
            out.cancel()
        elif (exc := source.exception()) is not None:
            if isinstance(exc, _TOO_LARGE):
                out.set_exception(OutputRejected(f"record of {size} bytes for {topic} rejected by the broker: {exc}"))
            else:
                out.set_exception(exc)
        else:
            out.set_result(source.result())

    future.add_done_callback(done)
    return out


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the stage finish and commit the in-flight work of revoked partitions before they move."""

    def __init__(self, on_revoked: OnRevoked | None, on_assigned: OnAssigned | None) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._on_revoked is not None and revoked:
            await self._on_revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
        if self._on_assigned is not None:
            await self._on_assigned({(tp.topic, tp.partition) for tp in assigned})


class _KafkaConsumer(Consumer):
    def __init__(self, aio: AIOKafkaConsumer, registry: list[AIOKafkaConsumer]) -> None:
        self._aio = aio
        self._registry = registry

    async def getmany(self, timeout_s: float, max_records: int) -> list[Record]:
        batches = await self._aio.getmany(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        records: list[Record] = []
        for messages in batches.values():
            for m in messages:
                records.append(
                    Record(m.topic, m.partition, m.offset, m.key, m.value, tuple(m.headers or ()), m.timestamp)
                )
        return records

    async def commit(self, offsets: dict[TP, int]) -> None:
        if not offsets:
            return
        try:
            await self._aio.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
        except _GROUP_MOVED as exc:
            raise CommitRejected(f"{type(exc).__name__}: {exc}") from exc

    def assignment(self) -> set[TP]:
        return {(tp.topic, tp.partition) for tp in self._aio.assignment()}

    def pause(self, partitions: set[TP]) -> None:
        owned = self._aio.assignment()
        tps = [tp for tp in (TopicPartition(t, p) for t, p in partitions) if tp in owned]
        if tps:
            self._aio.pause(*tps)

    def resume(self, partitions: set[TP]) -> None:
        owned = self._aio.assignment()
        tps = [tp for tp in (TopicPartition(t, p) for t, p in partitions) if tp in owned]
        if tps:
            self._aio.resume(*tps)

    def seek(self, partition: TP, offset: int) -> None:
        tp = TopicPartition(*partition)
        if tp in self._aio.assignment():
            self._aio.seek(tp, offset)

    def highwater(self, partition: TP) -> int | None:
        tp = TopicPartition(*partition)
        return self._aio.highwater(tp) if tp in self._aio.assignment() else None

    async def end_offsets(self, partitions: set[TP]) -> dict[TP, int]:
        if not partitions:
            return {}
        ends = await self._aio.end_offsets([TopicPartition(t, p) for t, p in partitions])
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def lag(self, topics: set[str] | None = None) -> int:
        total = 0
        assigned = [tp for tp in self._aio.assignment() if topics is None or tp.topic in topics]
        # the high watermark from the last fetch costs nothing; ask the broker only for partitions without one
        unknown = [tp for tp in assigned if self._aio.highwater(tp) is None]
        ends = await self._aio.end_offsets(unknown) if unknown else {}
        for tp in assigned:
            end = self._aio.highwater(tp)
            end = ends.get(tp) if end is None else end
            try:
                position = await self._aio.position(tp)
            except Exception:  # noqa: BLE001, S112 - position unknown until the first fetch after an assignment
                continue
            if end is not None:
                total += max(0, end - position)
        return total

    async def stop(self) -> None:
        if self._aio in self._registry:
            self._registry.remove(self._aio)
        await self._aio.stop()


class _KafkaTable(Table):
    """A group-less reader over every partition of a compacted topic, from the beginning, then tailing it."""

    def __init__(
        self, bootstrap: str, client_id: str, topic: str, max_bytes: int, security: Mapping[str, Any]
    ) -> None:
        self._topic = topic
        self._values: dict[bytes, bytes] = {}
        self._watchers: list[Callable[[bytes, bytes | None], None]] = []
        self._changed = asyncio.Condition()
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=max_bytes,
            **security,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self, settle_s: float = 10.0) -> None:
        """Read the topic to its current end (bounded by ``settle_s``), then keep reading in the background."""
        await self._reader.start()
        self._reader.subscribe([self._topic])  # without a group: every partition, from the beginning
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_s
        ends: dict[TopicPartition, int] = {}
        while loop.time() < deadline:
            await self._poll(300)
            assigned = self._reader.assignment()
            if assigned and not ends:
                ends = await self._reader.end_offsets(list(assigned))
            if ends and all([await self._reader.position(tp) >= end for tp, end in ends.items()]):
                break
        self._task = asyncio.create_task(self._follow(), name=f"table-{self._topic}")

    async def _poll(self, timeout_ms: int) -> None:
        batches = await self._reader.getmany(timeout_ms=timeout_ms, max_records=1000)
        if not batches:
            async with self._changed:
                self._changed.notify_all()  # positions may have moved (``catch_up`` watches them)
            return
        async with self._changed:
            for messages in batches.values():
                for m in messages:
                    if m.key is None:
                        continue
                    if m.value is None:
                        self._values.pop(m.key, None)  # tombstone
                    else:
                        self._values[m.key] = m.value
                    for on_change in self._watchers:
                        on_change(m.key, m.value)
            self._changed.notify_all()

    async def _follow(self) -> None:
        while True:
            try:
                await self._poll(500)
            except asyncio.CancelledError:
                raise
            except KafkaError as exc:  # a broker blip: the reader resumes from its position
                log.warning("reading %s failed (%s); retrying", self._topic, exc)
                await asyncio.sleep(1.0)

    def get(self, key: bytes) -> bytes | None:
        return self._values.get(key)

    def items(self) -> list[tuple[bytes, bytes]]:
        return list(self._values.items())

    def watch(self, on_change: Callable[[bytes, bytes | None], None]) -> None:
        for key, value in self._values.items():
            on_change(key, value)
        self._watchers.append(on_change)

    async def wait_for(self, key: bytes, accept: Callable[[bytes], bool], timeout_s: float) -> bytes | None:
        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    while True:
                        value = self._values.get(key)
                        if value is not None and accept(value):
                            return value
                        await self._changed.wait()
            except TimeoutError:
                return None

    async def catch_up(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                assigned = self._reader.assignment()
                if not assigned:  # the reader has not been given the topic's partitions yet
                    return False
                ends = await self._reader.end_offsets(list(assigned))
                async with self._changed:
                    while not all([await self._reader.position(tp) >= end for tp, end in ends.items()]):
                        await self._changed.wait()
        except TimeoutError:
            return False
        except KafkaError as exc:  # the end is not known: the view may be behind
            log.warning("catching up on %s failed (%s)", self._topic, exc)
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._reader.stop()
