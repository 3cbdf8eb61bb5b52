"""Per-partition offset tracking: which offset is safe to commit while records complete out of order.

Records of one partition start in offset order but finish in any order (different tickets run concurrently).
The committable offset is the lowest offset still in flight, or one past the highest started offset when nothing
is in flight: everything below it is done and its outputs are acknowledged, so a restart from there loses nothing.
"""

from __future__ import annotations

import heapq


class PartitionOffsets:
    """Offsets started and completed on one partition."""

    __slots__ = ("_committed", "_done", "_in_flight", "_next")

    def __init__(self) -> None:
        self._in_flight: list[int] = []  # min-heap of started, not completed offsets (lazily pruned)
        self._done: set[int] = set()  # completed offsets still in the heap
        self._next = -1  # one past the highest started offset; -1 before the first
        self._committed = -1  # the last offset handed to a successful commit

    def start(self, offset: int) -> None:
        """A record was handed to a handler."""
        heapq.heappush(self._in_flight, offset)
        self._next = max(self._next, offset + 1)

    def complete(self, offset: int) -> None:
        """The record's handling and all its outputs are acknowledged."""
        self._done.add(offset)
        while self._in_flight and self._in_flight[0] in self._done:
            self._done.discard(heapq.heappop(self._in_flight))

    @property
    def in_flight(self) -> int:
        """Records started and not completed."""
        return len(self._in_flight) - len(self._done)

    def committable(self) -> int | None:
        """The next offset to commit (everything below it is complete), or None before the first record."""
        if self._in_flight:
            return self._in_flight[0]
        return self._next if self._next >= 0 else None

    def pending(self) -> int | None:
        """The committable offset when it moved since the last successful commit, else None."""
        offset = self.committable()
        return offset if offset is not None and offset > self._committed else None

    def committed(self, offset: int) -> None:
        """Record a successful commit of ``offset``."""
        self._committed = max(self._committed, offset)
