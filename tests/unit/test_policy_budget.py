"""Budgets: day and month caps in USD and tokens, reset at the UTC boundaries, held within one request's cost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from autotriage.core import metrics
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import BUDGET_SPEND, Topics
from autotriage.core.models import Candidate, PSAKind, Taxonomy, Ticket, Usage
from autotriage.core.tenants import DEFAULT_PRICES, Budget, LLMSettings
from autotriage.policy.budget import BudgetLedger, Exhausted, Reservation, estimate_usage
from autotriage.policy.spend_board import SpendBoard, Totals


class FakeClock:
    """A settable UTC clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def usage(usd: float, tokens: int = 100) -> Usage:
    return Usage(prompt_tokens=tokens - 10, completion_tokens=10, cost_usd=usd, calls=1)


async def spend(ledger: BudgetLedger, budget: Budget, usd: float, tokens: int = 100, tenant: str = "acme") -> bool:
    """One classification: reserve, then settle with the real usage. False when the budget refused it."""
    held = await ledger.reserve(tenant, budget, usage(usd, tokens))
    if isinstance(held, Exhausted):
        return False
    await ledger.settle(held, budget, usage(usd, tokens))
    return True


def remaining_usd(tenant: str, period: str) -> float:
    return float(metrics.REGISTRY.get_sample_value("autotriage_budget_remaining_usd",
                                                   {"tenant": tenant, "period": period}) or 0.0)


async def test_daily_usd_cap_and_reset_at_midnight_utc() -> None:
    clock = FakeClock(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    ledger = BudgetLedger(clock)
    budget = Budget(usd_per_day=1.0)
    results = [await spend(ledger, budget, 0.3, tenant="day-t") for _ in range(6)]
    assert results == [True, True, True, True, False, False]  # 0.3, 0.6, 0.9 < 1 -> 4th admitted; then 1.2 >= 1
    assert ledger.spent("day-t", "day") == pytest.approx((1.2, 400))
    exhausted = await ledger.reserve("day-t", budget, usage(0.3))
    assert isinstance(exhausted, Exhausted)
    assert (exhausted.period, exhausted.unit, exhausted.cap) == ("day", "usd", 1.0)
    assert exhausted.spent == pytest.approx(1.2)
    assert remaining_usd("day-t", "day") == 0.0
    clock.advance(minutes=59)
    assert not await spend(ledger, budget, 0.3, tenant="day-t")
    clock.advance(minutes=2)  # 2026-03-05 00:01 UTC: a new day
    assert await spend(ledger, budget, 0.3, tenant="day-t")
    assert ledger.spent("day-t", "day")[0] == pytest.approx(0.3)
    assert remaining_usd("day-t", "day") == pytest.approx(0.7)


async def test_the_day_follows_utc_not_the_local_zone() -> None:
    from datetime import timezone

    clock = FakeClock(datetime(2026, 3, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5))))  # 04:30 UTC on the 5th
    ledger = BudgetLedger(clock)
    budget = Budget(usd_per_day=0.5)
    assert await spend(ledger, budget, 0.6, tenant="tz")
    assert not await spend(ledger, budget, 0.1, tenant="tz")
    clock.advance(hours=20)  # 19:30 local on the 5th = 00:30 UTC on the 6th
    assert await spend(ledger, budget, 0.1, tenant="tz")


async def test_monthly_cap_spans_days_and_resets_on_the_first() -> None:
    clock = FakeClock(datetime(2026, 1, 30, 12, 0, tzinfo=UTC))
    ledger = BudgetLedger(clock)
    budget = Budget(usd_per_day=10.0, usd_per_month=2.0)
    assert await spend(ledger, budget, 1.0, tenant="m")
    clock.advance(days=1)  # Jan 31: the daily counter resets, the monthly one does not
    assert await spend(ledger, budget, 1.0, tenant="m")
    hit = await ledger.reserve("m", budget, usage(0.1))
    assert isinstance(hit, Exhausted) and (hit.period, hit.unit) == ("month", "usd")
    clock.advance(days=1)  # Feb 1
    assert await spend(ledger, budget, 1.0, tenant="m")
    assert ledger.spent("m", "month")[0] == pytest.approx(1.0)


