"""Topic names (with the configurable prefix) and the explicit topic set the project creates.

Every consumed topic has delay tiers of retry topics, ``<topic>.retry.<tier>`` (default 5 s, 1 min, 10 min):
a record due in 8 s goes to the 1 min tier with its exact due time in a header, and a consumer pauses a tier's
partition until its head is due. A long delay never sits in front of a short one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autotriage.core.bus.base import TopicSpec

if TYPE_CHECKING:
    from autotriage.core.settings import Settings

WEBHOOKS_RAW = "webhooks.raw"
TICKETS_NORMALIZED = "tickets.normalized"
TICKETS_ENRICHED = "tickets.enriched"
TICKETS_CLASSIFIED = "tickets.classified"
TICKETS_OUTCOMES = "tickets.outcomes"
TAXONOMIES = "taxonomies"
#: Per replica and tenant: what the classifier has spent this day and month (compacted; summed by every replica).
BUDGET_SPEND = "budget.spend"
#: Tickets already classified, keyed ``tenant:ticket`` like the input (compacted, expiring): classify-once.
CLASSIFIED_LEDGER = "classifier.ledger"
DLQ = "dlq"
RETRY_SUFFIX = ".retry"
DEFAULT_RETRY_TIERS_S = (5.0, 60.0, 600.0)

CONSUMED = (WEBHOOKS_RAW, TICKETS_NORMALIZED, TICKETS_ENRICHED, TICKETS_CLASSIFIED)
#: Large enough for a 1,500-category taxonomy in one record (the broker's default is about 1 MB).
TABLE_MAX_BYTES = 8 * 1024 * 1024
LEDGER_RETENTION_MS = 14 * 24 * 3600 * 1000


def tier_label(seconds: float) -> str:
    """A short, stable name for a delay tier: ``500ms``, ``5s``, ``1m``, ``10m``, ``1h``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Topics:
    """Resolves logical topic names to real ones."""

    prefix: str = "autotriage."
    retry_tiers_s: Sequence[float] = DEFAULT_RETRY_TIERS_S

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        """The topics of a deployment's settings (prefix and retry tiers)."""
        return cls(settings.topic_prefix, settings.retry_tiers_s)

    def name(self, logical: str) -> str:
        """The full topic name for a logical name such as ``tickets.outcomes``."""
        return f"{self.prefix}{logical}"

    def retry(self, logical: str, tier_s: float | None = None) -> str:
        """The retry topic of a consumed topic for one delay tier (the shortest when not given)."""
        tier = self.retry_tiers_s[0] if tier_s is None else tier_s
        return f"{self.prefix}{logical}{RETRY_SUFFIX}.{tier_label(tier)}"

    def retry_topics(self, logical: str) -> list[str]:
        """Every retry tier topic of a consumed topic, shortest delay first."""
        return [self.retry(logical, tier) for tier in self.retry_tiers_s]

    def tier_for(self, delay_s: float) -> float:
        """The shortest tier that is at least ``delay_s`` (the longest when none is)."""
        for tier in self.retry_tiers_s:
            if tier >= delay_s:
                return tier
        return self.retry_tiers_s[-1]

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic the pipeline needs."""
        specs = [TopicSpec(self.name(t), partitions) for t in CONSUMED]
        specs += [TopicSpec(topic, partitions) for t in CONSUMED for topic in self.retry_topics(t)]
        specs.append(TopicSpec(self.name(TICKETS_OUTCOMES), partitions))
        specs.append(TopicSpec(self.name(DLQ), partitions))
        big = {"max.message.bytes": str(TABLE_MAX_BYTES)}
        specs.append(TopicSpec(self.name(TAXONOMIES), partitions, compacted=True, config=big))
        specs.append(TopicSpec(self.name(BUDGET_SPEND), 1, compacted=True))
        specs.append(
            TopicSpec(
                self.name(CLASSIFIED_LEDGER),
                partitions,
                config={"cleanup.policy": "compact,delete", "retention.ms": str(LEDGER_RETENTION_MS)},
            )
        )
        return specs
