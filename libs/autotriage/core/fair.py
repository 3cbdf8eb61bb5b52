"""Handler slots shared fairly between tenants, with a cap per tenant and tenants parked for a while.

One tenant's burst, or one tenant whose LLM or PSA is slow, must not take every slot: a freed slot goes to the
waiting tenant that holds the fewest slots, and no tenant holds more than its cap. A tenant in rate-limit, quota
or outage trouble is *parked* until a time: its records are sent to a retry tier instead of waiting for a slot.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass
class _Waiter:
    tenant: str
    future: asyncio.Future[None]
    since: float = field(default_factory=time.monotonic)


class FairSlots:
    """``slots`` handler slots; each tenant may hold at most ``tenant_cap`` of them."""

    def __init__(self, slots: int, tenant_cap: int | None = None) -> None:
        self.slots = slots
        self.tenant_cap = min(slots, tenant_cap or slots)
        self.held: Counter[str] = Counter()
        self._used = 0
        self._waiting: dict[str, deque[_Waiter]] = {}
        self._parked: dict[str, float] = {}

    # --- parking ------------------------------------------------------------------------------------------
    def park(self, tenant: str, until: float) -> None:
        """Send the tenant's records to the retry tiers until ``until`` (wall clock, seconds)."""
        self._parked[tenant] = max(until, self._parked.get(tenant, 0.0))
        for waiter in self._waiting.pop(tenant, deque()):  # waiting records divert now instead of holding on
            if not waiter.future.done():
                waiter.future.set_exception(Parked(tenant, self._parked[tenant]))

    def parked_until(self, tenant: str) -> float | None:
        """When a parked tenant may run again, or None when it is not parked."""
        until = self._parked.get(tenant)
        if until is None:
            return None
        if until <= time.time():
            del self._parked[tenant]
            return None
        return until

    def parked(self) -> dict[str, float]:
        """Tenants parked now, with the time they may run again."""
        return {t: u for t in list(self._parked) if (u := self.parked_until(t)) is not None}

    # --- slots --------------------------------------------------------------------------------------------
    def waiting(self, tenant: str | None = None) -> int:
        """Records waiting for a slot (of one tenant, or all)."""
        if tenant is not None:
            return len(self._waiting.get(tenant, ()))
        return sum(len(q) for q in self._waiting.values())

    async def acquire(self, tenant: str) -> None:
        """Wait for a slot; raises :class:`Parked` when the tenant is (or becomes) parked meanwhile."""
        until = self.parked_until(tenant)
        if until is not None:
            raise Parked(tenant, until)
        if self._free_for(tenant) and not self._waiting:
            self._grant(tenant)
            return
        waiter = _Waiter(tenant, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(tenant, deque()).append(waiter)
        self._dispatch()
        try:
            await waiter.future
        except BaseException:
            queue = self._waiting.get(tenant)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self._waiting[tenant]
            elif waiter.future.done() and not waiter.future.cancelled() and waiter.future.exception() is None:
                self.release(tenant)  # granted just as it was cancelled: hand the slot on
            raise

    def release(self, tenant: str) -> None:
        """Give a slot back and hand it to the fairest waiter."""
        self._used -= 1
        self.held[tenant] -= 1
        if self.held[tenant] <= 0:
            del self.held[tenant]
        self._dispatch()

    def _free_for(self, tenant: str) -> bool:
        return self._used < self.slots and self.held[tenant] < self.tenant_cap

    def _grant(self, tenant: str) -> None:
        self._used += 1
        self.held[tenant] += 1

    def _dispatch(self) -> None:
        """While slots are free: the waiting tenant holding the fewest slots (then the oldest waiter) goes next."""
        while self._used < self.slots:
            ready = [t for t, q in self._waiting.items() if q and self.held[t] < self.tenant_cap]
            if not ready:
                return
            tenant = min(ready, key=lambda t: (self.held[t], self._waiting[t][0].since))
            queue = self._waiting[tenant]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[tenant]
            if waiter.future.done():
                continue
            self._grant(tenant)
            waiter.future.set_result(None)


class Parked(Exception):
    """The tenant is parked until ``until`` (wall clock): divert the record to a retry tier."""

    def __init__(self, tenant: str, until: float) -> None:
        super().__init__(f"tenant {tenant} parked for {max(0.0, until - time.time()):.0f}s")
        self.tenant = tenant
        self.until = until
