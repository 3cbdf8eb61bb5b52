"""Taxonomy cache: attach the active, valid categories of the ticket's scope, from cache or the PSA."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from autotriage.core import metrics
from autotriage.core.bus.base import Bus
from autotriage.core.bus.topics import TAXONOMIES, TICKETS_ENRICHED, TICKETS_NORMALIZED, Topics
from autotriage.core.errors import PermanentError
from autotriage.core.events import TicketEnriched, TicketNormalized
from autotriage.core.models import Taxonomy
from autotriage.core.runtime import Output, Stage
from autotriage.psa.registry import PSAClients

log = logging.getLogger(__name__)


class TaxonomyCacheStage(Stage[TicketNormalized]):
    """``tickets.normalized`` -> ``tickets.enriched``; fetched taxonomies are also written to the compacted
    ``taxonomies`` topic (key ``tenant:scope``) as a durable, inspectable record of what was used."""

    name = "taxonomy-cache"
    input_topic = TICKETS_NORMALIZED
    event_type = TicketNormalized

    def __init__(self, clients: PSAClients, bus: Bus, topics: Topics, ttl_s: float = 3600.0) -> None:
        self.clients = clients
        self.bus = bus
        self.topics = topics
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[Taxonomy, float]] = {}

    async def start(self) -> None:
        """Warm the cache from the compacted topic, so a restart does not re-read every taxonomy."""
        try:
            table = await self.bus.read_table(self.topics.name(TAXONOMIES))
        except Exception as exc:  # a cold cache is only slower, never wrong
            log.warning("could not warm the taxonomy cache: %s", exc)
            return
        now = time.time()
        for value in table.values():
            try:
                taxonomy = Taxonomy.model_validate_json(value)
            except ValueError:
                continue
            age = now - taxonomy.fetched_at.timestamp()
            if self.clients.tenants.get(taxonomy.tenant) is not None and age < self.ttl_s:
                self._cache[(taxonomy.tenant, taxonomy.scope)] = (taxonomy, time.monotonic() + self.ttl_s - age)
        log.info("taxonomy cache warmed with %d of %d stored taxonomies", len(self._cache), len(table))

    async def stop(self) -> None:
        await self.clients.close()

    async def taxonomy(self, tenant: str, scope: str) -> Taxonomy:
        """The cached taxonomy of a scope, fetched on a miss or after the TTL."""
        key = (tenant, scope)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            metrics.TAXONOMY_LOOKUPS.labels("hit").inc()
            return cached[0]
        metrics.TAXONOMY_LOOKUPS.labels("miss" if cached is None else "stale").inc()
        taxonomy = await self.clients.get(tenant).fetch_taxonomy(scope)
        self._cache[key] = (taxonomy, now + self.ttl_s)
        await self.bus.producer().send(
            self.topics.name(TAXONOMIES), taxonomy.model_dump_json().encode(), key=f"{tenant}:{scope}".encode()
        )
        log.info(
            "taxonomy %s:%s fetched (%d candidates, version %s)",
            tenant,
            scope,
            len(taxonomy.candidates),
            taxonomy.version,
            extra={"tenant": tenant},
        )
        return taxonomy

    def invalidate(self, tenant: str, scope: str) -> None:
        """Forget a scope's taxonomy (e.g. after the PSA rejected a category as invalid)."""
        self._cache.pop((tenant, scope), None)

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
        return [
            Output(TICKETS_ENRICHED, TicketEnriched(**event.envelope_fields(), ticket=event.ticket, taxonomy=taxonomy))
        ]
