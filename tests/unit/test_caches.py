"""The shared caches: bounded recent keys, and a TTL cache whose concurrent misses make one load."""

from __future__ import annotations

import asyncio

import pytest

from autotriage.core.caches import HIT, JOINED, MISS, STALE, RecentKeys, SingleFlight


def test_recent_keys_forget_the_oldest_first() -> None:
    keys: RecentKeys[str] = RecentKeys(3)
    for key in ("a", "b", "c"):
        keys.add(key)
    keys.add("a")  # added again: newest
    keys.add("d")
    assert "b" not in keys and all(k in keys for k in ("a", "c", "d")) and len(keys) == 3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_misses_of_one_key_make_one_load() -> None:
    cache: SingleFlight[str, int] = SingleFlight(ttl_s=60)
    loads = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal loads
        loads += 1
        await gate.wait()
        return 7

    waiting = [asyncio.create_task(cache.get("acme:1", load)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting)
    assert loads == 1
    assert sorted(how for _, how in results) == [JOINED] * 19 + [MISS]
    assert {value for value, _ in results} == {7}
    assert await cache.get("acme:1", load) == (7, HIT)


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache: SingleFlight[str, int] = SingleFlight(ttl_s=60)
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise ConnectionError("PSA down")

    waiting = [asyncio.create_task(cache.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)

    async def ok() -> int:
        return 1

    assert await cache.get("k", ok) == (1, MISS)


async def test_values_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: SingleFlight[str, int] = SingleFlight(ttl_s=60, clock=clock)
    cache.put("warm", 1, ttl_s=10)  # warmed with what was left of its TTL
    clock.now += 11
    assert cache.peek("warm") is None

    async def two() -> int:
        return 2

    assert await cache.get("warm", two) == (2, STALE)
    cache.pop("warm")
    assert cache.peek("warm") is None


@pytest.mark.parametrize("maxsize", [1, 2])
def test_the_ttl_cache_is_bounded(maxsize: int) -> None:
    cache: SingleFlight[int, int] = SingleFlight(ttl_s=60, maxsize=maxsize)
    for key in range(5):
        cache.put(key, key)
    assert len(cache) == maxsize and cache.peek(4) == 4
