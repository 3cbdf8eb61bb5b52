"""Topic names (with the configurable prefix) and the explicit topic set the project creates."""

from __future__ import annotations

from dataclasses import dataclass

from autotriage.core.bus.base import TopicSpec

WEBHOOKS_RAW = "webhooks.raw"
TICKETS_NORMALIZED = "tickets.normalized"
TICKETS_ENRICHED = "tickets.enriched"
TICKETS_CLASSIFIED = "tickets.classified"
TICKETS_OUTCOMES = "tickets.outcomes"
TAXONOMIES = "taxonomies"
DLQ = "dlq"
RETRY_SUFFIX = ".retry"

CONSUMED = (WEBHOOKS_RAW, TICKETS_NORMALIZED, TICKETS_ENRICHED, TICKETS_CLASSIFIED)


@dataclass(frozen=True)
class Topics:
    """Resolves logical topic names to real ones."""

    prefix: str = "autotriage."

    def name(self, logical: str) -> str:
        """The full topic name for a logical name such as ``tickets.outcomes``."""
        return f"{self.prefix}{logical}"

    def retry(self, logical: str) -> str:
        """The retry topic of a consumed topic."""
        return f"{self.prefix}{logical}{RETRY_SUFFIX}"

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic the pipeline needs."""
        specs = [TopicSpec(self.name(t), partitions) for t in CONSUMED]
        specs += [TopicSpec(self.retry(t), partitions) for t in CONSUMED]
        specs.append(TopicSpec(self.name(TICKETS_OUTCOMES), partitions))
        specs.append(TopicSpec(self.name(DLQ), partitions))
        specs.append(TopicSpec(self.name(TAXONOMIES), partitions, compacted=True))
        return specs
