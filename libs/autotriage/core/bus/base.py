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
OnAssigned = Callable[[set[TopicPartition]], Awaitable[None]]


class CommitRejected(Exception):
    """The group moved on (a rebalance, a new generation): the commit can never succeed and must not be retried;
    the partitions' uncommitted records are redelivered to their new owner."""


class OutputRejected(Exception):
    """The bus refused a record for good (for example larger than the producer's or topic's size limit)."""


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
    async def lag(self, topics: set[str] | None = None) -> int:
        """Records in the assigned partitions (of ``topics``, when given) that this member has not yet fetched."""

    @abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """The partitions currently assigned to this member."""

    @abstractmethod
    def pause(self, partitions: set[TopicPartition]) -> None:
        """Stop fetching from these partitions (the member stays in its group)."""

    @abstractmethod
    def resume(self, partitions: set[TopicPartition]) -> None:
        """Fetch from these partitions again."""

    def highwater(self, partition: TopicPartition) -> int | None:
        """The partition's end offset as of this member's latest fetch from it (None: not known)."""
        return None

    async def end_offsets(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        """The partitions' current end offsets, asked of the bus (partitions it cannot answer for are left out)."""
        return {}

    @abstractmethod
    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Fetch ``partition`` from ``offset`` next (to re-read records handed out but not started)."""

    @abstractmethod
    async def stop(self) -> None:
        """Leave the group."""


class Table(ABC):
    """The latest value per key of a compacted topic, kept current by a background reader."""

    @abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """The latest value of ``key`` seen so far, or None."""

    @abstractmethod
    def items(self) -> list[tuple[bytes, bytes]]:
        """Every live key and value seen so far."""

    @abstractmethod
    async def wait_for(self, key: bytes, accept: Callable[[bytes], bool], timeout_s: float) -> bytes | None:
        """Wait up to ``timeout_s`` until ``key`` has a value that ``accept`` takes; that value, or None."""

    @abstractmethod
    def watch(self, on_change: Callable[[bytes, bytes | None], None]) -> None:
        """Call ``on_change(key, value)`` for every entry in the view now and for every later change (``None``:
        the key was deleted), so a reader can keep an index of its own instead of scanning ``items``."""

    def refresh(self) -> None:  # noqa: B027 - views that follow in the background have nothing to do
        """Apply records that have arrived but are not in the view yet."""

    async def catch_up(self, timeout_s: float) -> bool:
        """Wait until the view holds every record the topic held when this was called (True), or ``timeout_s``
        passed first (False). Views that are always current (the in-memory bus) return at once."""
        self.refresh()
        return True

    @abstractmethod
    async def close(self) -> None:
        """Stop the background reader."""


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
    async def consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        on_revoked: OnRevoked | None = None,
        on_assigned: OnAssigned | None = None,
    ) -> Consumer:
        """A started consumer subscribed to ``topics`` in ``group_id``. ``on_revoked`` runs before partitions move
        away (the member may still commit them), ``on_assigned`` after new partitions arrive."""

    @abstractmethod
    async def table(self, topic: str) -> Table:
        """A live view of a compacted topic: read to its end now, then kept up to date in the background."""

    @abstractmethod
    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Create the topics that are missing; return the names created."""

    @abstractmethod
    async def read_table(self, topic: str) -> dict[bytes, bytes]:
        """The latest value per key of a (compacted) topic, read from the beginning to its current end."""
