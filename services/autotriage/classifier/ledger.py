"""Classify-once across restarts and replicas: the tickets already classified, in a compacted, expiring topic.

The ledger is keyed like the classifier's input (``tenant:ticket``), so a ticket's events and its ledger record
meet in whichever replica owns the ticket's partition, before or after a rebalance or a restart. A ticket is
marked only after its classification was acknowledged by the bus, so a crash in between classifies (and bills) it
again rather than losing it. Memory is bounded by the topic's retention (``LEDGER_RETENTION_MS``) and by
``capacity`` entries for this process's own marks.
"""

from __future__ import annotations

import time

from autotriage.core.bus.base import Bus
from autotriage.core.bus.follow import FollowedTopic
from autotriage.core.bus.topics import CLASSIFIED_LEDGER, Topics
from autotriage.core.caches import RecentKeys


class ClassifiedLedger(FollowedTopic):
    """Which tickets were classified already, by any replica, within the ledger's retention."""

    def __init__(self, bus: Bus, topics: Topics, capacity: int = 200_000) -> None:
        super().__init__(bus, topics.name(CLASSIFIED_LEDGER))
        self._recent: RecentKeys[bytes] = RecentKeys(capacity)

    def seen(self, key: bytes) -> bool:
        """Whether the ticket with this key was classified already."""
        if key in self._recent:
            return True
        return self._table is not None and self._table.get(key) is not None

    async def catch_up(self, timeout_s: float) -> bool:
        """Wait until every mark made so far, by any replica, is in this view (False: not within ``timeout_s``)."""
        return self._table is not None and await self._table.catch_up(timeout_s)

    async def mark(self, key: bytes) -> None:
        """Record that the ticket was classified (call after its classification is acknowledged)."""
        self._recent.add(key)
        ack = await self._bus.producer().send(self._topic, str(int(time.time())).encode(), key=key)
        await ack
