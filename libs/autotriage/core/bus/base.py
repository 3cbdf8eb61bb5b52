"""The bus interface both backends (Kafka, in-memory) implement."""

from __future__ import annotations

import asyncio
import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Headers = tuple[tuple[str, bytes], ...]
TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Headers = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> str | None:
        """A header decoded as UTF-8, or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the project creates explicitly (no broker auto-create)."""

    name: str
    partitions: int
    compacted: bool = False
    config: dict[str, str] = field(default_factory=dict)


def partition_for(key: bytes | None, partitions: int) -> int:
    """Keyed partitioning for the in-memory bus (stable across runs)."""
    if key is None:
        return 0
    return zlib.crc32(key) % partitions


OnRevoked = Callable[[set[TopicPartition]], Awaitable[None]]


class Producer(ABC):
    """Sends records; ``send`` returns a future that completes when the bus acknowledged the record."""

    @abstractmethod
    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers = ()
    ) -> asyncio.Future[Any]:
        """Queue a record; await the returned future for the acknowledgement."""

    @abstractmethod
    async def flush(self) -> None:
        """Wait until everything queued is acknowledged."""


class Consumer(ABC):
    """A group member with manual commits."""

    @abstractmethod
    async def getmany(self, timeout_s: float, max_records: int) -> list[Record]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first."""

    @abstractmethod
    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit the next offset to read for each partition."""

    @abstractmethod
    async def lag(self) -> int:
        """Records in the assigned partitions that this member has not yet fetched."""

    @abstractmethod
    async def stop(self) -> None:
        """Leave the group."""


class Bus(ABC):
    """Factory for producers and consumers of one backend."""

    @abstractmethod
    async def start(self) -> None:
        """Connect."""

    @abstractmethod
    async def stop(self) -> None:
        """Flush and disconnect."""

    @abstractmethod
    def producer(self) -> Producer:
        """The process's shared producer."""

    @abstractmethod
    async def consumer(self, topics: Sequence[str], group_id: str, on_revoked: OnRevoked | None = None) -> Consumer:
        """A started consumer subscribed to ``topics`` in ``group_id``."""

    @abstractmethod
    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Create the topics that are missing; return the names created."""

    @abstractmethod
    async def read_table(self, topic: str) -> dict[bytes, bytes]:
        """The latest value per key of a (compacted) topic, read from the beginning to its current end."""
