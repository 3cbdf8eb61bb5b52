"""Per-tenant spending caps (USD and tokens, per UTC day and month), enforced before each LLM call.

How the cap holds "within one request's cost": every call first *reserves* an estimate of its cost and is
admitted only while ``spent + reserved < cap`` (with ``Budget.strict``: ``spent + reserved + estimate <= cap``, so
the cap is never passed). When the cap is reached only because of calls still in flight, the next ticket waits
for them to settle instead of being refused early. After the call the reservation is replaced by the real usage
the provider reported (``Classification.usage``), never by the estimate.

Counters reset lazily at the UTC day and month boundary of the injectable clock. With a :class:`SpendBoard`
(every classifier process has one) the caps hold across replicas and restarts: each replica publishes its spent
and reserved totals to a compacted topic and counts the other replicas' totals against the cap (see
``spend_board.py`` for the worst-case overspend). Without a board (unit tests) the counters are this process's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from autotriage.core import metrics
from autotriage.core.cost import cost_usd
from autotriage.core.models import Taxonomy, Ticket, Usage
from autotriage.core.tenants import Budget, LLMSettings, Price
from autotriage.core.text.prepare import prepare_ticket_text
from autotriage.core.text.tokens import count_tokens
from autotriage.policy.spend_board import SpendBoard, Totals

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DAY = "day"
MONTH = "month"
BUDGET_EXHAUSTED = "budget_exhausted"
#: Instructions, output rules, JSON schema and message framing around the ticket and the candidate list.
PROMPT_OVERHEAD_TOKENS = 450
COMPLETION_TOKENS = 120
_CANDIDATE_TOKENS: dict[tuple[str, str, str], int] = {}


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Exhausted:
    """Which cap stopped a ticket."""

    period: str  # day | month
    unit: str  # usd | tokens
    cap: float
    spent: float


@dataclass(frozen=True)
class Reservation:
    """An admitted call's estimate, held until :meth:`BudgetLedger.settle`."""

    tenant: str
    usd: float
    tokens: int


@dataclass
class _Period:
    key: str = ""
    usd: float = 0.0
    tokens: int = 0


@dataclass
class _Tenant:
    tenant: str
    periods: dict[str, _Period] = field(default_factory=lambda: {DAY: _Period(), MONTH: _Period()})
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    in_flight: int = 0
    typical_usd: float = 0.0
    typical_tokens: float = 0.0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    logged: set[str] = field(default_factory=set)


def _caps(budget: Budget) -> list[tuple[str, str, float]]:
    """(period, unit, cap) for every cap that is set."""
    found = [
        (DAY, "usd", budget.usd_per_day),
        (MONTH, "usd", budget.usd_per_month),
        (DAY, "tokens", budget.tokens_per_day),
        (MONTH, "tokens", budget.tokens_per_month),
    ]
    return [(period, unit, float(cap)) for period, unit, cap in found if cap is not None]


def has_caps(budget: Budget) -> bool:
    """Whether any cap is configured."""
    return bool(_caps(budget))


def tokens_of(usage: Usage) -> int:
    """Billed tokens of a usage (prompt tokens include cached ones, completion tokens include reasoning)."""
    return usage.prompt_tokens + usage.completion_tokens


def estimate_usage(ticket: Ticket, taxonomy: Taxonomy, settings: LLMSettings, price: Price | None) -> Usage:
    """A pre-call estimate of one classification's usage: the trimmed ticket, the candidate list (listed in the
    prompt and again as the schema's enum), fixed overhead and a short answer. Only used to reserve budget."""
    summary, description = prepare_ticket_text(ticket, settings.ticket_token_budget)
    key = (taxonomy.tenant, taxonomy.scope, taxonomy.version)
    listed = _CANDIDATE_TOKENS.get(key)
    if listed is None:
        candidates = taxonomy.candidates[: settings.max_enum]
        listed = count_tokens("\n".join(f"- {c.id}: {c.label}" for c in candidates)) + 2 * len(candidates)
        if len(_CANDIDATE_TOKENS) > 10_000:
            _CANDIDATE_TOKENS.clear()
        _CANDIDATE_TOKENS[key] = listed
    prompt = count_tokens(summary) + count_tokens(description) + listed + PROMPT_OVERHEAD_TOKENS
    return Usage(prompt_tokens=prompt, completion_tokens=COMPLETION_TOKENS,
                 cost_usd=cost_usd(prompt, 0, COMPLETION_TOKENS, price), calls=1)


