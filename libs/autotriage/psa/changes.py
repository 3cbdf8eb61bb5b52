"""Who changed a ticket's category: entries of a PSA's audit trail / ticket history, parsed defensively.

None of the three PSAs documents which history entries a category change produces nor the grammar of their
text (UNCONFIRMED everywhere: ConnectWise ``/system/audittrail``, Autotask ``TicketHistory``, Halo
``audit_log``). So entries are recognised by keywords in their type / action / field names and text, the
actor's kind by keywords in its name or source, and anything unrecognised is left out or marked unknown: an
odd shape never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Word beginnings (in an actor's name or an entry's source) that mark a workflow rule, an integration or an API user.
AUTOMATION_WORDS = ("api", "workflow", "integrat", "automat", "script", "rule", "system")
_WORD = re.compile(r"[a-z0-9]+")
_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'|“[^”]*”')


@dataclass(frozen=True)
class CategoryChange:
    """One history entry that touched a ticket's category or scope.

    ``actor`` is who made it as the PSA names them (ConnectWise member identifier, Autotask resource id, Halo
    agent name or id; "" when absent); ``automated`` is True for a workflow rule / API user, False for a person,
    None when it cannot be told; ``scope`` is True when the entry moved the ticket to another board / queue /
    ticket type; ``text`` is the entry's own words, for the report."""

    at: datetime | None
    actor: str
    automated: bool | None
    scope: bool
    text: str = ""


def text_of(value: Any) -> str:
    """A history field as text ("" for null or a non-scalar)."""
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def mentions(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` contains any of ``words`` (case-insensitive substring)."""
    folded = text.casefold()
    return any(word in folded for word in words)


def unquoted(text: str) -> str:
    """The text without its quoted parts (old and new values, e.g. a category named "Keyboard"), so keywords
    match the entry's own words, not the names of the values."""
    return _QUOTED.sub(" ", text)


def looks_automated(*texts: str) -> bool:
    """Whether any word of the texts starts with an automation word (``APIMember``, ``Workflow Rules``)."""
    return any(word.startswith(AUTOMATION_WORDS) for text in texts for word in _WORD.findall(text.casefold()))


def parse_when(value: Any) -> datetime | None:
    """An ISO date of a history entry in UTC (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def by_time(changes: list[CategoryChange]) -> list[CategoryChange]:
    """Oldest first (undated entries first: the PSAs' own order is UNCONFIRMED)."""
    return sorted(changes, key=lambda c: c.at or datetime.min.replace(tzinfo=UTC))
