"""Event envelope and codec: every event type round-trips; bad bytes become a PoisonMessage with a bounded reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import ValidationError

from autotriage.core.errors import PermanentError, PoisonMessage
from autotriage.core.events import (
    SCHEMA_VERSION,
    Envelope,
    OutcomeRecorded,
    TicketClassified,
    TicketEnriched,
    TicketNormalized,
    WebhookReceived,
    decode,
    encode,
)
from autotriage.core.models import (
    Action,
    Candidate,
    CategoryState,
    Classification,
    ConfidenceSource,
    PSAKind,
    Taxonomy,
    Ticket,
    Usage,
    Verdict,
)

WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
BASE = {"tenant": "acme", "psa": PSAKind.HALO, "ticket_id": "4242", "occurred_at": WHEN}
CANDIDATE = Candidate(id="c3", path=("Hardware", "Laptop"), native={"category_1": "Hardware>Laptop"})
TICKET = Ticket(
    id="4242",
    summary="Laptop will not boot",
    description="black screen",
    scope="1",
    category=CategoryState(path=("Network",), native={"category_1": "Network"}),
    created_at=WHEN,
    native={"tickettype_id": 1},
)
TAXONOMY = Taxonomy(tenant="acme", psa=PSAKind.HALO, scope="1", candidates=(CANDIDATE,), fetched_at=WHEN)
CLASSIFICATION = Classification(
    verdict=Verdict.CHOSEN,
    candidate=CANDIDATE,
    confidence=0.91,
    confidence_source=ConfidenceSource.LOGPROBS,
    reasoning="black screen on a laptop",
    model="gpt-4o-mini",
    usage=Usage(prompt_tokens=300, cached_tokens=100, completion_tokens=20, cost_usd=0.0001, calls=1),
)

EVENTS: list[Envelope] = [
    WebhookReceived(**BASE, delivery_id="d-1", event="created", scope_hint="1", payload={"id": "x", "object_id": 4242}),
    TicketNormalized(**BASE, ticket=TICKET, attempt=2),
    TicketEnriched(**BASE, ticket=TICKET, taxonomy=TAXONOMY),
    TicketClassified(**BASE, ticket=TICKET, classification=CLASSIFICATION, mode="apply", taxonomy_version="abc"),
    OutcomeRecorded(**BASE, action=Action.APPLIED, reason="confident", category="Hardware > Laptop", confidence=0.9),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: Envelope) -> None:
    raw = encode(event)
    assert isinstance(raw, bytes)
    back = decode(raw, type(event))
    assert back == event
    assert back.occurred_at == WHEN and back.occurred_at.tzinfo is not None
    assert back.schema_version == SCHEMA_VERSION


def test_key_is_tenant_and_ticket() -> None:
    assert EVENTS[0].key == b"acme:4242"
    assert all(e.key == b"acme:4242" for e in EVENTS)


def test_envelope_fields_carry_occurred_at_with_fresh_event_id() -> None:
    first = EVENTS[1]
    nxt = TicketEnriched(**first.envelope_fields(), ticket=TICKET, taxonomy=TAXONOMY)
    assert nxt.occurred_at == first.occurred_at
    assert nxt.event_id != first.event_id
    assert nxt.attempt == 0


def test_non_utc_offset_preserved_as_instant() -> None:
    east = WHEN.astimezone(timezone(timedelta(hours=2)))
    back = decode(encode(TicketNormalized(**{**BASE, "occurred_at": east}, ticket=TICKET)), TicketNormalized)
    assert back.occurred_at == WHEN


def test_naive_occurred_at_rejected_at_construction() -> None:
    with pytest.raises(ValidationError):
        TicketNormalized(**{**BASE, "occurred_at": datetime(2026, 3, 1, 9, 30)}, ticket=TICKET)


def test_naive_occurred_at_rejected_on_decode() -> None:
    data = orjson.loads(encode(EVENTS[1]))
    data["occurred_at"] = "2026-03-01T09:30:15"
    with pytest.raises(PoisonMessage) as caught:
        decode(orjson.dumps(data), TicketNormalized)
    assert caught.value.reason == "invalid_event"


@pytest.mark.parametrize("raw", [b"\x00\xffnot json", b"", b"{broken", b"[1, 2]", b'"text"', b"42", b"null"])
def test_undecodable(raw: bytes) -> None:
    with pytest.raises(PoisonMessage) as caught:
        decode(raw, TicketNormalized)
    assert caught.value.reason == "undecodable"


@pytest.mark.parametrize("version", [99, None, "1", 0])
def test_unknown_schema_version(version: object) -> None:
    data = orjson.loads(encode(EVENTS[1]))
    if version is None:
        del data["schema_version"]
    else:
        data["schema_version"] = version
    with pytest.raises(PoisonMessage) as caught:
        decode(orjson.dumps(data), TicketNormalized)
    assert caught.value.reason == "unknown_schema_version"


@pytest.mark.parametrize(
    "change",
    [
        {"ticket": None},
        {"ticket": {"id": "1"}},
        {"psa": "zendesk"},
        {"tenant": None},
        {"occurred_at": "yesterday"},
    ],
)
def test_wrong_shape_is_invalid_event(change: dict[str, object]) -> None:
    data = {**orjson.loads(encode(EVENTS[1])), **change}
    with pytest.raises(PoisonMessage) as caught:
        decode(orjson.dumps(data), TicketNormalized)
    assert caught.value.reason == "invalid_event"


def test_decoding_as_other_type_is_invalid_event() -> None:
    with pytest.raises(PoisonMessage) as caught:
        decode(encode(EVENTS[0]), TicketClassified)
    assert caught.value.reason == "invalid_event"


def test_poison_message_is_permanent() -> None:
    with pytest.raises(PermanentError):
        decode(b"nope", WebhookReceived)


def test_a_two_megabyte_description_is_capped_so_the_event_stays_small() -> None:
    from autotriage.core.models import MAX_DESCRIPTION_CHARS

    huge = TICKET.model_copy(update={"description": "pasted log line\n" * 130_000})  # about 2 MB
    capped = huge.capped()
    assert len(capped.description) < MAX_DESCRIPTION_CHARS + 100
    assert capped.description.endswith("characters cut]")
    assert TICKET.capped() is TICKET
    event = TicketNormalized(**BASE, ticket=capped)
    assert len(encode(event)) < 80 * 1024