class BudgetLedger:
    """Spend per tenant and period in this process; admits, refuses or holds LLM calls."""

    def __init__(self, clock: Clock = utc_now, board: SpendBoard | None = None) -> None:
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}
        self._board = board

    async def reserve(self, tenant: str, budget: Budget, estimate: Usage) -> Reservation | Exhausted:
        """Admit one call or say which cap is reached; waits while only in-flight calls stand between the spend
        and the cap. The call holds the larger of ``estimate`` and this tenant's typical observed usage."""
        state = self._state(tenant)
        est_usd = max(estimate.cost_usd, state.typical_usd)
        est_tokens = max(tokens_of(estimate), round(state.typical_tokens))
        async with state.changed:
            while True:
                self._roll(state)
                settled = self._reached(state, budget, est_usd, est_tokens, with_reserved=False)
                if settled is not None:
                    self._report(tenant, budget, state, settled)
                    return settled
                if self._reached(state, budget, est_usd, est_tokens, with_reserved=True) is None:
                    break
                await state.changed.wait()  # only in-flight reservations are in the way: wait for them
            state.reserved_usd += est_usd
            state.reserved_tokens += est_tokens
            state.in_flight += 1
            self._gauges(tenant, budget, state)
        await self._publish(tenant, state)
        return Reservation(tenant, est_usd, est_tokens)

    async def settle(self, reservation: Reservation, budget: Budget, actual: Usage) -> None:
        """Replace a reservation by the usage the provider reported."""
        state = self._state(reservation.tenant)
        async with state.changed:
            self._roll(state)
            state.in_flight -= 1
            if state.in_flight == 0:  # no float residue may keep a waiter waiting
                state.reserved_usd, state.reserved_tokens = 0.0, 0
            else:
                state.reserved_usd = max(0.0, state.reserved_usd - reservation.usd)
                state.reserved_tokens = max(0, state.reserved_tokens - reservation.tokens)
            for period in state.periods.values():
                period.usd += actual.cost_usd
                period.tokens += tokens_of(actual)
            if actual.calls:  # a moving average of what one classification really costs
                weight = 0.3 if state.typical_tokens else 1.0
                state.typical_usd += weight * (actual.cost_usd - state.typical_usd)
                state.typical_tokens += weight * (tokens_of(actual) - state.typical_tokens)
            self._gauges(reservation.tenant, budget, state)
            state.changed.notify_all()
        await self._publish(reservation.tenant, state)

    def spent(self, tenant: str, period: str) -> tuple[float, int]:
        """USD and tokens spent by a tenant in the current day or month (by every replica)."""
        state = self._state(tenant)
        self._roll(state)
        current = state.periods[period]
        others = self._others(tenant, period, current.key)
        return current.usd + others.usd, current.tokens + others.tokens

    def _others(self, tenant: str, period: str, key: str) -> Totals:
        if self._board is None:
            return Totals()
        return self._board.others(tenant, f"{period}:{key}")

    async def _publish(self, tenant: str, state: _Tenant) -> None:
        if self._board is None:
            return
        for period, current in state.periods.items():
            totals = Totals(current.usd, current.tokens, state.reserved_usd, state.reserved_tokens)
            await self._board.publish(tenant, f"{period}:{current.key}", totals)

    # --- internals ----------------------------------------------------------------------------------------
    def _state(self, tenant: str) -> _Tenant:
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = _Tenant(tenant)
        return state

    def _roll(self, state: _Tenant) -> None:
        """Start new counters when the UTC day or month changed."""
        now = self._clock().astimezone(UTC)
        for period, key in ((DAY, now.strftime("%Y-%m-%d")), (MONTH, now.strftime("%Y-%m"))):
            if state.periods[period].key != key:
                state.periods[period] = _Period(key)

    def _reached(
        self, state: _Tenant, budget: Budget, est_usd: float, est_tokens: int, *, with_reserved: bool
    ) -> Exhausted | None:
        """The first cap the spend (plus in-flight reservations, if asked) has reached, or None.

        Default: reached when ``load >= cap`` (a call is admitted while anything is left). ``strict``: reached when
        this call's estimate no longer fits (``load + estimate > cap``)."""
        for period, unit, cap in _caps(budget):
            current = state.periods[period]
            others = self._others(state.tenant, period, current.key)
            spent = current.usd + others.usd if unit == "usd" else float(current.tokens + others.tokens)
            # other replicas' reservations always count: this replica cannot wait for them to settle
            spent += others.reserved_usd if unit == "usd" else others.reserved_tokens
            own_reserved = state.reserved_usd if unit == "usd" else state.reserved_tokens
            load = spent + (own_reserved if with_reserved else 0)
            estimate = est_usd if unit == "usd" else est_tokens
            if (load + estimate > cap) if budget.strict else (load >= cap):
                return Exhausted(period, unit, cap, spent)
        return None

    def _report(self, tenant: str, budget: Budget, state: _Tenant, hit: Exhausted) -> None:
        metrics.BUDGET_EXHAUSTED.labels(tenant, hit.period).inc()
        self._gauges(tenant, budget, state)
        key = f"{hit.period}:{state.periods[hit.period].key}"
        if key not in state.logged:
            state.logged.add(key)
            log.warning(
                "budget reached: %s %s cap %.4g (spent %.4g by all replicas); on_exhausted=%s until the %s resets",
                hit.period, hit.unit, hit.cap, hit.spent, budget.on_exhausted, hit.period, extra={"tenant": tenant},
            )

    @staticmethod
    def _gauges(tenant: str, budget: Budget, state: _Tenant) -> None:
        for period, unit, cap in _caps(budget):
            current = state.periods[period]
            if unit == "usd":
                metrics.BUDGET_REMAINING_USD.labels(tenant, period).set(max(0.0, cap - current.usd))
            else:
                metrics.BUDGET_REMAINING_TOKENS.labels(tenant, period).set(max(0.0, cap - current.tokens))
