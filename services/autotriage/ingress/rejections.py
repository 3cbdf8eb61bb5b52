"""Log lines for rejected webhook deliveries, rate-limited so an attack cannot flood the logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("autotriage.ingress.rejected")


class RejectionLog:
    """Logs a rejected delivery (reason, tenant, PSA, remote address), at most ``per_minute`` lines per
    reason; the next line that gets through says how many were left out meanwhile."""

    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._window: dict[str, tuple[float, int, int]] = {}  # reason -> (window start, logged, suppressed)

    def rejected(self, status: int, reason: str, message: str, *, tenant: str, psa: str, remote: str) -> bool:
        """Log one rejection unless its reason is over the rate; returns whether it was logged."""
        now = self._clock()
        start, logged, suppressed = self._window.get(reason, (now, 0, 0))
        if now - start >= 60.0:
            start, logged = now, 0
        if logged >= self.per_minute:
            self._window[reason] = (start, logged, suppressed + 1)
            return False
        self._window[reason] = (start, logged + 1, 0)
        log.warning(
            "webhook rejected with %s (%s): %s", status, reason, message,
            extra={"status": status, "reason": reason, "tenant": tenant[:64], "psa": psa[:32],
                   "remote": remote, "suppressed": suppressed},
        )
        return True
