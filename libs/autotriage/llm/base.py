"""The classifier interface every provider (OpenAI, Azure OpenAI, local model) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from autotriage.core.models import Classification, Taxonomy, Ticket

#: ``Classification.reason`` of a local-model verdict returned because the LLM was unavailable (set by the
#: cascade; here so that the classifier stage can read it without importing the local model's libraries).
FALLBACK_REASON = "llm_fallback"


class Classifier(ABC):
    """Chooses one candidate of a taxonomy for a ticket (or abstains)."""

    provider: str = ""

    @abstractmethod
    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        """Classify one ticket; raise TransientError for retryable provider failures."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
