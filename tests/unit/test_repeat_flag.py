"""``repeat``: set on records that may have been handled before (a retry, a partition's backlog at assignment),
carried on in the outputs' envelopes, and the writer's note check runs only for such tickets."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_NORMALIZED, Topics
from autotriage.core.errors import TransientError
from autotriage.core.events import TicketNormalized, decode, encode
from autotriage.core.models import PSAKind, Ticket
from autotriage.core.runtime import Output, RunnerOptions, Stage, StageRunner

TOPICS = Topics("rp.", (0.05, 0.1))
INPUT = TOPICS.name(TICKETS_NORMALIZED)
OUT = "repeat.out"


class Seen(Stage[TicketNormalized]):
    """Remembers the ``repeat`` flag of every event it handles; fails the first attempt of chosen tickets."""

    input_topic = TICKETS_NORMALIZED
    event_type = TicketNormalized

    def __init__(self, fail_once: set[str] | None = None) -> None:
        self.name = f"seen{uuid.uuid4().hex[:8]}"
        self.fail_once = set(fail_once or ())
        self.calls: list[tuple[str, bool]] = []

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        self.calls.append((event.ticket_id, event.repeat))
        if event.ticket_id in self.fail_once:
            self.fail_once.discard(event.ticket_id)
            raise TransientError("psa_unavailable", "503 from the PSA")
        return [Output(OUT, TicketNormalized(**event.envelope_fields(), ticket=event.ticket))]


def event(ticket_id: str) -> TicketNormalized:
    ticket = Ticket(id=ticket_id, summary="s", scope="1")
    return TicketNormalized(tenant="acme", psa=PSAKind.HALO, ticket_id=ticket_id,
                            occurred_at=datetime(2026, 3, 1, tzinfo=UTC), ticket=ticket)


async def produce(bus: MemoryBus, *ids: str) -> None:
    for ticket_id in ids:
        ev = event(ticket_id)
        await bus.producer().send(INPUT, encode(ev), key=ev.key)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def runner(stage: Seen, bus: MemoryBus) -> StageRunner[TicketNormalized]:
    return StageRunner(stage, bus, TOPICS, RunnerOptions(poll_timeout_s=0.02, commit_interval_s=0.02))


async def test_the_backlog_at_assignment_is_a_repeat_and_what_arrives_later_is_not() -> None:
    bus = MemoryBus()
    await produce(bus, "1", "2", "3")  # waiting when the member joins: a previous owner may have handled them
    stage = Seen()
    run = runner(stage, bus)
    await run.start()
    try:
        await until(lambda: len(stage.calls) == 3)
        await produce(bus, "4", "5")
        await until(lambda: len(stage.calls) == 5)
    finally:
        await run.stop()
    assert dict(stage.calls) == {"1": True, "2": True, "3": True, "4": False, "5": False}
    # the flag travels on in the envelope of the outputs
    out = {e.ticket_id: e.repeat for e in (decode(r.value, TicketNormalized) for r in bus.records(TOPICS.name(OUT)))}
    assert out == {"1": True, "2": True, "3": True, "4": False, "5": False}


async def test_a_retried_record_is_a_repeat() -> None:
    bus = MemoryBus()
    stage = Seen(fail_once={"7"})
    run = runner(stage, bus)
    await run.start()
    try:
        await produce(bus, "6")
        await until(lambda: len(stage.calls) == 1)  # the member is assigned and polling
        await produce(bus, "7", "8")
        await until(lambda: len(stage.calls) == 4)
    finally:
        await run.stop()
    assert [c for c in stage.calls if c[0] == "7"] == [("7", False), ("7", True)]
    assert ("8", False) in stage.calls


async def test_a_restarted_member_treats_the_uncommitted_backlog_as_repeats() -> None:
    bus = MemoryBus()
    stage = Seen()
    first = StageRunner(stage, bus, TOPICS, RunnerOptions(poll_timeout_s=0.02, commit_interval_s=3600))
    await first.start()
    await produce(bus, "9")
    await until(lambda: len(stage.calls) == 1)  # assigned and polling
    await produce(bus, "10", "11")
    await until(lambda: len(stage.calls) == 3)
    async def killed(only: object = None) -> None:  # SIGKILL: nothing more is committed
        return None

    first._commit = killed  # type: ignore[method-assign]
    first._stopping.set()
    assert first._task is not None
    first._task.cancel()
    await asyncio.gather(first._task, return_exceptions=True)
    second = runner(stage, bus)
    await second.start()
    try:
        await until(lambda: len(stage.calls) == 6)
    finally:
        await second.stop()
    # nothing was committed: the new member gets 9, 10 and 11 again, as repeats
    assert sorted(stage.calls[1:3]) == [("10", False), ("11", False)]
    assert sorted(stage.calls[3:]) == [("10", True), ("11", True), ("9", True)]
