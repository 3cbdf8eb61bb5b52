"""The classifier interface every provider (OpenAI, Azure OpenAI, local model, the cascade) implements, the
few-shot example they exchange, and the reason codes a stand-in verdict carries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from autotriage.core.models import Classification, Taxonomy, Ticket

#: ``Classification.reason`` of a confident local verdict (the LLM was skipped).
LOCAL_REASON = "local_confident"
#: ``Classification.reason`` of a local verdict returned because the LLM was unavailable.
FALLBACK_REASON = "llm_fallback"


@dataclass(frozen=True)
class Example:
    """A past ticket with its final category, used as a few-shot example."""

    text: str
    category_id: str


class Classifier(ABC):
    """Chooses one candidate of a taxonomy for a ticket (or abstains)."""

    provider: str = ""

    @abstractmethod
    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        """Classify one ticket; raise TransientError for retryable provider failures."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
