"""Read a topic from the beginning in tests (no consumer group, so nothing is committed)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from autotriage.core.events import OutcomeRecorded, decode


class TopicReader:
    """Assigns all partitions of a topic and accumulates its records."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.values: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
        #: Each record's timestamp (ms since the epoch, the producer's create time), in the order of ``values``.
        self.timestamps: list[int] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Connect; without a group id the subscription gets every partition, read from offset 0."""
        self._consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                          auto_offset_reset="earliest", group_id=None)
        await self._consumer.start()

    async def poll(self, timeout: float = 0.5) -> None:
        """Fetch what is there."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=1000)
        for messages in batches.values():
            for m in messages:
                self.values.append((m.key, m.value, list(m.headers or [])))
                self.timestamps.append(m.timestamp)

    async def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll until ``done()`` or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.poll()
            if done():
                return True
        return done()

    def outcomes(self) -> list[OutcomeRecorded]:
        """The records decoded as outcomes."""
        return [decode(v, OutcomeRecorded) for _, v, _ in self.values]

    async def stop(self) -> None:
        """Disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()
