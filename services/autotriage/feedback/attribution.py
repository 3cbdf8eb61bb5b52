"""Who changed autotriage's category: a technician, a workflow rule / API user, a re-scope, or unknown.

Cheapest pattern: the final fields already say whether a ticket kept autotriage's category; the PSA's history
is read only for tickets whose category was changed in the same scope (one call each, at most ``limit`` a
run). A ticket moved to another scope is re-scoped from its final fields alone. History entries made up to
``OWN_WRITE_SLACK`` after autotriage's decision are autotriage's own write (or older): the PSAs do not say
which API member a change came from in a form autotriage can match (UNCONFIRMED), so the decision time is the
line. A failing or unsupported history call makes the ticket "unknown"; it never fails the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from autotriage.core.errors import AutotriageError
from autotriage.core.tenants import Tenant
from autotriage.policy.feedback import Judged, Verdict
from autotriage.psa.base import PSAClient
from autotriage.psa.changes import CategoryChange

log = logging.getLogger(__name__)

#: History entries up to this long after the decision are autotriage's own write (clock skew, retries).
OWN_WRITE_SLACK = timedelta(seconds=60)
#: History calls one feedback run makes at most (Autotask: each counts against 10,000 calls an hour).
DEFAULT_HISTORY_LIMIT = 200
#: History calls a second at most: the feedback job shares the tenant's PSA rate limit with live triage
#: (Halo: ~300 requests per rolling 5 minutes, so per-ticket reads top out near 1 a second).
DEFAULT_HISTORY_RATE = 1.0


class ChangedBy(StrEnum):
    """Who changed a disagreeing ticket's category."""

    TECHNICIAN = "technician"
    AUTOMATION = "workflow_or_api"
    RESCOPED = "rescoped"
    UNKNOWN = "unknown"


def changed_by(item: Judged, changes: Sequence[CategoryChange] | None) -> ChangedBy:
    """Attribute one disagreeing ticket from its history (``None``: history not read or unreadable)."""
    if item.verdict is Verdict.RESCOPED:
        return ChangedBy.RESCOPED
    if changes is None:
        return ChangedBy.UNKNOWN
    line = item.decision.decided_at + OWN_WRITE_SLACK
    after = [c for c in changes if c.at is not None and c.at > line]
    if any(c.scope for c in after):
        return ChangedBy.RESCOPED  # moved to another scope and back: the move reset the category
    if not after:
        return ChangedBy.UNKNOWN
    last = max(after, key=lambda c: c.at or line)
    if last.automated is None:
        return ChangedBy.UNKNOWN
    return ChangedBy.AUTOMATION if last.automated else ChangedBy.TECHNICIAN


def disagreeing(judged: Iterable[Judged]) -> list[Judged]:
    """Tickets whose final category differs from autotriage's (changed in scope, or re-scoped)."""
    return [j for j in judged if j.verdict in (Verdict.CHANGED, Verdict.RESCOPED)]


async def _history(client: PSAClient, ticket_id: str) -> list[CategoryChange] | None:
    try:
        return await client.category_changes(ticket_id)
    except NotImplementedError:
        return None
    except AutotriageError as exc:
        log.info("%s: history of ticket %s unreadable (%s)", client.kind.value, ticket_id, exc.reason)
        return None
    except ValueError as exc:  # an id the PSA's history endpoint cannot take
        log.info("%s: history of ticket %s unreadable (%s)", client.kind.value, ticket_id, exc)
        return None


@dataclass
class Attribution:
    """Who changed each disagreeing ticket (by ticket id) and how many histories were read (one call each,
    unless the PSA's budget stop ended them first)."""

    by_ticket: dict[str, ChangedBy] = field(default_factory=dict)
    calls: int = 0
    limit: int = DEFAULT_HISTORY_LIMIT

    @property
    def counts(self) -> Counter[ChangedBy]:
        """Disagreeing tickets per cause."""
        return Counter(self.by_ticket.values())


async def _paced(client: PSAClient, ticket_ids: list[str], rate: float) -> list[list[CategoryChange] | None]:
    """The histories, the i-th call started no earlier than ``i / rate`` seconds in (``rate <= 0``: at once)."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(index: int, ticket_id: str) -> list[CategoryChange] | None:
        if rate > 0:
            await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        return await _history(client, ticket_id)

    return await asyncio.gather(*(one(i, t) for i, t in enumerate(ticket_ids)))


async def attribute(client: PSAClient, judged: Iterable[Judged], limit: int = DEFAULT_HISTORY_LIMIT,
                    rate: float = 0.0) -> Attribution:
    """Who changed each disagreeing ticket (by ticket id) and how many history calls it took: only tickets
    changed in their own scope cost a call, at most ``limit`` (applied ones first); the rest are unknown. Calls
    start at most ``rate`` a second (``0``: unpaced) and go through the adapter's rate-aware HTTP (retries,
    Retry-After, its concurrency limit)."""
    out: dict[str, ChangedBy] = {}
    to_read: list[Judged] = []
    # applied categories first: who overrode a category autotriage wrote matters most within the limit
    for item in sorted(disagreeing(judged), key=lambda j: j.decision.mode != "apply"):
        if item.verdict is Verdict.RESCOPED:
            out[item.decision.ticket_id] = ChangedBy.RESCOPED
        elif len(to_read) < limit:
            to_read.append(item)
        else:
            out[item.decision.ticket_id] = ChangedBy.UNKNOWN
    histories = await _paced(client, [j.decision.ticket_id for j in to_read], rate)
    for item, changes in zip(to_read, histories, strict=True):
        out[item.decision.ticket_id] = changed_by(item, changes)
    return Attribution(out, len(to_read), limit)


async def attribute_for(tenant: Tenant, judged: Iterable[Judged], limit: int = DEFAULT_HISTORY_LIMIT,
                        rate: float = DEFAULT_HISTORY_RATE) -> Attribution:
    """:func:`attribute` with the tenant's own PSA client (opened and closed here)."""
    from autotriage.psa.registry import make_client  # noqa: PLC0415 - the PSA registry loads every adapter: only when reading

    client = make_client(tenant)
    try:
        return await attribute(client, judged, limit, rate)
    finally:
        await client.close()
