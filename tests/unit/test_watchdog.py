"""The liveness watchdog: a stage that makes no progress while it has work turns ``/livez`` 503, and healthy
again once it moves. In-memory bus, a real ``ServiceHost`` on a free loopback port, ``stall_after_s=0.5``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import aiohttp
import pytest

from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, WEBHOOKS_RAW, Topics
from autotriage.core.errors import TransientError
from autotriage.core.events import OutcomeRecorded, WebhookReceived, encode, utcnow
from autotriage.core.models import Action, PSAKind
from autotriage.core.runtime import Output, Stage, StageRunner
from autotriage.core.service import ServiceHost

STALL_S = 0.5
TOPICS = Topics("wd.")


class GatedStage(Stage[WebhookReceived]):
    """Handles a record only once ``gate`` is open; the first ``fail_first`` records fail transiently once."""

    name = "watchdog-test"
    input_topic = WEBHOOKS_RAW
    event_type = WebhookReceived

    def __init__(self, *, fail_first: int = 0, retry_after_s: float | None = None) -> None:
        self.gate = asyncio.Event()
        self.handled: list[str] = []
        self.entered = 0
        self._fail_left = fail_first
        self._retry_after_s = retry_after_s

    async def handle(self, event: WebhookReceived) -> Sequence[Output]:
        self.entered += 1
        if self._fail_left > 0 and event.attempt == 0:
            self._fail_left -= 1
            raise TransientError("test_transient", "try again later", retry_after_s=self._retry_after_s)
        await self.gate.wait()
        self.handled.append(event.ticket_id)
        done = OutcomeRecorded(**event.envelope_fields(), action=Action.SKIPPED, reason="test", stage=self.name)
        return [Output(TICKETS_OUTCOMES, done)]


@dataclass
class Harness:
    bus: MemoryBus
    stage: GatedStage
    runner: StageRunner[WebhookReceived]
    url: str
    session: aiohttp.ClientSession

    async def produce(self, count: int) -> None:
        for i in range(count):
            event = WebhookReceived(tenant="acme", psa=PSAKind.HALO, ticket_id=str(i), occurred_at=utcnow(),
                                    delivery_id=f"d{i}", event="created")
            await self.bus.producer().send(TOPICS.name(WEBHOOKS_RAW), encode(event), key=event.key)

    async def livez(self) -> int:
        async with self.session.get(f"{self.url}/livez") as resp:
            return resp.status

    async def wait_livez(self, status: int, timeout: float) -> float:
        """Seconds until ``/livez`` answers ``status``; fails after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await self.livez() == status:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"/livez did not answer {status} within {timeout}s")

    async def stays(self, status: int, seconds: float) -> None:
        """``/livez`` answers ``status`` for ``seconds`` (sampled every 50 ms)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert await self.livez() == status
            await asyncio.sleep(0.05)


async def _harness(stage: GatedStage, *, max_batch: int = 100,
                   retry_delays_s: Sequence[float] = (0.2,)) -> AsyncIterator[Harness]:
    bus = MemoryBus(default_partitions=1)
    await bus.ensure_topics(TOPICS.specs(1))
    runner = StageRunner(stage, bus, TOPICS, max_batch=max_batch, concurrency=4, retry_delays_s=retry_delays_s,
                         stall_after_s=STALL_S, poll_timeout_s=0.05)
    host = ServiceHost(bus, [runner], host="127.0.0.1", port=0, drain_timeout_s=5)
    await host.start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    try:
        yield Harness(bus, stage, runner, f"http://127.0.0.1:{host.bound_port}", session)
    finally:
        stage.gate.set()
        await session.close()
        await host.stop()


@pytest.fixture
async def gated() -> AsyncIterator[Harness]:
    async for harness in _harness(GatedStage(), max_batch=1):
        yield harness


async def test_idle_stage_stays_healthy(gated: Harness) -> None:
    """No input, no lag: being idle for longer than the stall time is not a stall."""
    await gated.stays(200, STALL_S * 3)


async def test_hung_handler_with_lag_turns_unhealthy_then_recovers(gated: Harness) -> None:
    await gated.produce(3)  # max_batch=1: the first record hangs, two more wait behind it
    took = await gated.wait_livez(503, timeout=10)
    assert gated.stage.handled == [] and gated.stage.entered == 1
    assert took >= STALL_S * 0.8, f"unhealthy after {took:.2f}s, before stall_after_s={STALL_S}"
    assert not gated.runner.healthy()
    async with gated.session.get(f"{gated.url}/livez") as resp:
        body = await resp.json()
    assert body == {"status": "unhealthy", "components": ["StageRunner"]}
    async with gated.session.get(f"{gated.url}/metrics") as resp:
        assert 'autotriage_stage_healthy{stage="watchdog-test"} 0.0' in await resp.text()

    gated.stage.gate.set()  # progress resumes
    await gated.wait_livez(200, timeout=10)
    await _until(lambda: len(gated.stage.handled) == 3)
    await gated.stays(200, STALL_S * 2)
    assert gated.runner.healthy()
    assert len(gated.bus.records(TOPICS.name(TICKETS_OUTCOMES))) == 3


async def test_hang_on_the_only_record_after_idle_is_a_stall(gated: Harness) -> None:
    """The common case: the stage was idle (lag 0), one record arrives and its handler never returns."""
    await gated.stays(200, STALL_S * 1.5)
    await gated.produce(1)
    await gated.wait_livez(503, timeout=10)
    gated.stage.gate.set()
    await gated.wait_livez(200, timeout=10)


async def test_waiting_for_a_retry_that_is_not_due_is_not_a_stall() -> None:
    """A record in the retry topic waits for its not-before time (here 2 s, four times the stall time)."""
    stage = GatedStage(fail_first=1, retry_after_s=2.0)
    stage.gate.set()
    async for h in _harness(stage, retry_delays_s=(0.2,)):
        await h.produce(1)
        await _until(lambda: stage.entered >= 1)
        started = time.monotonic()
        while not stage.handled:
            assert await h.livez() == 200, f"unhealthy while waiting for the retry, {time.monotonic() - started:.1f}s"
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.05)
        assert time.monotonic() - started >= 1.5  # the retry honoured its 2 s Retry-After
        await h.stays(200, STALL_S * 2)


async def _until(condition: object, timeout: float = 10) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
