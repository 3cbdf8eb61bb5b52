"""The two caches the stages keep, in one place: a bounded set of recently seen keys (duplicate deliveries,
tickets under way) and a TTL cache whose concurrent misses of one key make one load (single flight)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: How ``SingleFlight.get`` was answered (a bounded metric label).
HIT, JOINED, MISS, STALE = "hit", "joined", "miss", "stale"


class RecentKeys(Generic[K]):
    """The ``capacity`` most recently added keys; older ones are forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._keys: LRUCache[K, None] = LRUCache(maxsize=capacity)

    def __contains__(self, key: K) -> bool:
        return key in self._keys  # a look-up does not refresh: only ``add`` does

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: K) -> None:
        """Remember ``key`` (again: it becomes the newest)."""
        self._keys[key] = None


class SingleFlight(Generic[K, V]):
    """Values that expire ``ttl_s`` after they were stored; while one is being loaded, every other caller of
    the same key waits for that load instead of starting its own (its failure reaches them all)."""

    def __init__(self, ttl_s: float, maxsize: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: LRUCache[K, tuple[V, float]] = LRUCache(maxsize=maxsize)
        self._loading: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K) -> V | None:
        """The fresh value of ``key``, or None."""
        entry = self._entries.get(key)
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        """Store ``value`` for ``ttl_s`` seconds (default: the cache's TTL)."""
        self._entries[key] = (value, self._clock() + (self.ttl_s if ttl_s is None else ttl_s))

    def pop(self, key: K) -> None:
        """Forget ``key``."""
        self._entries.pop(key, None)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> tuple[V, str]:
        """The value of ``key`` and how it was found (``HIT``, ``JOINED``, ``MISS``, ``STALE``); ``load`` runs
        (and its result is stored) only when no fresh value is cached and no load of ``key`` is under way."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] > self._clock():
            return entry[0], HIT
        running = self._loading.get(key)
        if running is not None:
            return await asyncio.shield(running), JOINED
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: joined waiters re-raise it, no "never retrieved" warning
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value, MISS if entry is None else STALE
        finally:
            del self._loading[key]
