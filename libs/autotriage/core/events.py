"""Event envelope and payloads passed between stages, with their JSON codec.

Every event carries the envelope (``event_id``, ``schema_version``, ``tenant``, ``psa``, ``ticket_id``,
``occurred_at``, ``attempt``). ``occurred_at`` is the webhook receipt time and is carried unchanged through
the pipeline so the end-to-end latency can be measured at the end. Events are encoded by pydantic-core's
JSON serializer and decoded with ``model_validate_json`` straight from bytes (faster than ``model_dump``
plus orjson for these nested events); orjson only diagnoses a record that fails validation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError

from autotriage.core.errors import PoisonMessage
from autotriage.core.models import Action, Classification, Mode, PSAKind, Taxonomy, TaxonomyRef, Ticket, Usage

SCHEMA_VERSION = 1


def new_event_id() -> str:
    """A random, unique event id."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(default_factory=new_event_id)
    schema_version: StrictInt = SCHEMA_VERSION
    tenant: str
    psa: PSAKind
    ticket_id: str
    occurred_at: AwareDatetime
    attempt: int = 0
    #: An earlier attempt may already have done this ticket's downstream work (the record that produced this
    #: event was a redelivery or a retry); stages that write outside Kafka check before writing again.
    repeat: bool = False

    @property
    def key(self) -> bytes:
        """Partition key: all events of one ticket stay in order on one partition."""
        return f"{self.tenant}:{self.ticket_id}".encode()

    def envelope_fields(self) -> dict[str, Any]:
        """The envelope of this event, to start the next stage's event with (fresh ``event_id``)."""
        return {
            "tenant": self.tenant,
            "psa": self.psa,
            "ticket_id": self.ticket_id,
            "occurred_at": self.occurred_at,
            "repeat": self.repeat,
        }


class WebhookReceived(Envelope):
    """One ticket event from a verified webhook delivery (a batched delivery becomes several)."""

    delivery_id: str
    event: str
    scope_hint: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


class TicketNormalized(Envelope):
    """A new ticket, re-read from the PSA and mapped to the standard shape."""

    ticket: Ticket


class TicketEnriched(Envelope):
    """A ticket with a reference to the candidate categories valid for its scope (resolved from the compacted
    ``taxonomies`` topic by the classifier)."""

    ticket: Ticket
    taxonomy_ref: TaxonomyRef | None = None
    #: Inline taxonomy of records written before taxonomies were carried by reference (still read, never written).
    taxonomy: Taxonomy | None = None


class TicketClassified(Envelope):
    """A ticket with the classifier's verdict and the mode the writer must honour."""

    ticket: Ticket
    classification: Classification
    mode: Mode
    taxonomy_version: str = ""


class OutcomeRecorded(Envelope):
    """What happened to a ticket: the audit record at the end of the pipeline."""

    action: Action
    reason: str = ""
    #: The mode the verdict was handled in; empty for outcomes decided before classification.
    mode: Mode | Literal[""] = ""
    scope: str = ""
    category: str = ""
    confidence: float = 0.0
    model: str = ""
    usage: Usage = Usage()
    stage: str = "writer"
    detail: str = ""
    finished_at: AwareDatetime = Field(default_factory=utcnow)


E = TypeVar("E", bound=Envelope)


def encode(event: Envelope) -> bytes:
    """Serialise an event to JSON bytes (pydantic-core's serializer: no intermediate dicts)."""
    return event.__pydantic_serializer__.to_json(event)


def decode(raw: bytes, event_type: type[E]) -> E:
    """Decode an event; raise :class:`PoisonMessage` for bytes no retry can fix."""
    try:
        event = event_type.model_validate_json(raw)
    except ValidationError as exc:
        raise _diagnose(raw, event_type, exc) from exc
    if event.schema_version != SCHEMA_VERSION or "schema_version" not in event.model_fields_set:
        raise PoisonMessage(
            "unknown_schema_version",
            f"schema_version {event.schema_version!r} is not supported (this build reads {SCHEMA_VERSION})",
        )
    return event


def _diagnose(raw: bytes, event_type: type[Envelope], exc: ValidationError) -> PoisonMessage:
    """Why a record failed validation: not JSON, another schema version, or the wrong shape."""
    try:
        head = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        return PoisonMessage("undecodable", f"record is not JSON: {err}")
    if not isinstance(head, dict):
        return PoisonMessage("undecodable", "record is not a JSON object")
    version = head.get("schema_version")
    if version != SCHEMA_VERSION:
        return PoisonMessage(
            "unknown_schema_version",
            f"schema_version {version!r} is not supported (this build reads {SCHEMA_VERSION})",
        )
    return PoisonMessage("invalid_event", f"not a valid {event_type.__name__}: {exc}")
