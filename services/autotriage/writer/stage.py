"""Writer: re-read the ticket, decide apply / suggest / skip by policy, write idempotently, record the outcome."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from autotriage.core.bus.topics import TICKETS_CLASSIFIED, TICKETS_OUTCOMES
from autotriage.core.errors import PermanentError
from autotriage.core.events import OutcomeRecorded, TicketClassified
from autotriage.core.models import Mode, Verdict
from autotriage.core.runtime import REDELIVERY, Output, Stage
from autotriage.core.tenants import TenantsFile
from autotriage.policy.decide import Decision, decide
from autotriage.policy.note import render_note
from autotriage.psa.base import note_marker
from autotriage.psa.registry import PSAClients

log = logging.getLogger(__name__)


class WriterStage(Stage[TicketClassified]):
    """``tickets.classified`` -> PSA writes + ``tickets.outcomes``."""

    name = "writer"
    input_topic = TICKETS_CLASSIFIED
    event_type = TicketClassified

    def __init__(self, tenants: TenantsFile, clients: PSAClients) -> None:
        self.tenants = tenants
        self.clients = clients

    async def stop(self) -> None:
        await self.clients.close()

    async def handle(self, event: TicketClassified) -> Sequence[Output]:
        tenant = self.tenants.get(event.tenant)
        if tenant is None:
            raise PermanentError("unknown_tenant", f"tenant {event.tenant!r} is not in the tenants file")
        result = event.classification
        policy = tenant.policy.for_scope(event.ticket.scope)
        if event.mode in (Mode.OFF, Mode.SHADOW) or not _may_write(event):
            decision = decide(policy, event.mode, result, event.ticket.category, event.ticket.category)
            return [self._outcome(event, decision)]
        client = self.clients.get(event.tenant)
        current = await client.fetch_current(event.ticket_id)  # re-read just before writing
        decision = decide(policy, event.mode, result, event.ticket.category, current.category)
        marker = note_marker(event.tenant, event.ticket_id)
        if decision.write_note and event.repeat and await client.has_note_with(event.ticket_id, marker):
            # A repeat after the note was written: the work is done; never write twice. Only a ticket that may
            # have been here before (``repeat``: a retry or a redelivery, here or upstream) costs this PSA call.
            return [self._outcome(event, Decision(decision.action, decision.reason), detail=REDELIVERY)]
        if decision.write_category and result.candidate is not None:
            await client.write_category(current, result.candidate)
        if decision.write_note:
            text = render_note(tenant.note_template, action=decision.action, result=result, mode=event.mode,
                               marker=marker)
            await client.add_note(event.ticket_id, text)
        return [self._outcome(event, decision)]

    def _outcome(self, event: TicketClassified, decision: Decision, detail: str = "") -> Output:
        result = event.classification
        outcome = OutcomeRecorded(
            **event.envelope_fields(), action=decision.action, reason=decision.reason, mode=event.mode,
            scope=event.ticket.scope, category=result.candidate.label if result.candidate else "",
            confidence=result.confidence, model=result.model, usage=result.usage, detail=detail,
        )
        log.info("%s: %s (%s) category=%r confidence=%.2f", event.ticket_id, decision.action.value,
                 decision.reason, outcome.category, outcome.confidence,
                 extra={"tenant": event.tenant, "ticket": event.ticket_id, "category": outcome.category,
                        "confidence": round(outcome.confidence, 4)})
        return Output(TICKETS_OUTCOMES, outcome)


def _may_write(event: TicketClassified) -> bool:
    """Whether this verdict can lead to any PSA write (no re-read is needed when it cannot)."""
    return event.mode in ("suggest", "apply") and event.classification.verdict is not Verdict.SKIPPED
