"""Classifier: apply the tenant's policy before any LLM call (mode, noise filter, cleaning and PII redaction of the
prompt text, budget), ask the tenant's classifier to pick a candidate, record the verdict with its tokens and cost.

Each ticket is classified once, across restarts and replicas (``ledger.py``): a second event for a ticket already
classified (a duplicate create delivery that slipped past the normalizer, a redelivery after a rebalance or a
crash) produces only a ``redelivery`` outcome, no second LLM call. When a rebalance hands this replica partitions,
it first reads the ledger to its end, so the marks their previous owner made moments ago count; until it has,
every verdict is flagged ``repeat`` and the writer looks for its earlier note before writing. The taxonomy
arrives by reference and is resolved from the compacted ``taxonomies`` topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from autotriage.classifier.ledger import ClassifiedLedger
from autotriage.classifier.text_pool import TextPool
from autotriage.classifiers import Classifiers
from autotriage.core import metrics
from autotriage.core.bus.base import Bus
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import TICKETS_CLASSIFIED, TICKETS_ENRICHED, TICKETS_OUTCOMES, Topics
from autotriage.core.classifier import FALLBACK_REASON, Classifier
from autotriage.core.errors import ContentFiltered, PermanentError, QuotaExhausted
from autotriage.core.events import OutcomeRecorded, TicketClassified, TicketEnriched
from autotriage.core.models import Action, Classification, Mode, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.runtime import REDELIVERY, Output, Stage
from autotriage.core.taxonomies import TaxonomyStore
from autotriage.core.tenants import Policy, Tenant, TenantsFile
from autotriage.policy.budget import BUDGET_EXHAUSTED, BudgetLedger, Exhausted, estimate_usage, has_caps
from autotriage.policy.spend_board import SpendBoard

log = logging.getLogger(__name__)

#: How long a rebalance may wait for the classify-once ledger to be read to its end (it holds only the new
#: partitions' first records back, not the group).
LEDGER_CATCH_UP_S = 5.0
#: Pause between further attempts while the ledger view is behind.
LEDGER_RETRY_PAUSE_S = 1.0

class ClassifierStage(Stage[TicketEnriched]):
    """``tickets.enriched`` -> ``tickets.classified``."""

    name = "classifier"
    input_topic = TICKETS_ENRICHED
    event_type = TicketEnriched

    def __init__(
        self,
        tenants: TenantsFile,
        classifiers: Classifiers | None = None,
        *,
        bus: Bus | None = None,
        topics: Topics | None = None,
        budgets: BudgetLedger | None = None,
        text_workers: int = 1,
    ) -> None:
        self.tenants = tenants
        self.classifiers = classifiers or Classifiers(tenants)
        bus = bus or MemoryBus()
        topics = topics or Topics()
        self.taxonomies = TaxonomyStore(bus, topics)
        self.ledger = ClassifiedLedger(bus, topics)
        self.board = SpendBoard(bus, topics)
        self.budgets = budgets or BudgetLedger(board=self.board)
        self.text = TextPool(text_workers)  # large tickets' text preparation, off the event loop
        self._ledger_behind = False  # the ledger view may miss marks made by a partition's previous owner
        self._assignments = 0
        self._catching_up: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow the taxonomies, the classify-once ledger and the shared spend."""
        await self.taxonomies.start()
        await self.ledger.start()
        await self.board.start()
        self.text.start()

    async def stop(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            await asyncio.gather(self._catching_up, return_exceptions=True)
        await self.classifiers.close()
        await self.board.close()
        await self.ledger.close()
        await self.taxonomies.close()
        await self.text.close()

    async def on_assigned(self, partitions: set[int]) -> None:
        """Read the ledger to its end before the new partitions' records, so their previous owner's marks count."""
        self._assignments += 1
        if await self.ledger.catch_up(LEDGER_CATCH_UP_S):
            if self._catching_up is None or self._catching_up.done():
                self._ledger_behind = False
            return
        self._ledger_behind = True
        log.warning("the classify-once ledger is not read to its end after %.0f s; verdicts are flagged as possible "
                    "repeats until it is", LEDGER_CATCH_UP_S, extra={"stage": self.name})
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up_later(), name="classifier-ledger-catch-up")

    async def _catch_up_later(self) -> None:
        while True:
            assignments = self._assignments
            if await self.ledger.catch_up(LEDGER_CATCH_UP_S) and assignments == self._assignments:
                self._ledger_behind = False
                log.info("the classify-once ledger is read to its end again", extra={"stage": self.name})
                return
            await asyncio.sleep(LEDGER_RETRY_PAUSE_S)

    async def handle(self, event: TicketEnriched) -> Sequence[Output]:
        tenant = self.tenants.get(event.tenant)
        if tenant is None:
            raise PermanentError("unknown_tenant", f"tenant {event.tenant!r} is not in the tenants file")
        if self.ledger.seen(event.key):  # classified once already: account for the event, spend nothing
            repeat = OutcomeRecorded(**event.envelope_fields(), action=Action.SKIPPED, reason="already_classified",
                                     stage=self.name, detail=REDELIVERY)
            return [Output(TICKETS_OUTCOMES, repeat)]
        if self._ledger_behind and not event.repeat:  # another replica may have classified it moments ago
            event = event.model_copy(update={"repeat": True})
        taxonomy = event.taxonomy if event.taxonomy is not None else await self._taxonomy(event)
        policy = tenant.policy.for_scope(event.ticket.scope)
        mode, result = await self._apply_policy(tenant, policy, event, taxonomy)
        classified = TicketClassified(
            **event.envelope_fields(), ticket=event.ticket, classification=result, mode=mode,
            taxonomy_version=taxonomy.version,
        )
        return [Output(TICKETS_CLASSIFIED, classified)]

    async def acknowledged(self, event: TicketEnriched) -> None:
        """The verdict is durable: remember the ticket as classified."""
        await self.ledger.mark(event.key)

    async def _taxonomy(self, event: TicketEnriched) -> Taxonomy:
        if event.taxonomy_ref is None:
            raise PermanentError("no_taxonomy", f"event {event.event_id} carries no taxonomy reference")
        return await self.taxonomies.resolve(event.taxonomy_ref)

    async def _apply_policy(
        self, tenant: Tenant, policy: Policy, event: TicketEnriched, taxonomy: Taxonomy
    ) -> tuple[Mode, Classification]:
        """The mode the writer must honour and the verdict; every rule here runs before any LLM call."""
        ctx = {"tenant": tenant.id, "ticket": event.ticket_id}
        if policy.mode == Mode.OFF:
            return policy.mode, Classification(verdict=Verdict.SKIPPED, reason="mode_off")
        view = await self.text.view(event.ticket, policy, tenant.llm.ticket_token_budget)
        if (noise := view.noise) is not None:
            metrics.NOISE_FILTERED.labels(tenant.id, noise.kind).inc()
            log.info("noise (%s, %s): not classified", noise.kind, noise.cue, extra=ctx)
            return policy.mode, Classification(verdict=Verdict.SKIPPED, reason=noise.reason)
        ticket = view.ticket  # cleaned once, redacted when the policy says so, trimmed: nothing cleans it again
        for kind, count in view.redactions.items():
            metrics.PII_REDACTIONS.labels(tenant.id, kind.lower()).inc(count)
        budget = tenant.budget
        if not has_caps(budget):
            result = await self._classify(self.classifiers.get(tenant.id), ticket, taxonomy)
            return _fallback_mode(policy.mode, result), result
        estimate = estimate_usage(ticket, taxonomy, tenant.llm, self.tenants.price(tenant.llm.model))
        admitted = await self.budgets.reserve(tenant.id, budget, estimate)
        if isinstance(admitted, Exhausted):
            return await self._over_budget(tenant, policy, ticket, taxonomy)
        usage = Usage()
        try:
            result = await self._classify(self.classifiers.get(tenant.id), ticket, taxonomy)
            usage = result.usage
        finally:
            await self.budgets.settle(admitted, budget, usage)
        return _fallback_mode(policy.mode, result), result

    async def _over_budget(
        self, tenant: Tenant, policy: Policy, ticket: Ticket, taxonomy: Taxonomy
    ) -> tuple[Mode, Classification]:
        """``on_exhausted: local`` -> suggest-only with the local model if there is one; otherwise skip."""
        if tenant.budget.on_exhausted == "local":
            local = self.classifiers.local(tenant.id)
            if local is not None:
                mode = Mode.SUGGEST if policy.mode == Mode.APPLY else policy.mode
                return mode, await self._classify(local, ticket, taxonomy)
        return policy.mode, Classification(verdict=Verdict.SKIPPED, reason=BUDGET_EXHAUSTED)

    @staticmethod
    async def _classify(classifier: Classifier, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        try:
            return await classifier.classify(ticket, taxonomy)
        except QuotaExhausted:
            return Classification(verdict=Verdict.NEEDS_HUMAN, reason="llm_quota_exhausted",
                                  reasoning="LLM account out of quota; tenant paused")
        except ContentFiltered:
            return Classification(verdict=Verdict.NEEDS_HUMAN, reason="content_filter",
                                  reasoning="the provider's content filter blocked the prompt")


def _fallback_mode(mode: Mode, result: Classification) -> Mode:
    """The local model standing in for a failed LLM only suggests: it never applies on its own authority."""
    return Mode.SUGGEST if mode == Mode.APPLY and result.reason == FALLBACK_REASON else mode
