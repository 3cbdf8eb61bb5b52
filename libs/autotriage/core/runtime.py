"""Stage runtime: continuous consume, handle, produce and commit, with retries, dead letters, health and metrics.

How a record moves (one consumer per stage process, subscribed to the input topic and its retry tiers):

- The poll loop fetches only as many records as the in-flight *window* has room for and starts each at once;
  a full window pauses the partitions instead of blocking the loop, and the loop never sleeps on a record.
- Records of one key (one ticket) run in order; different keys run concurrently on fair handler slots: a freed
  slot goes to the tenant holding the fewest, no tenant holds more than its cap, and a tenant whose PSA or LLM
  is rate limited or down is *parked* - its records go to a retry tier untried instead of waiting for a slot.
- Each partition commits, every ``commit_interval_s``, the highest offset below which every record is handled
  and its outputs are acknowledged (at-least-once, nothing skipped).
- Transient failures go to ``<input>.retry.<tier>`` with a due time (``Retry-After`` capped at the longest tier);
  a retry partition whose head is not due is paused and re-read from that record when it is due. Permanent
  failures, outputs the bus refuses (too large) and records out of attempts go to the dead-letter topic with a
  reason, and a ``failed`` outcome is recorded, so no accepted ticket goes unaccounted for.
- An event whose record may have been handled before - a retry, or a record this member found in its partition's
  backlog when it was assigned the partition (the previous owner may have handled it without committing) - is
  handed to the stage with ``repeat`` set, and the flag travels on in its outputs' envelopes; records produced
  after the assignment were never fetched by another member. Stages with side effects outside Kafka (the
  writer's PSA note) check for earlier work only when it is set.
- On a rebalance the revoked partitions start nothing new, their in-flight records get a little less than the
  group's rebalance timeout to finish, what is complete is committed, the rest is dropped (redelivered to the
  new owner); a commit the group rejects is not retried.
- Liveness is the poll loop's own heartbeat, so a stage that is slow because its LLM or PSA is slow stays alive;
  readiness is having joined the group. Everything runs in one ``TaskGroup``: nothing outlives the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from prometheus_client import Counter, Gauge

from autotriage.core import metrics
from autotriage.core.bus.base import Bus, CommitRejected, Consumer, Headers, OutputRejected, Record, TopicPartition
from autotriage.core.bus.topics import DLQ, TICKETS_OUTCOMES, Topics
from autotriage.core.errors import AutotriageError, ConfigError, PermanentError, PoisonMessage, TransientError
from autotriage.core.events import Envelope, OutcomeRecorded, decode, encode, utcnow
from autotriage.core.fair import FairSlots, Parked
from autotriage.core.models import Action
from autotriage.core.offsets import PartitionOffsets

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
#: Reason header of a record sent to a retry tier untried because its tenant was parked.
TENANT_PARKED = "tenant_parked"


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

    async def on_assigned(self, partitions: set[int]) -> None:
        """Input partitions this process now owns (to load per-partition state); called before their records."""

    @abstractmethod
    async def handle(self, event: E) -> Sequence[Output]:
        """Handle one event; raise TransientError to retry later, PermanentError to dead-letter it."""

    async def acknowledged(self, event: E) -> None:
        """The outputs of ``event`` are acknowledged by the bus (record durable state that must follow them)."""


@dataclass(frozen=True)
class RunnerOptions:
    """How a stage consumes (see the module docstring); the defaults suit a production stage."""

    window: int = 256
    concurrency: int = 16
    tenant_cap: int | None = None
    max_attempts: int = 6
    handle_timeout_s: float = 120.0
    commit_interval_s: float = 1.0
    poll_timeout_s: float = 0.1
    liveness_timeout_s: float = 60.0
    revoke_wait_s: float = 45.0
    drain_timeout_s: float = 25.0


@dataclass(frozen=True)
class _Diverted:
    """The record went to a retry tier or the dead-letter topic instead: these are those sends."""

    acks: list[asyncio.Future[Any]]


class _Fenced(Exception):
    """The member lost its group generation while the record waited: do not start it."""


class _FatalBusError(Exception):
    """An output could be neither produced nor dead-lettered: stop, so the process restarts from its commit."""


@dataclass
class _InFlight:
    record: Record
    offsets: PartitionOffsets
    task: asyncio.Task[None] | None = None
    handling: bool = False  # holds a slot: on revoke it gets time to finish instead of being dropped at once
    repeat: bool = True  # may have been handled before (see ``StageRunner._may_repeat``)


def record_outcome_metrics(outcome: OutcomeRecorded) -> None:
    """Count an outcome and observe its end-to-end latency (webhook receipt to now)."""
    metrics.OUTCOMES.labels(outcome.tenant, outcome.psa.value, outcome.action.value, outcome.reason or "-").inc()
    latency = (utcnow() - outcome.occurred_at).total_seconds()
    metrics.END_TO_END.labels(outcome.tenant, outcome.action.value).observe(max(0.0, latency))


def tenant_of(key: bytes | None) -> str:
    """The tenant of a record from its key ``tenant:ticket`` (no decoding needed)."""
    if not key:
        return "-"
    return key.split(b":", 1)[0].decode("utf-8", "replace")


class StageRunner(Generic[E]):
    """Runs one stage on a bus (see the module docstring)."""

    def __init__(self, stage: Stage[E], bus: Bus, topics: Topics, options: RunnerOptions | None = None) -> None:
        self.stage = stage
        self._bus = bus
        self._topics = topics
        self.options = opts = options or RunnerOptions()
        self._slots = FairSlots(opts.concurrency, opts.tenant_cap)
        self._input = topics.name(stage.input_topic)
        self._retry_topics = set(topics.retry_topics(stage.input_topic))
        self._labels = stage.name
        self._stopping = asyncio.Event()
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._offsets: dict[TopicPartition, PartitionOffsets] = {}
        self._in_flight: dict[asyncio.Task[None], _InFlight] = {}
        self._key_tail: dict[bytes | None, asyncio.Future[None]] = {}
        self._retry_paused: dict[TopicPartition, float] = {}  # partition -> wall-clock time its head is due
        #: input partition -> first offset no other member can have fetched (its end when it was assigned to this
        #: member, or at the first fetch when the bus could not tell)
        self._fresh_from: dict[TopicPartition, int] = {}
        self._backlog_unknown: set[TopicPartition] = set()  # assigned, end not asked yet
        self._window_paused = False
        self._revoking: set[TopicPartition] = set()
        #: The group rejected a commit: this member lost its generation (evicted, e.g. CPU-starved past the
        #: session timeout). Until it is assigned partitions again it starts nothing: the group has handed its
        #: records to another member already.
        self._fenced = False
        self._joined = False
        self._beat = time.monotonic()
        self._commit_failing_since: float | None = None
        self._next_lag = 0.0
        self._parked_shown: set[str] = set()
        # metric children looked up once, not per record
        self._m_consumed = metrics.STAGE_CONSUMED.labels(self._labels)
        self._m_in_flight = metrics.STAGE_IN_FLIGHT.labels(self._labels)
        self._m_duration = metrics.STAGE_DURATION.labels(self._labels)
        self._m_processed: dict[str, Counter] = {}
        self._m_produced: dict[str, Counter] = {}
        self._m_tenant: dict[str, tuple[Gauge, Gauge]] = {}  # tenant -> (waiting, in flight)
        #: Set when the consume loop died; ``on_fatal`` (set by the host) is then called once.
        self.failure: BaseException | None = None
        self.on_fatal: Callable[[], None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the stage and its consume loop."""
        await self.stage.start()
        group = f"{self._topics.prefix}{self.stage.name}"
        self._consumer = await self._bus.consumer(
            [self._input, *sorted(self._retry_topics)], group, on_revoked=self._on_revoked,
            on_assigned=self._on_assigned,
        )
        self._task = asyncio.create_task(self._loop(self._consumer), name=f"{self.stage.name}-consume")
        metrics.STAGE_HEALTHY.labels(self._labels).set(1)

    async def stop(self) -> None:
        """Stop fetching, let in-flight work finish (bounded) and commit it, then close."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._joined = False
        await self.stage.stop()

    @property
    def ready(self) -> bool:
        """Readiness: the consumer has joined its group (it may own no partition: more replicas than partitions)."""
        return self._joined and self._task is not None and not self._task.done()

    def healthy(self) -> bool:
        """Liveness: the poll loop is alive and polling, and commits are not failing for long. Slow handlers (a
        slow LLM or PSA) do not count: they hold slots, not the loop."""
        if self._task is not None and self._task.done() and not self._stopping.is_set():
            ok = False
        else:
            now = time.monotonic()
            failing = self._commit_failing_since is not None and now - self._commit_failing_since > 300
            ok = now - self._beat < self.options.liveness_timeout_s and not failing
        metrics.STAGE_HEALTHY.labels(self._labels).set(1 if ok else 0)
        return ok

    @property
    def in_flight(self) -> int:
        """Records fetched and not finished."""
        return len(self._in_flight)

    # --- rebalance ----------------------------------------------------------------------------------
    async def _on_assigned(self, partitions: set[TopicPartition]) -> None:
        self._fenced = False
        for tp in partitions:
            self._fresh_from.pop(tp, None)
            if tp not in self._offsets:
                self._offsets[tp] = PartitionOffsets()
        own = {p for t, p in partitions if t == self._input}
        if own:
            self._backlog_unknown |= {(self._input, p) for p in own}
            if self._consumer is not None:
                await self._note_backlog(self._consumer)
            await self.stage.on_assigned(own)
        self._joined = True

    async def _note_backlog(self, consumer: Consumer) -> None:
        """Remember where each newly assigned input partition ends: only records below that can have been
        fetched by its previous owner. Ends the bus cannot tell come from the first fetch (``_may_repeat``)."""
        partitions, self._backlog_unknown = self._backlog_unknown & consumer.assignment(), set()
        try:
            async with asyncio.timeout(5.0):  # within a rebalance: never hold the group up for long
                self._fresh_from.update(await consumer.end_offsets(partitions))
        except Exception as exc:  # the first fetch's end is the (more cautious) fallback
            log.info("end offsets not known at assignment (%s); the first fetch's are used", exc,
                     extra={"stage": self.stage.name})

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Start nothing new on the revoked partitions, give their running records a bounded time, commit what is
        complete, drop the rest (the new owner reads it again)."""
        self._revoking |= partitions
        try:
            mine = [f for f in self._in_flight.values() if (f.record.topic, f.record.partition) in partitions]
            for flight in mine:
                if not flight.handling and flight.task is not None:
                    flight.task.cancel()
            running = [f.task for f in mine if f.task is not None and not f.task.done()]
            if running:
                await asyncio.wait(running, timeout=self.options.revoke_wait_s)
            await self._commit(only=partitions)
            dropped = [f.task for f in mine if f.task is not None and not f.task.done()]
            for task in dropped:
                task.cancel()
            metrics.REBALANCES.labels(self._labels, "completed").inc(len(mine) - len(dropped))
            if dropped:
                metrics.REBALANCES.labels(self._labels, "dropped").inc(len(dropped))
                log.warning("rebalance: %d in-flight records dropped (redelivered to the new owner)", len(dropped),
                            extra={"stage": self.stage.name})
        finally:
            for tp in partitions:
                self._offsets.pop(tp, None)
                self._retry_paused.pop(tp, None)
                self._fresh_from.pop(tp, None)
                self._backlog_unknown.discard(tp)
            self._revoking -= partitions

    # --- consume loop -------------------------------------------------------------------------------
    async def _loop(self, consumer: Consumer) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                await self._poll(consumer)
                await self._drain()
                self._cancel_all()
        except BaseException as exc:
            failure = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) and exc.exceptions else exc
            if isinstance(failure, asyncio.CancelledError):
                raise
            # The consumer's position is past records that were not committed: continuing would skip them.
            # Stop instead, so the process restarts from the last commit (at-least-once, nothing lost).
            self.failure = failure
            log.error("%s consume loop failed (%s: %s); stopping so the stage restarts from its last commit",
                      self.stage.name, type(failure).__name__, failure, exc_info=failure)
            if self.on_fatal is not None:
                self.on_fatal()
        finally:
            self._tg = None
            try:
                await self._commit()
            except Exception:  # best effort on the way out; uncommitted records are redelivered
                log.warning("final commit failed", extra={"stage": self.stage.name})
            await consumer.stop()

    async def _poll(self, consumer: Consumer) -> None:
        opts = self.options
        next_commit = time.monotonic() + opts.commit_interval_s
        while not self._stopping.is_set():
            self._beat = time.monotonic()
            if self._backlog_unknown:
                await self._note_backlog(consumer)
            self._resume_due(consumer)
            free = opts.window - len(self._in_flight)
            if free <= 0:
                if not self._window_paused:
                    metrics.WINDOW_FULL.labels(self._labels).inc()
                self._window_paused = True
                consumer.pause(consumer.assignment())
            elif self._window_paused:
                self._window_paused = False
                consumer.resume(consumer.assignment() - set(self._retry_paused))
            records = await consumer.getmany(opts.poll_timeout_s, max(1, free))
            if records:
                self._m_consumed.inc(len(records))
                for record in records:
                    self._admit(consumer, record)
            now = time.monotonic()
            if now >= next_commit:
                next_commit = now + opts.commit_interval_s
                await self._commit()
                await self._update_lag(consumer)

    def _admit(self, consumer: Consumer, record: Record) -> None:
        """Start a fetched record, or put a not-yet-due retry partition back to sleep."""
        tp = (record.topic, record.partition)
        offsets = self._offsets.get(tp)
        if offsets is None or self._fenced or tp in self._revoking or tp in self._retry_paused:
            return  # not ours (any more), or behind a retry record that is not due: it is read again later
        if record.topic in self._retry_topics:
            due = _due(record)
            if due > time.time():
                consumer.seek(tp, record.offset)
                consumer.pause({tp})
                self._retry_paused[tp] = due
                return
        offsets.start(record.offset)
        flight = _InFlight(record, offsets, repeat=self._may_repeat(consumer, record))
        if self._tg is None:
            raise RuntimeError("records are admitted only inside the consume loop's task group")
        task = self._tg.create_task(self._run(flight), name=f"{self.stage.name}-{record.offset}")
        flight.task = task
        self._in_flight[task] = flight

    def _may_repeat(self, consumer: Consumer, record: Record) -> bool:
        """Whether an earlier attempt may have handled this record: a retry, or an input record below the end its
        partition had when it was assigned to this member (the previous owner may have handled it without
        committing; the end of the first fetch stands in when that was not known). Unsure counts as a repeat."""
        if record.topic != self._input:
            return True
        tp = (record.topic, record.partition)
        fresh_from = self._fresh_from.get(tp)
        if fresh_from is None:
            end = consumer.highwater(tp)
            if end is None:
                return True
            fresh_from = self._fresh_from[tp] = end
        return record.offset < fresh_from

    def _resume_due(self, consumer: Consumer) -> None:
        if not self._retry_paused:
            return
        now = time.time()
        due = {tp for tp, at in self._retry_paused.items() if at <= now}
        for tp in due:
            del self._retry_paused[tp]
        if due and not self._window_paused:
            consumer.resume(due)

    async def _drain(self) -> None:
        """On stop: let running records finish within the drain timeout; the rest is redelivered after restart."""
        pending = [t for t in self._in_flight if not t.done()]
        if pending:
            log.info("draining %d in-flight records", len(pending), extra={"stage": self.stage.name})
            await asyncio.wait(pending, timeout=self.options.drain_timeout_s)

    def _cancel_all(self) -> None:
        for task in list(self._in_flight):
            task.cancel()

    # --- one record ---------------------------------------------------------------------------------
    async def _run(self, flight: _InFlight) -> None:
        """Handle one record after the previous record of its key, wait for its outputs, mark it complete."""
        record = flight.record
        previous = self._key_tail.get(record.key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._key_tail[record.key] = mine
        try:
            if previous is not None:
                await previous
            try:
                acks, handled = await self._process(flight)
            except _Fenced:
                return  # left uncommitted on purpose: the member rejoins and the group redelivers it
            if acks and not await self._acknowledged(flight, acks):
                handled = None
            if handled is not None:
                try:
                    await self.stage.acknowledged(handled)
                except Exception:  # state after the fact (de-duplication) is best effort, the outputs are out
                    log.exception("after-acknowledgement step failed", extra=_ctx(self.stage.name, handled))
            flight.offsets.complete(record.offset)
        finally:
            if not mine.done():
                mine.set_result(None)
            if self._key_tail.get(record.key) is mine:
                del self._key_tail[record.key]
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.pop(task, None)

    async def _acknowledged(self, flight: _InFlight, acks: list[asyncio.Future[Any]]) -> bool:
        """Wait for the bus to acknowledge a record's outputs (True); a refused output dead-letters the record."""
        results = await asyncio.gather(*acks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if not failures:
            return True
        refused = next((f for f in failures if isinstance(f, OutputRejected)), None)
        if refused is None:
            raise _FatalBusError(f"outputs of {flight.record.topic}/{flight.record.offset} not acknowledged: "
                                 f"{failures[0]!r}") from failures[0]
        event = self._decode_quietly(flight.record)
        dead = await self._dead_letter(flight.record, event, PermanentError("output_rejected", str(refused)))
        again = await asyncio.gather(*dead, return_exceptions=True)
        if any(isinstance(r, BaseException) for r in again):
            raise _FatalBusError(f"could not dead-letter {flight.record.topic}/{flight.record.offset}: {again!r}")
        return False

    def _decode_quietly(self, record: Record) -> E | None:
        try:
            return decode(record.value, self.stage.event_type)
        except PoisonMessage:
            return None

    async def _process(self, flight: _InFlight) -> tuple[list[asyncio.Future[Any]], E | None]:
        """The sends of a record's outputs, and the event when the stage handled it (not retried or dead-lettered)."""
        record = flight.record
        try:
            event = decode(record.value, self.stage.event_type)
        except PoisonMessage as exc:
            return await self._dead_letter(record, None, exc), None
        if flight.repeat and not event.repeat:
            event = event.model_copy(update={"repeat": True})
        tenant = tenant_of(record.key)
        gauge, tenant_in_flight = self._tenant_gauges(tenant)
        gauge.inc()
        try:
            await self._slots.acquire(tenant)
        except Parked as parked:
            return await self._park(record, event, parked.until), None
        finally:
            gauge.dec()
        if self._fenced:  # evicted while this record waited: its new owner handles it
            self._slots.release(tenant)
            raise _Fenced
        flight.handling = True
        started = time.perf_counter()
        self._m_in_flight.inc()
        tenant_in_flight.inc()
        try:
            outputs = await self._handle(record, event, tenant)
            if isinstance(outputs, _Diverted):
                return outputs.acks, None
            try:
                futures = [await self._send(o.topic, o.event) for o in outputs]
            except OutputRejected as exc:
                return await self._dead_letter(record, event, PermanentError("output_rejected", str(exc))), None
            self._processed("ok" if outputs else "skipped").inc()
            return futures, event
        finally:
            self._slots.release(tenant)
            tenant_in_flight.dec()
            self._m_in_flight.dec()
            self._m_duration.observe(time.perf_counter() - started)

    def _tenant_gauges(self, tenant: str) -> tuple[Gauge, Gauge]:
        """The (waiting, in flight) gauges of a tenant in this stage."""
        gauges = self._m_tenant.get(tenant)
        if gauges is None:
            gauges = self._m_tenant[tenant] = (metrics.TENANT_WAITING.labels(self._labels, tenant),
                                               metrics.TENANT_IN_FLIGHT.labels(self._labels, tenant))
        return gauges

    def _processed(self, result: str) -> Counter:
        """The processed-records counter of one result in this stage."""
        counter = self._m_processed.get(result)
        if counter is None:
            counter = self._m_processed[result] = metrics.STAGE_PROCESSED.labels(self._labels, result)
        return counter

    async def _handle(self, record: Record, event: E, tenant: str) -> Sequence[Output] | _Diverted:
        """The stage's outputs, or the sends that retried or dead-lettered the record instead."""
        deadline = asyncio.timeout(self.options.handle_timeout_s)
        try:
            async with deadline:
                return await self.stage.handle(event)
        except TimeoutError as exc:
            limit = self.options.handle_timeout_s
            timed_out = (
                TransientError("handler_timeout", f"not handled within {limit:.0f}s (AUTOTRIAGE_HANDLE_TIMEOUT_S)")
                if deadline.expired()
                else TransientError("timeout", f"{type(exc).__name__}: {exc}")
            )
            return _Diverted(await self._retry(record, event, timed_out))
        except TransientError as exc:
            if exc.tenant_wide:
                self._park_tenant(tenant, exc)
            return _Diverted(await self._retry(record, event, exc))
        except (PermanentError, ConfigError) as exc:  # no retry fixes these; the message names the fix
            return _Diverted(await self._dead_letter(record, event, exc))
        except Exception as exc:  # a bug or an unexpected library error: retry, then dead-letter
            log.exception("unexpected error", extra=_ctx(self.stage.name, event))
            unexpected = TransientError("unexpected", f"{type(exc).__name__}: {exc}")
            return _Diverted(await self._retry(record, event, unexpected))

    # --- outputs ------------------------------------------------------------------------------------
    async def _send(self, logical_topic: str, event: Envelope, headers: Headers = ()) -> asyncio.Future[Any]:
        topic = self._topics.name(logical_topic)
        future = await self._bus.producer().send(topic, encode(event), key=event.key, headers=headers)
        produced = self._m_produced.get(logical_topic)
        if produced is None:
            produced = self._m_produced[logical_topic] = metrics.STAGE_PRODUCED.labels(self._labels, logical_topic)
        produced.inc()
        if isinstance(event, OutcomeRecorded) and event.detail != REDELIVERY:
            record_outcome_metrics(event)
        return future

    def _park_tenant(self, tenant: str, exc: TransientError) -> None:
        tiers = self._topics.retry_tiers_s
        delay = min(max(exc.retry_after_s or 0.0, tiers[0]), tiers[-1])
        until = time.time() + delay
        if self._slots.parked_until(tenant) is None:
            log.warning("tenant parked for %.0fs (%s): its records wait in the retry tiers", delay, exc.reason,
                        extra={"stage": self.stage.name, "tenant": tenant})
        self._slots.park(tenant, until)
        metrics.TENANT_PARKED_UNTIL.labels(self._labels, tenant).set(until)

    async def _park(self, record: Record, event: Envelope, until: float) -> list[asyncio.Future[Any]]:
        """Send a parked tenant's record to the retry tier of its wait, untried: the attempt is not spent."""
        metrics.TENANT_PARKED.labels(self._labels, tenant_of(record.key)).inc()
        return [await self._to_retry_tier(record, event, until - time.time(), until, TENANT_PARKED, "tenant parked")]

    async def _retry(self, record: Record, event: Envelope, exc: TransientError) -> list[asyncio.Future[Any]]:
        attempt = event.attempt + 1
        if attempt >= self.options.max_attempts:
            gave_up = PermanentError(exc.reason, f"gave up after {attempt} attempts: {exc.message}")
            return await self._dead_letter(record, event, gave_up)
        tiers = self._topics.retry_tiers_s
        delay = tiers[min(attempt, len(tiers)) - 1]
        if exc.retry_after_s:
            delay = max(delay, min(exc.retry_after_s, tiers[-1]))  # a server's Retry-After, capped
        again = event.model_copy(update={"attempt": attempt})
        future = await self._to_retry_tier(record, again, delay, time.time() + delay, exc.reason, exc.message)
        metrics.RETRIES.labels(self._labels, exc.reason).inc()
        self._processed("retry").inc()
        log.warning("transient failure, retry %d in %.0fs: %s", attempt, delay, exc.message,
                    extra=_ctx(self.stage.name, event))
        return [future]

    async def _to_retry_tier(
        self, record: Record, event: Envelope, delay: float, due: float, reason: str, message: str
    ) -> asyncio.Future[Any]:
        headers: Headers = (
            (HEADER_NOT_BEFORE, str(int(due * 1000)).encode()),
            (HEADER_REASON, reason.encode()),
            (HEADER_MESSAGE, message[:500].encode()),
            (HEADER_STAGE, self.stage.name.encode()),
        )
        topic = self._topics.retry(self.stage.input_topic, self._topics.tier_for(delay))
        return await self._bus.producer().send(topic, encode(event), key=record.key, headers=headers)

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
        self._processed("dead_letter").inc()
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

    # --- commits and lag ----------------------------------------------------------------------------
    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        """Commit each partition's complete prefix. A commit the group rejects is not retried (the partitions
        moved; their records are redelivered); any other failure is retried at the next interval."""
        consumer = self._consumer
        if consumer is None:
            return
        trackers = {tp: t for tp, t in self._offsets.items() if only is None or tp in only}
        offsets = {tp: o for tp, t in trackers.items() if (o := t.pending()) is not None}
        if not offsets:
            return
        try:
            async with asyncio.timeout(10.0):
                await consumer.commit(offsets)
        except CommitRejected as exc:
            metrics.COMMITS.labels(self._labels, "rejected").inc()
            if only is None:  # outside a revocation: the group moved on without us until we rejoin
                self._fenced = True
            log.warning("commit rejected (%s): the partitions moved to another member; starting nothing until "
                        "this member is assigned partitions again", exc, extra={"stage": self.stage.name})
            return
        except Exception as exc:  # the coordinator moving or a broker restarting: next interval
            metrics.COMMITS.labels(self._labels, "error").inc()
            if self._commit_failing_since is None:
                self._commit_failing_since = time.monotonic()
            log.warning("commit failed (%s: %s); retrying at the next interval", type(exc).__name__, exc,
                        extra={"stage": self.stage.name})
            return
        self._commit_failing_since = None
        for tp, offset in offsets.items():
            trackers[tp].committed(offset)
        metrics.COMMITS.labels(self._labels, "ok").inc()
        metrics.CONSUMER_PROGRESS.labels(self._labels).set(time.time())

    async def _update_lag(self, consumer: Consumer) -> None:
        if time.monotonic() < self._next_lag:
            return
        self._next_lag = time.monotonic() + 5.0
        try:
            lag = await consumer.lag({self._input})  # the retry tiers wait on purpose: not lag
        except Exception:  # lag is best effort; the broker may be restarting
            return
        metrics.CONSUMER_LAG.labels(self._labels).set(lag)
        if lag == 0 and not self._in_flight:  # idle and caught up: that is progress too
            metrics.CONSUMER_PROGRESS.labels(self._labels).set(time.time())
        parked = self._slots.parked()
        for tenant in self._parked_shown - set(parked):
            metrics.TENANT_PARKED_UNTIL.labels(self._labels, tenant).set(0)
        for tenant, until in parked.items():
            metrics.TENANT_PARKED_UNTIL.labels(self._labels, tenant).set(until)
        self._parked_shown = set(parked)


def _due(record: Record) -> float:
    """When a retry record may run (wall clock, seconds)."""
    not_before = record.header(HEADER_NOT_BEFORE)
    try:
        return int(not_before) / 1000 if not_before else 0.0
    except ValueError:
        return 0.0


def _ctx(stage: str, event: Envelope | None) -> dict[str, str]:
    if event is None:
        return {"stage": stage}
    return {"stage": stage, "tenant": event.tenant, "ticket": event.ticket_id}
