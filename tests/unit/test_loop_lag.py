"""The event-loop lag monitor: a blocking call on the loop shows up as lag, in samples and in the metric."""

from __future__ import annotations

import asyncio
import time

from autotriage.core import metrics
from autotriage.core.loop_lag import LoopLagMonitor


def _count() -> float:
    return float(metrics.REGISTRY.get_sample_value("autotriage_event_loop_lag_seconds_count") or 0.0)


def _over(bound: str) -> float:
    total = metrics.REGISTRY.get_sample_value("autotriage_event_loop_lag_seconds_count") or 0.0
    below = metrics.REGISTRY.get_sample_value("autotriage_event_loop_lag_seconds_bucket", {"le": bound}) or 0.0
    return float(total - below)


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_a_blocked_loop_is_measured() -> None:
    before, slow_before = _count(), _over("0.05")
    monitor = LoopLagMonitor(interval_s=0.01)
    monitor.start()
    monitor.start()  # idempotent
    await asyncio.sleep(0.05)
    _busy(0.15)  # CPU work on the loop (what a hostile ticket used to do)
    await asyncio.sleep(0.05)
    await monitor.stop()
    assert max(monitor.samples) >= 0.1
    assert monitor.quantile(1.0) == max(monitor.samples) and monitor.quantile(0.0) == min(monitor.samples)
    assert _count() > before and _over("0.05") >= slow_before + 1
    await monitor.stop()  # stopping twice is harmless


def test_no_samples_no_quantile() -> None:
    assert LoopLagMonitor().quantile(0.99) == 0.0