async def test_token_caps() -> None:
    clock = FakeClock(datetime(2026, 5, 31, 10, 0, tzinfo=UTC))
    ledger = BudgetLedger(clock)
    budget = Budget(tokens_per_day=1000, tokens_per_month=1500)
    assert [await spend(ledger, budget, 0.0, 400, tenant="tok") for _ in range(4)] == [True, True, True, False]
    clock.advance(days=1)  # June 1: both reset
    assert [await spend(ledger, budget, 0.0, 600, tenant="tok") for _ in range(3)] == [True, True, False]
    clock.advance(days=1)  # a new day, but June already has 1200 of 1500 tokens
    assert [await spend(ledger, budget, 0.0, 600, tenant="tok") for _ in range(2)] == [True, False]
    assert ledger.spent("tok", "month")[1] == 1800
    labels = {"tenant": "tok", "period": "month"}
    assert metrics.REGISTRY.get_sample_value("autotriage_budget_remaining_tokens", labels) == 0


async def test_concurrent_calls_stay_within_one_request_of_the_cap() -> None:
    """Twenty tickets at once against a cap of about five requests: reservations hold the line."""
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    budget = Budget(usd_per_day=0.05)
    calls = 0

    async def ticket(cost: float) -> None:
        nonlocal calls
        held = await ledger.reserve("conc", budget, usage(0.01))  # the estimate
        if isinstance(held, Exhausted):
            return
        calls += 1
        await asyncio.sleep(0.01)
        await ledger.settle(held, budget, usage(cost))  # the real usage, a bit above the estimate

    await asyncio.gather(*(ticket(0.012) for _ in range(20)))
    spent = ledger.spent("conc", "day")[0]
    assert spent >= 0.05
    assert spent - 0.05 <= 0.012 + 1e-9  # within one request's cost
    assert calls == 5


async def test_a_ticket_waits_for_in_flight_calls_instead_of_being_refused_early() -> None:
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    budget = Budget(usd_per_day=1.0)
    first = await ledger.reserve("wait", budget, usage(0.9))
    second = await ledger.reserve("wait", budget, usage(0.2))  # 0.9 reserved < 1: admitted
    assert isinstance(first, Reservation) and isinstance(second, Reservation)
    third = asyncio.create_task(ledger.reserve("wait", budget, usage(0.1)))  # 1.1 reserved: must wait
    await asyncio.sleep(0.01)
    assert not third.done()
    await ledger.settle(first, budget, usage(0.1))  # the big call was cheap after all
    await ledger.settle(second, budget, usage(0.1))
    assert isinstance(await asyncio.wait_for(third, 1), Reservation)


async def test_strict_never_passes_the_cap() -> None:
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    budget = Budget(usd_per_day=1.0, strict=True)
    assert [await spend(ledger, budget, 0.3, tenant="strict") for _ in range(5)] == [True, True, True, False, False]
    assert ledger.spent("strict", "day")[0] == pytest.approx(0.9)


async def test_replicas_share_one_cap_through_the_spend_topic_and_a_restart_keeps_the_spend() -> None:
    bus, topics = MemoryBus(), Topics("b.")
    clock = lambda: datetime(2026, 3, 4, tzinfo=UTC)  # noqa: E731
    boards = [SpendBoard(bus, topics, replica=f"r{n}") for n in range(3)]
    for board in boards:
        await board.start()
    ledgers = [BudgetLedger(clock, board=board) for board in boards]
    budget = Budget(usd_per_day=1.0)
    admitted = [await spend(ledgers[n % 3], budget, 0.25, tenant="rep") for n in range(6)]
    assert admitted == [True, True, True, True, False, False]  # 4 x 0.25 reach the cap, whichever replica asks
    assert ledgers[2].spent("rep", "day")[0] == pytest.approx(1.0)  # every replica sees the total
    restarted = BudgetLedger(clock, board=SpendBoard(bus, topics, replica="r0-new"))
    await restarted._board.start()  # type: ignore[union-attr]
    assert not await spend(restarted, budget, 0.25, tenant="rep")  # a new process still counts what was spent


async def test_other_replicas_in_flight_reservations_count_against_the_cap() -> None:
    bus, topics = MemoryBus(), Topics("b2.")
    clock = lambda: datetime(2026, 3, 4, tzinfo=UTC)  # noqa: E731
    first, second = SpendBoard(bus, topics, replica="a"), SpendBoard(bus, topics, replica="b")
    await first.start()
    await second.start()
    budget = Budget(usd_per_day=1.0, strict=True)
    one, two = BudgetLedger(clock, board=first), BudgetLedger(clock, board=second)
    held = await one.reserve("inflight", budget, usage(0.8, 100))
    assert isinstance(held, Reservation)
    assert isinstance(await two.reserve("inflight", budget, usage(0.3, 100)), Exhausted)  # 0.8 held elsewhere


