"""Normalizer: keep only new-ticket events, drop duplicate deliveries, re-read the full ticket from the PSA."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from autotriage.core.bus.topics import TICKETS_NORMALIZED, WEBHOOKS_RAW
from autotriage.core.events import TicketNormalized, WebhookReceived
from autotriage.core.runtime import Output, Stage
from autotriage.psa.base import CREATED
from autotriage.psa.registry import PSAClients


class NormalizerStage(Stage[WebhookReceived]):
    """``webhooks.raw`` -> ``tickets.normalized``."""

    name = "normalizer"
    input_topic = WEBHOOKS_RAW
    event_type = WebhookReceived

    def __init__(self, clients: PSAClients, dedupe_capacity: int = 200_000) -> None:
        self.clients = clients
        self._started: OrderedDict[str, None] = OrderedDict()
        self._capacity = dedupe_capacity

    async def stop(self) -> None:
        await self.clients.close()

    async def handle(self, event: WebhookReceived) -> Sequence[Output]:
        if event.event != CREATED:
            return []
        key = f"{event.tenant}:{event.ticket_id}"
        if key in self._started:  # a second create delivery for the same ticket: already under way
            return []
        ticket = (await self.clients.get(event.tenant).fetch_ticket(event.ticket_id)).capped()
        self._started[key] = None
        while len(self._started) > self._capacity:
            self._started.popitem(last=False)
        normalized = TicketNormalized(**event.envelope_fields(), ticket=ticket)
        return [Output(TICKETS_NORMALIZED, normalized)]
