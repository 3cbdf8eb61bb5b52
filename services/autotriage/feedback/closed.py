"""Closed tickets from the tenant's PSA, joined with autotriage's decisions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from autotriage.core.errors import ConfigError
from autotriage.core.tenants import Tenant
from autotriage.policy.feedback import Decision, Judged, judge
from autotriage.psa.base import ClosedTicket

_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_span(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w`` -> a time span."""
    match = _SPAN.match(text)
    if match is None:
        raise ConfigError(f"--since {text!r}: use a number and a unit, e.g. 30d, 12h or 2w")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


async def read_closed(tenant: Tenant, since: datetime, until: datetime, *, with_text: bool = False,
                      progress: Callable[[int], None] | None = None) -> list[ClosedTicket]:
    """Every ticket of the tenant closed in ``[since, until)`` (paged by the adapter)."""
    from autotriage.psa.registry import make_client  # noqa: PLC0415 - the PSA registry loads every adapter: only when reading

    client = make_client(tenant)
    out: list[ClosedTicket] = []
    try:
        async for item in client.closed_since(since, until, with_text=with_text):
            out.append(item)
            if progress is not None:
                progress(len(out))
    except NotImplementedError as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        await client.close()
    return out


def join(closed: Iterable[ClosedTicket], decisions: Mapping[str, Decision]) -> list[Judged]:
    """Closed tickets that autotriage decided for, judged (tickets it never saw are left out)."""
    judged = []
    for item in closed:
        decision = decisions.get(item.ticket.id)
        if decision is not None:
            t = item.ticket
            judged.append(judge(decision, t.category.path, t.scope, t.summary, t.description))
    return judged
