"""Stage runtime: consume, handle, produce, commit - plus retries, dead letters, health and metrics.

At-least-once: offsets are committed only after every output of the batch was acknowledged by the bus.
Records with the same key (one ticket) are handled in order; different keys run concurrently (bounded).
Transient failures go to ``<input>.retry`` with a growing delay, permanent ones to the dead-letter topic
with error headers, and a ``failed`` outcome is recorded so that no accepted ticket goes unaccounted for.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from autotriage.core import metrics
from autotriage.core.bus.base import Bus, Consumer, Headers, Record, TopicPartition
from autotriage.core.bus.topics import DLQ, TICKETS_OUTCOMES, Topics
from autotriage.core.errors import AutotriageError, ConfigError, PermanentError, PoisonMessage, TransientError
from autotriage.core.events import Envelope, OutcomeRecorded, decode, encode, utcnow
from autotriage.core.models import Action

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Envelope)

HEADER_NOT_BEFORE = "autotriage-not-before-ms"
HEADER_REASON = "autotriage-error-reason"
HEADER_MESSAGE = "autotriage-error-message"
HEADER_STAGE = "autotriage-stage"
HEADER_SOURCE = "autotriage-source"
_OWN_HEADERS = frozenset({HEADER_NOT_BEFORE, HEADER_REASON, HEADER_MESSAGE, HEADER_STAGE, HEADER_SOURCE})
#: ``OutcomeRecorded.detail`` of a repeated outcome after an at-least-once redelivery (not counted again).
REDELIVERY = "redelivery"


@dataclass(frozen=True)
class Output:
    """One event a stage wants produced to a logical topic."""

    topic: str
    event: Envelope


class Stage(ABC, Generic[E]):
    """The logic of one pipeline stage. Subclasses hold only their stage's logic."""

    name: ClassVar[str]
    input_topic: ClassVar[str]
    event_type: type[E]

    async def start(self) -> None:
        """Open clients before the first record."""

    async def stop(self) -> None:
        """Close clients after the last record."""

    @abstractmethod
    async def handle(self, event: E) -> Sequence[Output]:
        """Handle one event; raise TransientError to retry later, PermanentError to dead-letter it."""


@dataclass
class _LoopHealth:
    """Liveness bookkeeping of one consume loop (main and retry each have their own, so that one idle loop
    cannot hide the other's stall)."""

    lag: int = 0
    last_progress: float = field(default_factory=time.monotonic)
    busy: bool = False  # a fetched batch is not committed yet: its records are work waiting, like lag
    waiting: int = 0  # retry records sleeping until their not-before time: scheduled, not stuck

    def stalled(self, now: float, after_s: float) -> bool:
        return (self.lag > 0 or self.busy) and self.waiting == 0 and now - self.last_progress > after_s


def record_outcome_metrics(outcome: OutcomeRecorded) -> None:
    """Count an outcome and observe its end-to-end latency (webhook receipt to now)."""
    metrics.OUTCOMES.labels(outcome.tenant, outcome.psa.value, outcome.action.value, outcome.reason or "-").inc()
    latency = (utcnow() - outcome.occurred_at).total_seconds()
    metrics.END_TO_END.labels(outcome.tenant, outcome.action.value).observe(max(0.0, latency))


