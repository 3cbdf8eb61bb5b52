"""The one small PSA interface every adapter implements, so no stage has PSA-specific branches."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from autotriage.core.models import Candidate, CategoryState, PSAKind, Taxonomy, Ticket
from autotriage.psa.changes import CategoryChange

#: Webhook event kinds every adapter maps its PSA's events to.
CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
DEACTIVATED = "deactivated"
OTHER = "other"

#: Every note autotriage writes starts its last line with this marker followed by the ticket key; finding
#: it in the ticket's notes makes the note write idempotent and shows the note came from autotriage.
NOTE_MARKER = "[autotriage:"


def note_marker(tenant: str, ticket_id: str) -> str:
    """The idempotency marker for a ticket's note."""
    return f"{NOTE_MARKER}{tenant}:{ticket_id}]"


@dataclass(frozen=True)
class WebhookEvent:
    """One ticket event parsed from a webhook delivery."""

    ticket_id: str
    event: str
    delivery_id: str
    scope_hint: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoricalTicket:
    """A closed, categorized ticket used to train the local model."""

    ticket: Ticket
    path: tuple[str, ...]


@dataclass(frozen=True)
class ClosedTicket:
    """A ticket closed in a time window: its final category and scope, when it closed, and the technician time
    recorded against it (hours; ``None`` when the PSA gave no time)."""

    ticket: Ticket
    closed_at: datetime | None
    hours: float | None = None


_EMAIL = re.compile(r"[^@\s<>\"(),;]{1,64}@[^@\s<>\"(),;]{1,253}")


def email_address(value: object) -> str:
    """``value`` as an e-mail address (trimmed), or "" when it is not one (missing, empty, not a string, not an
    address): PSA contact fields are read defensively, a sender only helps the noise rules."""
    if not isinstance(value, str):
        return ""
    found = _EMAIL.fullmatch(value.strip())
    return found.group(0) if found else ""


def iso_z(when: datetime) -> str:
    """``2026-01-31T08:00:00Z`` (UTC, whole seconds): the date form every PSA's filters accept."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PSAClient(ABC):
    """Talks to one tenant's PSA. Instances are per tenant and hold that tenant's HTTP session."""

    kind: ClassVar[PSAKind]

    @abstractmethod
    async def verify_webhook(self, headers: Mapping[str, str], body: bytes, source: str = "") -> None:
        """Check the delivery's signature or credentials on the raw bytes; raise WebhookRejected (401, or 429
        to retry later). ``source`` is the sender's address, for per-source limits."""

    @abstractmethod
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Parse a verified delivery into ticket events; raise WebhookRejected (400) for bad input."""

    @abstractmethod
    async def fetch_ticket(self, ticket_id: str) -> Ticket:
        """Re-read the full ticket (and its description) from the PSA."""

    async def fetch_current(self, ticket_id: str) -> Ticket:
        """The ticket as it is now, for the writer's re-read before writing: the category must be current;
        adapters may skip what the writer does not need (ConnectWise: the description notes)."""
        return await self.fetch_ticket(ticket_id)

    @abstractmethod
    async def fetch_taxonomy(self, scope: str) -> Taxonomy:
        """The active, valid categories for one scope."""

    @abstractmethod
    async def write_category(self, ticket: Ticket, candidate: Candidate) -> None:
        """Set the ticket's category fields to the candidate (and confirm where the PSA needs it)."""

    @abstractmethod
    async def add_note(self, ticket_id: str, text: str) -> None:
        """Add an internal (not customer-visible, no notification) note."""

    @abstractmethod
    async def has_note_with(self, ticket_id: str, marker: str) -> bool:
        """Whether the ticket already has a note containing ``marker``."""

    def read_category(self, ticket: Ticket) -> CategoryState:
        """The category currently on a ticket (already mapped by ``fetch_ticket``)."""
        return ticket.category

    async def history(self, limit: int | None = None) -> AsyncIterator[HistoricalTicket]:
        """Closed, categorized tickets for training, oldest first (paged within rate limits)."""
        raise NotImplementedError(f"{self.kind.value}: reading history is not supported; use --data FILE")
        yield  # pragma: no cover

    async def closed_since(
        self, since: datetime, until: datetime, *, with_text: bool = False
    ) -> AsyncIterator[ClosedTicket]:
        """Tickets closed in ``[since, until)``, oldest first, each once, with technician hours; paged within the
        PSA's rate limits. ``with_text``: also the description where it costs an extra call (ConnectWise)."""
        raise NotImplementedError(f"{self.kind.value}: reading closed tickets is not supported")
        yield  # pragma: no cover

    async def category_changes(self, ticket_id: str) -> list[CategoryChange]:
        """The ticket's history entries that touched its category or scope, oldest first (one call; the
        recognition of entries is UNCONFIRMED per PSA, see ``psa.changes``). Raises on a failing call."""
        raise NotImplementedError(f"{self.kind.value}: reading a ticket's history is not supported")

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the HTTP session."""
