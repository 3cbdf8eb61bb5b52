"""Taxonomy cache: find the active, valid categories of the ticket's scope (cache or PSA) and pass them on by
reference; the taxonomies themselves live in the compacted ``taxonomies`` topic."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from autotriage.core import metrics
from autotriage.core.bus.topics import TICKETS_ENRICHED, TICKETS_NORMALIZED
from autotriage.core.caches import SingleFlight
from autotriage.core.errors import PermanentError
from autotriage.core.events import TicketEnriched, TicketNormalized
from autotriage.core.models import Taxonomy
from autotriage.core.runtime import Output, Stage
from autotriage.core.taxonomies import TaxonomyStore
from autotriage.psa.registry import PSAClients

log = logging.getLogger(__name__)


class TaxonomyCacheStage(Stage[TicketNormalized]):
    """``tickets.normalized`` -> ``tickets.enriched`` (with a taxonomy reference); a taxonomy fetched from the PSA
    is published to the compacted ``taxonomies`` topic (key ``tenant:scope``) before any event refers to it."""

    name = "taxonomy-cache"
    input_topic = TICKETS_NORMALIZED
    event_type = TicketNormalized

    def __init__(self, clients: PSAClients, store: TaxonomyStore, ttl_s: float = 3600.0) -> None:
        self.clients = clients
        self.store = store
        self.ttl_s = ttl_s
        self._cache: SingleFlight[tuple[str, str], Taxonomy] = SingleFlight(ttl_s)

    async def start(self) -> None:
        """Warm the cache from the compacted topic, so a restart does not re-read every taxonomy."""
        await self.store.start()
        now = time.time()
        stored = 0
        for taxonomy in self.store.stored():
            stored += 1
            age = now - taxonomy.fetched_at.timestamp()
            if self.clients.tenants.get(taxonomy.tenant) is not None and age < self.ttl_s:
                self._cache.put((taxonomy.tenant, taxonomy.scope), taxonomy, self.ttl_s - age)
        log.info("taxonomy cache warmed with %d of %d stored taxonomies", len(self._cache), stored)

    async def stop(self) -> None:
        await self.store.close()
        await self.clients.close()

    async def taxonomy(self, tenant: str, scope: str) -> Taxonomy:
        """The cached taxonomy of a scope, fetched on a miss or after the TTL: one fetch per scope at a time,
        however many tickets of that scope arrive together."""
        taxonomy, found = await self._cache.get((tenant, scope), lambda: self._fetch(tenant, scope))
        metrics.TAXONOMY_LOOKUPS.labels(found).inc()
        return taxonomy

    async def _fetch(self, tenant: str, scope: str) -> Taxonomy:
        taxonomy = await self.clients.get(tenant).fetch_taxonomy(scope)
        await self.store.publish(taxonomy)
        log.info("taxonomy %s:%s fetched (%d candidates, version %s)", tenant, scope, len(taxonomy.candidates),
                 taxonomy.version, extra={"tenant": tenant})
        return taxonomy

    def invalidate(self, tenant: str, scope: str) -> None:
        """Forget a scope's taxonomy (e.g. after the PSA rejected a category as invalid)."""
        self._cache.pop((tenant, scope))

    async def handle(self, event: TicketNormalized) -> Sequence[Output]:
        scope = event.ticket.scope
        if not scope:
            raise PermanentError("no_scope", f"ticket {event.ticket_id} has no board/queue/ticket type")
        taxonomy = await self.taxonomy(event.tenant, scope)
        if not taxonomy.candidates:
            raise PermanentError(
                "empty_taxonomy",
                f"scope {scope} of tenant {event.tenant} has no active categories: allow categories for it in the PSA",
            )
        enriched = TicketEnriched(**event.envelope_fields(), ticket=event.ticket, taxonomy_ref=taxonomy.ref())
        return [Output(TICKETS_ENRICHED, enriched)]
