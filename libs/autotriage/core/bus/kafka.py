"""Kafka bus on aiokafka: idempotent zstd producer, manual commits, bounded fetches, commit on revoke."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from autotriage.core.bus.base import (
    Bus,
    Consumer,
    Headers,
    OnRevoked,
    Producer,
    Record,
    TopicSpec,
)
from autotriage.core.bus.base import TopicPartition as TP

log = logging.getLogger(__name__)


class KafkaBus(Bus):
    """Kafka backend. One producer per process; one consumer per stage loop."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str = "autotriage",
        replication_factor: int = 1,
        linger_ms: int = 10,
        max_poll_interval_ms: int = 300_000,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        #: TLS/SASL keyword arguments for every client (``kafka_security.client_kwargs``).
        self._security = dict(security or {})
        self._client_id = client_id
        self._replication = replication_factor
        self._max_poll_interval_ms = max_poll_interval_ms
        self._linger_ms = linger_ms
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

    async def consumer(self, topics: Sequence[str], group_id: str, on_revoked: OnRevoked | None = None) -> Consumer:
        aio = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=self._max_poll_interval_ms,
            isolation_level="read_committed",
            **self._security,
        )
        await aio.start()
        aio.subscribe(list(topics), listener=_Listener(on_revoked))
        self._consumers.append(aio)
        return _KafkaConsumer(aio, self._consumers)

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
        future: asyncio.Future[Any] = await self._aio.send(topic, value=value, key=key, headers=list(headers))
        return future

    async def flush(self) -> None:
        await self._aio.flush()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the stage finish and commit its in-flight batch before partitions move."""

    def __init__(self, on_revoked: OnRevoked | None) -> None:
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if self._on_revoked is not None and revoked:
            await self._on_revoked({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


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
        if offsets:
            await self._aio.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})

    async def lag(self) -> int:
        total = 0
        assigned = list(self._aio.assignment())
        # the high watermark from the last fetch costs nothing; ask the broker only for partitions without one
        unknown = [tp for tp in assigned if self._aio.highwater(tp) is None]
        ends = await self._aio.end_offsets(unknown) if unknown else {}
        for tp in assigned:
            end = self._aio.highwater(tp)
            end = ends.get(tp) if end is None else end
            try:
                position = await self._aio.position(tp)
            except Exception:  # position unknown until the first fetch after an assignment
                continue
            if end is not None:
                total += max(0, end - position)
        return total

    async def stop(self) -> None:
        if self._aio in self._registry:
            self._registry.remove(self._aio)
        await self._aio.stop()
