"""The pass-through floor's hops on the real broker, for each client: every record arrives on the last topic."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from bench_passthrough import run_passthrough

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("client", ["aiokafka", "librdkafka", "librdkafka-poll", "librdkafka-sync"])
@pytest.mark.parametrize("commit_s", [0.0, 1.0])
async def test_every_record_passes_the_five_hops(kafka_bootstrap: str, topic_prefix: str, client: str,
                                                 commit_s: float) -> None:
    result = await run_passthrough(kafka_bootstrap, topic_prefix, 2, [50.0], 1.0, 200, lambda _: None, idle_s=0.5,
                                   client=client, commit_s=commit_s)
    [at] = result.rates
    assert at.records == 50
    assert at.p50_ms <= at.p99_ms < 10_000
    assert len(at.cpu_ms_per_hop) == 5 and sum(at.cpu_ms_per_hop) > 0  # psutil counts 10 ms ticks
    assert result.burst_per_s > 0 and len(result.cpu_ms_per_hop) == 5
