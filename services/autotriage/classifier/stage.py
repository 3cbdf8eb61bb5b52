"""Classifier: apply the tenant's policy (mode), ask the tenant's classifier to pick a candidate, record the
verdict with its tokens and cost."""

from __future__ import annotations

from collections.abc import Sequence

from autotriage.core.bus.topics import TICKETS_CLASSIFIED, TICKETS_ENRICHED
from autotriage.core.errors import PermanentError
from autotriage.core.events import TicketClassified, TicketEnriched
from autotriage.core.models import Classification, Verdict
from autotriage.core.runtime import Output, Stage
from autotriage.core.tenants import TenantsFile
from autotriage.llm.factory import Classifiers
from autotriage.llm.openai_provider import ContentFiltered, QuotaExhausted


class ClassifierStage(Stage[TicketEnriched]):
    """``tickets.enriched`` -> ``tickets.classified``."""

    name = "classifier"
    input_topic = TICKETS_ENRICHED
    event_type = TicketEnriched

    def __init__(self, tenants: TenantsFile, classifiers: Classifiers | None = None) -> None:
        self.tenants = tenants
        self.classifiers = classifiers or Classifiers(tenants)

    async def stop(self) -> None:
        await self.classifiers.close()

    async def handle(self, event: TicketEnriched) -> Sequence[Output]:
        tenant = self.tenants.get(event.tenant)
        if tenant is None:
            raise PermanentError("unknown_tenant", f"tenant {event.tenant!r} is not in the tenants file")
        policy = tenant.policy.for_scope(event.ticket.scope)
        if policy.mode == "off":
            result = Classification(verdict=Verdict.SKIPPED, reason="mode_off")
        else:
            result = await self._classify(event)
        classified = TicketClassified(
            **event.envelope_fields(), ticket=event.ticket, classification=result, mode=policy.mode,
            taxonomy_version=event.taxonomy.version,
        )
        return [Output(TICKETS_CLASSIFIED, classified)]

    async def _classify(self, event: TicketEnriched) -> Classification:
        classifier = self.classifiers.get(event.tenant)
        try:
            return await classifier.classify(event.ticket, event.taxonomy)
        except QuotaExhausted:
            return Classification(verdict=Verdict.NEEDS_HUMAN, reason="llm_quota_exhausted",
                                  reasoning="LLM account out of quota; tenant paused")
        except ContentFiltered:
            return Classification(verdict=Verdict.NEEDS_HUMAN, reason="content_filter",
                                  reasoning="the provider's content filter blocked the prompt")
