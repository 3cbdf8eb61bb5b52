"""Normalizer: keep only new-ticket events, drop duplicate deliveries, re-read the full ticket from the PSA.

An event it drops still ends in an outcome: an ``ignored`` record naming why (every acknowledged delivery
is accounted for)."""

from __future__ import annotations

from collections.abc import Sequence

from autotriage.core.bus.topics import TICKETS_NORMALIZED, TICKETS_OUTCOMES, WEBHOOKS_RAW
from autotriage.core.caches import RecentKeys
from autotriage.core.events import OutcomeRecorded, TicketNormalized, WebhookReceived
from autotriage.core.models import Action
from autotriage.core.runtime import Output, Stage
from autotriage.psa.base import CREATED
from autotriage.psa.registry import PSAClients

#: ``ignored`` reason of a second create event for a ticket already under way (e.g. resent under a new id).
DUPLICATE_TICKET = "duplicate_ticket"


class NormalizerStage(Stage[WebhookReceived]):
    """``webhooks.raw`` -> ``tickets.normalized`` (or an ``ignored`` outcome on ``tickets.outcomes``)."""

    name = "normalizer"
    input_topic = WEBHOOKS_RAW
    event_type = WebhookReceived

    def __init__(self, clients: PSAClients, dedupe_capacity: int = 200_000) -> None:
        self.clients = clients
        self._started: RecentKeys[str] = RecentKeys(dedupe_capacity)

    async def stop(self) -> None:
        await self.clients.close()

    async def handle(self, event: WebhookReceived) -> Sequence[Output]:
        if event.event != CREATED:
            return [_ignored(event, f"not_new_ticket:{event.event}"[:64])]
        key = f"{event.tenant}:{event.ticket_id}"
        if key in self._started:  # a second create delivery for the same ticket: already under way
            return [_ignored(event, DUPLICATE_TICKET)]
        ticket = (await self.clients.get(event.tenant).fetch_ticket(event.ticket_id)).capped()
        self._started.add(key)
        normalized = TicketNormalized(**event.envelope_fields(), ticket=ticket)
        return [Output(TICKETS_NORMALIZED, normalized)]


def _ignored(event: WebhookReceived, reason: str) -> Output:
    outcome = OutcomeRecorded(
        **event.envelope_fields(),
        action=Action.IGNORED,
        reason=reason,
        stage=NormalizerStage.name,
        detail=f"delivery {event.delivery_id}"[:200],
    )
    return Output(TICKETS_OUTCOMES, outcome)
