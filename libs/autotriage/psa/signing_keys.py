"""Signing keys fetched from a URL named in the (still unverified) webhook body, safe under attack.

ConnectWise callbacks name the URL of their signing key. Anyone can send a callback, so the fetch is the
one thing an anonymous sender can make this process do. The rules:

- A cached key is answered at once: it never waits behind a fetch (no lock is held across a request).
- Single flight: concurrent callbacks for one key URL share one fetch, with a short overall timeout.
- Failures are cached too (briefly for "retry later", longer for a definite refusal), so a flood naming
  a dead or hostile URL costs one fetch per interval, not one per callback.
- At most ``max_concurrent`` fetches run in the process; beyond that a callback is told to retry later
  instead of queueing.
- Each source address has a small budget of failed fetches (token bucket); once spent, its callbacks that
  would need a fetch are told to retry later. Cache hits and successful fetches cost nothing.

"Retry later" is HTTP 429 with ``Retry-After``: ConnectWise retries 404/409/419/429 only, never a 5xx.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from autotriage.core.errors import WebhookRejected

RETRY_LATER = 429
T = TypeVar("T")


def retry_later(reason: str, message: str, retry_after_s: float) -> WebhookRejected:
    """A rejection the PSA should retry (429 with ``Retry-After``)."""
    return WebhookRejected(RETRY_LATER, reason, message, retry_after_s=retry_after_s)


class TokenBuckets:
    """Per-source token buckets (bounded number of sources, least recently used evicted)."""

    def __init__(self, rate_per_s: float, burst: float, capacity: int = 10_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._capacity = capacity

    def _tokens(self, source: str, now: float) -> float:
        tokens, last = self._buckets.get(source, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate_per_s)

    def has_token(self, source: str, reserved: int = 0) -> bool:
        """Whether ``source`` has a token left beyond ``reserved`` ones (takes none)."""
        return self._tokens(source, time.monotonic()) >= reserved + 1.0

    def charge(self, source: str) -> None:
        """Take one token from ``source`` (its bucket may go empty, never below zero)."""
        now = time.monotonic()
        self._buckets[source] = (max(0.0, self._tokens(source, now) - 1.0), now)
        self._buckets.move_to_end(source)
        while len(self._buckets) > self._capacity:
            self._buckets.popitem(last=False)


class FetchGate:
    """Admission of key fetches: a bound on concurrent fetches, and a budget per source address that only
    failed fetches (callbacks no key can verify) spend, so a sender of unsigned callbacks is soon refused
    while a PSA whose keys fetch fine is never limited.

    Plain counters (no asyncio primitives), so one gate can serve every tenant of a process."""

    def __init__(
        self, max_concurrent: int = 8, failures_per_minute: float = 6.0, failure_burst: float = 10.0
    ) -> None:
        self.max_concurrent = max_concurrent
        self.running = 0
        self.sources = TokenBuckets(failures_per_minute / 60.0, failure_burst)
        self._in_flight: Counter[str] = Counter()  # fetches per source: each may still fail and spend

    def admit(self, source: str) -> None:
        """Start one fetch for ``source`` or raise a retry-later rejection."""
        if source and not self.sources.has_token(source, reserved=self._in_flight[source]):
            raise retry_later(
                "key_fetch_rate_limited", "too many unverifiable callbacks from this address; retry later", 30.0
            )
        if self.running >= self.max_concurrent:
            raise retry_later("key_fetch_busy", "too many signing-key fetches in progress; retry later", 5.0)
        self.running += 1
        if source:
            self._in_flight[source] += 1

    def release(self, source: str) -> None:
        """A fetch admitted by :meth:`admit` finished."""
        self.running = max(0, self.running - 1)
        if source and self._in_flight[source] > 0:
            self._in_flight[source] -= 1
            if not self._in_flight[source]:
                del self._in_flight[source]

    def failed(self, source: str) -> None:
        """A fetch started for ``source`` failed: spend from its budget."""
        if source:
            self.sources.charge(source)


@dataclass(frozen=True)
class _Failure:
    status: int
    reason: str
    message: str
    retry_after_s: float | None
    until: float


class SigningKeys:
    """Cached signing keys per key URL, fetched with :func:`fetch` under the rules in the module doc."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[str]],
        *,
        gate: FetchGate,
        timeout_s: float = 4.0,
        ttl_s: float = 3600.0,
        retry_failure_ttl_s: float = 10.0,
        refusal_ttl_s: float = 60.0,
        capacity: int = 256,
    ) -> None:
        self._fetch = fetch
        self._gate = gate
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._retry_failure_ttl_s = retry_failure_ttl_s
        self._refusal_ttl_s = refusal_ttl_s
        self._capacity = capacity
        self._keys: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._failures: OrderedDict[str, _Failure] = OrderedDict()
        self._flights: dict[str, asyncio.Future[str]] = {}

    def cached(self, key_url: str) -> str | None:
        """The cached key for ``key_url``, if fresh."""
        entry = self._keys.get(key_url)
        if entry is None or entry[1] <= time.monotonic():
            return None
        self._keys.move_to_end(key_url)
        return entry[0]

    async def get(self, key_url: str, source: str = "") -> str:
        """The key behind ``key_url``; raises WebhookRejected (401 refused, 429 retry later)."""
        key = self.cached(key_url)
        if key is not None:
            return key
        failure = self._failures.get(key_url)
        if failure is not None and failure.until > time.monotonic():
            raise WebhookRejected(failure.status, failure.reason, failure.message, failure.retry_after_s)
        flight = self._flights.get(key_url)
        if flight is None:
            self._gate.admit(source)
            flight = asyncio.ensure_future(self._run(key_url, source))
            flight.add_done_callback(_consume_exception)
            self._flights[key_url] = flight
        return await asyncio.shield(flight)

    async def _run(self, key_url: str, source: str) -> str:
        try:
            key = await asyncio.wait_for(self._fetch(key_url), self._timeout_s)
        except TimeoutError as exc:
            rejection = retry_later(
                "key_fetch_unavailable", f"signing key: no answer within {self._timeout_s:g}s", 10.0
            )
            self._remember_failure(key_url, rejection, source)
            raise rejection from exc
        except WebhookRejected as exc:
            self._remember_failure(key_url, exc, source)
            raise
        else:
            self._failures.pop(key_url, None)
            self._keys[key_url] = (key, time.monotonic() + self._ttl_s)
            self._keys.move_to_end(key_url)
            _trim(self._keys, self._capacity)
            return key
        finally:
            self._flights.pop(key_url, None)
            self._gate.release(source)

    def _remember_failure(self, key_url: str, exc: WebhookRejected, source: str) -> None:
        self._gate.failed(source)
        ttl = self._retry_failure_ttl_s if exc.status == RETRY_LATER else self._refusal_ttl_s
        self._failures[key_url] = _Failure(
            exc.status, exc.reason, exc.message, exc.retry_after_s, time.monotonic() + ttl
        )
        self._failures.move_to_end(key_url)
        _trim(self._failures, self._capacity)


def _trim(entries: OrderedDict[str, T], capacity: int) -> None:
    while len(entries) > capacity:
        entries.popitem(last=False)


def _consume_exception(future: asyncio.Future[str]) -> None:
    """Mark a failed fetch's exception as retrieved (every waiter may have gone away)."""
    if not future.cancelled():
        future.exception()
