"""Event-loop lag: a timer asks to wake up every ``interval_s`` and records how late it woke.

Anything that holds the loop (CPU-heavy text work, a blocking call) delays every tenant's work by that much;
this makes it visible as ``autotriage_event_loop_lag_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from autotriage.core import metrics


class LoopLagMonitor:
    """A small task that measures how late the event loop runs its timers."""

    def __init__(self, interval_s: float = 0.05, keep: int = 10_000) -> None:
        self.interval_s = interval_s
        #: The most recent lags in seconds (for benchmarks and tests).
        self.samples: deque[float] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin measuring on the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        """Stop measuring."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the recorded lags (0 when nothing was recorded)."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, loop.time() - expected)
            self.samples.append(lag)
            metrics.EVENT_LOOP_LAG.observe(lag)
