"""A process's live view of one compacted topic (taxonomies, budget spend, the classify-once ledger)."""

from __future__ import annotations

from autotriage.core.bus.base import Bus, Table


class FollowedTopic:
    """Reads its topic to the end on ``start`` and keeps following it until ``close``; ``table`` is the view."""

    def __init__(self, bus: Bus, topic: str) -> None:
        self._bus = bus
        self._topic = topic
        self._table: Table | None = None

    async def start(self) -> None:
        """Read the topic to its end and keep following it."""
        self._table = await self._bus.table(self._topic)

    async def close(self) -> None:
        """Stop following the topic."""
        if self._table is not None:
            await self._table.close()
            self._table = None