class StageRunner(Generic[E]):
    """Runs one stage on a bus: one loop for the input topic and one for its retry topic."""

    def __init__(
        self,
        stage: Stage[E],
        bus: Bus,
        topics: Topics,
        *,
        max_batch: int = 100,
        concurrency: int = 16,
        retry_delays_s: Sequence[float] = (1.0, 5.0, 30.0, 60.0),
        stall_after_s: float = 120.0,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.stage = stage
        self._bus = bus
        self._topics = topics
        self._max_batch = max_batch
        self._semaphore = asyncio.Semaphore(concurrency)
        self._retry_delays = tuple(retry_delays_s)
        self._stall_after_s = stall_after_s
        self._poll_timeout_s = poll_timeout_s
        self._stopping = asyncio.Event()
        self._idle = {False: asyncio.Event(), True: asyncio.Event()}  # by retry_loop: no batch in flight
        for event in self._idle.values():
            event.set()
        self._health = {False: _LoopHealth(), True: _LoopHealth()}  # by retry_loop
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False
        self._labels = stage.name
        #: Set when a consume loop died; ``on_fatal`` (set by the host) is then called once.
        self.failure: BaseException | None = None
        self.on_fatal: Callable[[], None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the stage and its consume loops."""
        await self.stage.start()
        group = f"{self._topics.prefix}{self.stage.name}"
        main = await self._bus.consumer(
            [self._topics.name(self.stage.input_topic)], group, on_revoked=functools.partial(self._on_revoked, False)
        )
        retry = await self._bus.consumer(
            [self._topics.retry(self.stage.input_topic)],
            f"{group}.retry",
            on_revoked=functools.partial(self._on_revoked, True),
        )
        self._tasks = [
            asyncio.create_task(self._loop(main, retry_loop=False), name=f"{self.stage.name}-main"),
            asyncio.create_task(self._loop(retry, retry_loop=True), name=f"{self.stage.name}-retry"),
        ]
        self._ready = True
        metrics.STAGE_HEALTHY.labels(self._labels).set(1)

    async def stop(self) -> None:
        """Stop fetching, let in-flight work finish and commit, then close."""
        self._stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._ready = False
        await self.stage.stop()

    @property
    def ready(self) -> bool:
        """Whether the stage is consuming."""
        return self._ready and all(not t.done() for t in self._tasks)

    def healthy(self) -> bool:
        """Liveness: the loops are alive and the stage is not stuck with work waiting."""
        if any(t.done() and not self._stopping.is_set() for t in self._tasks):
            return False
        now = time.monotonic()
        stalled = any(h.stalled(now, self._stall_after_s) for h in self._health.values())
        metrics.STAGE_HEALTHY.labels(self._labels).set(0 if stalled else 1)
        return not stalled

    async def _on_revoked(self, retry_loop: bool, partitions: set[TopicPartition]) -> None:
        # The loop commits after each batch; waiting for idle means the revoked partitions' work is committed.
        try:
            await asyncio.wait_for(self._idle[retry_loop].wait(), timeout=60)
        except TimeoutError:
            log.warning("rebalance while a batch is still running", extra={"stage": self.stage.name})

    # --- consume loop -------------------------------------------------------------------------------
    async def _loop(self, consumer: Consumer, *, retry_loop: bool) -> None:
        try:
            await self._consume(consumer, retry_loop=retry_loop)
        except Exception as exc:
            # The consumer's position is past records that were not committed: continuing would skip them.
            # Stop instead, so the process restarts from the last commit (at-least-once, nothing lost).
            self.failure = exc
            log.exception("%s loop failed; stopping so the stage restarts from its last commit", self.stage.name)
            if self.on_fatal is not None:
                self.on_fatal()
        finally:
            await consumer.stop()

    async def _commit(self, consumer: Consumer, offsets: dict[TopicPartition, int]) -> None:
        """Commit, riding out a short broker outage (coordinator moving, broker restarting)."""
        for attempt in range(1, 8):
            try:
                await consumer.commit(offsets)
                return
            except Exception as exc:
                if attempt == 7:
                    raise
                log.warning("commit failed (%s), retrying", exc, extra={"stage": self.stage.name})
                await asyncio.sleep(min(8.0, 0.25 * 2**attempt))

    async def _consume(self, consumer: Consumer, *, retry_loop: bool) -> None:
        health = self._health[retry_loop]
        while not self._stopping.is_set():
            records = await consumer.getmany(self._poll_timeout_s, self._max_batch)
            if not records:
                await self._update_lag(consumer, health, idle=True)
                continue
            self._idle[retry_loop].clear()
            health.busy = True
            try:
                metrics.STAGE_CONSUMED.labels(self._labels).inc(len(records))
                await self._process_batch(records, retry_loop=retry_loop)
                await self._bus.producer().flush()
                await self._commit(consumer, _next_offsets(records))
                health.last_progress = time.monotonic()
                metrics.CONSUMER_PROGRESS.labels(self._labels).set(time.time())
            finally:
                health.busy = False
                self._idle[retry_loop].set()
            await self._update_lag(consumer, health, idle=False)

    async def _update_lag(self, consumer: Consumer, health: _LoopHealth, *, idle: bool) -> None:
        try:
            health.lag = await consumer.lag()
        except Exception:  # lag is best effort; the broker may be restarting
            return
        metrics.CONSUMER_LAG.labels(self._labels).set(sum(h.lag for h in self._health.values()))
        if idle and health.lag == 0:
            health.last_progress = time.monotonic()
            metrics.CONSUMER_PROGRESS.labels(self._labels).set(time.time())

    async def _process_batch(self, records: list[Record], *, retry_loop: bool) -> None:
        by_key: dict[bytes | None, list[Record]] = defaultdict(list)
        for record in records:
            by_key[record.key].append(record)
        pending: list[asyncio.Future[Any]] = []

        async def run_key(group: list[Record]) -> None:
            for record in group:
                # wait outside the semaphore: a record not yet due must not block the main loop
                if retry_loop and not await self._wait_until_due(record):
                    pending.append(await self._park(record))  # stopping before it is due: keep it for later
                    continue
                async with self._semaphore:
                    pending.extend(await self._process(record))

        await asyncio.gather(*(run_key(group) for group in by_key.values()))
        if pending:
            await asyncio.gather(*pending)

    async def _process(self, record: Record) -> list[asyncio.Future[Any]]:
        started = time.perf_counter()
        metrics.STAGE_IN_FLIGHT.labels(self._labels).inc()
        try:
            try:
                event = decode(record.value, self.stage.event_type)
            except PoisonMessage as exc:
                return await self._dead_letter(record, None, exc)
            try:
                outputs = await self.stage.handle(event)
            except TransientError as exc:
                return await self._retry(record, event, exc)
            except (PermanentError, ConfigError) as exc:  # no retry fixes these; the message names the fix
                return await self._dead_letter(record, event, exc)
            except Exception as exc:  # a bug or an unexpected library error: retry, then dead-letter
                log.exception("unexpected error", extra=_ctx(self.stage.name, event))
                return await self._retry(record, event, TransientError("unexpected", f"{type(exc).__name__}: {exc}"))
            futures = [await self._send(o.topic, o.event) for o in outputs]
            result = "ok" if outputs else "skipped"
            metrics.STAGE_PROCESSED.labels(self._labels, result).inc()
            return futures
        finally:
            metrics.STAGE_IN_FLIGHT.labels(self._labels).dec()
            metrics.STAGE_DURATION.labels(self._labels).observe(time.perf_counter() - started)

    async def _send(self, logical_topic: str, event: Envelope, headers: Headers = ()) -> asyncio.Future[Any]:
        topic = self._topics.name(logical_topic)
        future = await self._bus.producer().send(topic, encode(event), key=event.key, headers=headers)
        metrics.STAGE_PRODUCED.labels(self._labels, logical_topic).inc()
        if isinstance(event, OutcomeRecorded) and event.detail != REDELIVERY:
            record_outcome_metrics(event)
        return future

    async def _wait_until_due(self, record: Record) -> bool:
        """Sleep until the retry record is due; False when the stage is stopping before that."""
        not_before = record.header(HEADER_NOT_BEFORE)
        if not not_before:
            return True
        delay = int(not_before) / 1000 - time.time()
        if delay <= 0:
            return True
        health = self._health[True]
        health.waiting += 1
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except TimeoutError:
            return True
        finally:
            health.waiting -= 1
            health.last_progress = time.monotonic()  # the stall clock starts when the record is due
        return False

    async def _park(self, record: Record) -> asyncio.Future[Any]:
        """Put a retry record that is not due yet back on the retry topic unchanged (same attempt and due time),
        so a shutdown neither spends an attempt early nor loses it."""
        return await self._bus.producer().send(record.topic, record.value, key=record.key, headers=record.headers)

    async def _retry(self, record: Record, event: Envelope, exc: TransientError) -> list[asyncio.Future[Any]]:
        attempt = event.attempt + 1
        if attempt > len(self._retry_delays):
            gave_up = PermanentError(exc.reason, f"gave up after {event.attempt} retries: {exc.message}")
            return await self._dead_letter(record, event, gave_up)
        delay = max(self._retry_delays[attempt - 1], exc.retry_after_s or 0.0)
        if self._stopping.is_set():
            delay = min(delay, 1.0)
        headers: Headers = (
            (HEADER_NOT_BEFORE, str(int((time.time() + delay) * 1000)).encode()),
            (HEADER_REASON, exc.reason.encode()),
            (HEADER_MESSAGE, exc.message[:500].encode()),
            (HEADER_STAGE, self.stage.name.encode()),
        )
        retry_topic = self._topics.retry(self.stage.input_topic)
        again = event.model_copy(update={"attempt": attempt})
        future = await self._bus.producer().send(retry_topic, encode(again), key=event.key, headers=headers)
        metrics.RETRIES.labels(self._labels, exc.reason).inc()
        metrics.STAGE_PROCESSED.labels(self._labels, "retry").inc()
        log.warning(
            "transient failure, retry %d in %.0fs: %s", attempt, delay, exc.message, extra=_ctx(self.stage.name, event)
        )
        return [future]

    async def _dead_letter(
        self, record: Record, event: Envelope | None, exc: AutotriageError
    ) -> list[asyncio.Future[Any]]:
        headers: Headers = (
            *(h for h in record.headers if h[0] not in _OWN_HEADERS),  # a retry record's headers are stale now
            (HEADER_REASON, exc.reason.encode()),
            (HEADER_MESSAGE, exc.message[:1000].encode()),
            (HEADER_STAGE, self.stage.name.encode()),
            (HEADER_SOURCE, f"{record.topic}/{record.partition}/{record.offset}".encode()),
        )
        dlq = self._topics.name(DLQ)
        futures = [await self._bus.producer().send(dlq, record.value, key=record.key, headers=headers)]
        metrics.DEAD_LETTERS.labels(self._labels, exc.reason).inc()
        metrics.STAGE_PROCESSED.labels(self._labels, "dead_letter").inc()
        log.error("dead-lettered (%s): %s", exc.reason, exc.message, extra=_ctx(self.stage.name, event))
        if event is not None:
            failed = OutcomeRecorded(
                **event.envelope_fields(),
                action=Action.FAILED,
                reason=exc.reason,
                stage=self.stage.name,
                detail=exc.message[:500],
            )
            futures.append(await self._send(TICKETS_OUTCOMES, failed))
        return futures


def _next_offsets(records: list[Record]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = (record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


def _ctx(stage: str, event: Envelope | None) -> dict[str, str]:
    if event is None:
        return {"stage": stage}
    return {"stage": stage, "tenant": event.tenant, "ticket": event.ticket_id}
