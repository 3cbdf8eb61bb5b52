"""What every classifier replica has spent and reserved per tenant and period, shared through a compacted topic.

Each replica publishes its own running totals (key ``tenant|period|replica``) after every reservation and
settlement, and follows the topic to add up the others'. A budget then holds across any number of replicas and
across restarts (a restarted replica's earlier totals stay in the topic under its old id). Records expire with the
topic's retention after their period is over.

Worst-case overspend: calls admitted by different replicas within the time it takes one replica's publication to
reach the others (one produce and one fetch, typically well under a second) can pass the cap together. With ``R``
replicas that is at most ``R - 1`` concurrent calls per replica and tenant (the stage's per-tenant cap) times the
cost of one call, on top of the single-process bound (one call's cost, or none with ``strict``).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

import orjson

from autotriage.core.bus.base import Bus
from autotriage.core.bus.follow import FollowedTopic
from autotriage.core.bus.topics import BUDGET_SPEND, Topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Totals:
    """Spent and reserved amounts in one period."""

    usd: float = 0.0
    tokens: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0


def replica_id() -> str:
    """A unique id for this process's lifetime (host, pid and a random part)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class SpendBoard(FollowedTopic):
    """This replica's view of every replica's totals."""

    def __init__(self, bus: Bus, topics: Topics, replica: str | None = None) -> None:
        super().__init__(bus, topics.name(BUDGET_SPEND))
        self.replica = replica or replica_id()
        #: ``tenant|period`` -> replica -> its latest totals, kept current as records arrive, so a reservation
        #: adds up one tenant's replicas instead of scanning every tenant's records
        self._index: dict[str, dict[str, Totals]] = {}

    async def start(self) -> None:
        """Read the topic to its end, index it, and keep the index current."""
        await super().start()
        if self._table is not None:
            self._table.watch(self._apply)

    def _apply(self, key: bytes, raw: bytes | None) -> None:
        scope, _, replica = key.decode("utf-8", "replace").rpartition("|")
        if not scope:
            return
        if raw is None:
            self._index.get(scope, {}).pop(replica, None)
            return
        try:
            value = orjson.loads(raw)
            totals = Totals(float(value.get("usd", 0.0)), int(value.get("tokens", 0)),
                            float(value.get("reserved_usd", 0.0)), int(value.get("reserved_tokens", 0)))
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            log.warning("unreadable spend record %r in %s", key, self._topic)
            return
        self._index.setdefault(scope, {})[replica] = totals

    def others(self, tenant: str, period_key: str) -> Totals:
        """The sum of the other replicas' totals for a tenant's period (``day:2026-12-05``, ``month:2026-12``)."""
        if self._table is None:
            return Totals()
        self._table.refresh()
        usd = reserved_usd = 0.0
        tokens = reserved_tokens = 0
        for replica, totals in self._index.get(f"{tenant}|{period_key}", {}).items():
            if replica == self.replica:
                continue
            usd += totals.usd
            tokens += totals.tokens
            reserved_usd += totals.reserved_usd
            reserved_tokens += totals.reserved_tokens
        return Totals(usd, tokens, reserved_usd, reserved_tokens)

    async def publish(self, tenant: str, period_key: str, totals: Totals) -> None:
        """Publish this replica's totals for a tenant's period (not waited for: the next one supersedes it)."""
        key = f"{tenant}|{period_key}|{self.replica}".encode()
        value = orjson.dumps({"usd": totals.usd, "tokens": totals.tokens, "reserved_usd": totals.reserved_usd,
                              "reserved_tokens": totals.reserved_tokens})
        try:
            await self._bus.producer().send(self._topic, value, key=key)
        except Exception as exc:  # noqa: BLE001 - the cap is then held per replica until the next publication
            log.warning("could not publish spend (%s: %s)", type(exc).__name__, exc, extra={"tenant": tenant})