async def test_the_board_adds_up_only_the_asking_tenants_replicas_and_follows_deletions() -> None:
    bus, topics = MemoryBus(), Topics("b3.")
    boards = [SpendBoard(bus, topics, replica=f"r{n}") for n in range(3)]
    await boards[0].start()
    for n, board in enumerate(boards):
        for tenant in range(200):  # many tenants and periods: one tenant's question reads its own entries only
            await board.publish(f"t{tenant}", "day:2026-03-04", Totals(usd=0.01 * (n + 1), tokens=10 * (n + 1)))
    await boards[1].publish("t7", "month:2026-03", Totals(usd=5.0))
    assert boards[0].others("t7", "day:2026-03-04") == Totals(usd=pytest.approx(0.05), tokens=50)  # r1 + r2
    assert boards[0].others("t7", "month:2026-03") == Totals(usd=5.0)
    await bus.producer().send(topics.name(BUDGET_SPEND), None, key=b"t7|day:2026-03-04|r2")  # a tombstone
    assert boards[0].others("t7", "day:2026-03-04") == Totals(usd=pytest.approx(0.02), tokens=20)
    late = SpendBoard(bus, topics, replica="late")  # a board started later indexes what is already there
    await late.start()
    assert late.others("t7", "day:2026-03-04") == Totals(usd=pytest.approx(0.03), tokens=30)


async def test_tenants_and_uncapped_budgets_are_independent() -> None:
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    capped = Budget(usd_per_day=0.1)
    assert await spend(ledger, capped, 0.2, tenant="a")
    assert not await spend(ledger, capped, 0.2, tenant="a")
    assert await spend(ledger, capped, 0.05, tenant="b")
    assert all([await spend(ledger, Budget(), 5.0, tenant="c") for _ in range(5)])


async def test_reservation_learns_the_real_cost_per_ticket() -> None:
    """The estimate is a floor: after real usage came in higher, calls hold at least that much."""
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    budget = Budget(usd_per_day=1.0, strict=True)
    held = await ledger.reserve("learn", budget, usage(0.01))
    assert isinstance(held, Reservation) and held.usd == pytest.approx(0.01)
    await ledger.settle(held, budget, usage(0.4))
    held = await ledger.reserve("learn", budget, usage(0.01))
    assert isinstance(held, Reservation) and held.usd == pytest.approx(0.4)
    await ledger.settle(held, budget, usage(0.4))
    assert isinstance(await ledger.reserve("learn", budget, usage(0.01)), Exhausted)  # 0.8 + 0.4 > 1


async def test_exhaustion_is_counted_per_ticket() -> None:
    ledger = BudgetLedger(lambda: datetime(2026, 3, 4, tzinfo=UTC))
    budget = Budget(usd_per_month=0.1)
    labels = {"tenant": "count", "period": "month"}
    before = metrics.REGISTRY.get_sample_value("autotriage_budget_exhausted_total", labels) or 0.0
    await spend(ledger, budget, 0.2, tenant="count")
    for _ in range(3):
        assert not await spend(ledger, budget, 0.2, tenant="count")
    assert metrics.REGISTRY.get_sample_value("autotriage_budget_exhausted_total", labels) == before + 3


def test_estimate_covers_ticket_and_candidates() -> None:
    taxonomy = Taxonomy(
        tenant="acme", psa=PSAKind.HALO, scope="1", fetched_at=datetime(2026, 3, 4, tzinfo=UTC),
        candidates=tuple(Candidate(id=str(i), path=("Hardware", f"Device {i}")) for i in range(100)),
    )
    ticket = Ticket(id="1", scope="1", summary="Laptop will not boot", description="black screen " * 50)
    estimate = estimate_usage(ticket, taxonomy, LLMSettings(), DEFAULT_PRICES["gpt-4o-mini"])
    assert 900 < estimate.prompt_tokens < 2000
    assert estimate.cost_usd == pytest.approx((estimate.prompt_tokens * 0.15 + estimate.completion_tokens * 0.6) / 1e6)
    assert estimate_usage(ticket, taxonomy, LLMSettings(), None).cost_usd == 0.0
