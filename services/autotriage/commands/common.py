"""What the demo, learn and eval commands share: the bundled sample data as taxonomies and labelled tickets,
and the LLM settings taken from the usual OpenAI / Azure OpenAI environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from autotriage.core.models import Candidate, PSAKind, Taxonomy
from autotriage.local.dataset import LabelledTicket
from autotriage.sandbox.common import SampleData, SampleTicket

PSAS = tuple(kind.value for kind in PSAKind)


def sample_taxonomies(sample: SampleData, tenant: str, psa: str) -> dict[str, Taxonomy]:
    """The bundled taxonomy of a PSA, one ``Taxonomy`` per scope (active paths only)."""
    now = datetime.now(UTC)
    return {
        str(scope["id"]): Taxonomy(
            tenant=tenant, psa=PSAKind(psa), scope=str(scope["id"]), scope_name=str(scope.get("name", "")),
            candidates=tuple(Candidate(id=f"s{scope['id']}-{n}", path=tuple(path))
                             for n, path in enumerate(scope["paths"], start=1)),
            fetched_at=now,
        )
        for scope in sample.scopes
    }


def labelled(tickets: list[SampleTicket]) -> list[LabelledTicket]:
    """Sample tickets as labelled tickets (noise keeps ``path=None``)."""
    return [LabelledTicket(t.summary, t.details, t.category, str(t.scope), t.id, noise=t.noise, noise_labelled=True)
            for t in tickets]


def llm_from_env(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """Tenant ``llm:`` settings for OpenAI (``OPENAI_API_KEY``, optional ``OPENAI_BASE_URL``) or Azure OpenAI
    (``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_DEPLOYMENT``); ``None`` when neither
    is set. ``AUTOTRIAGE_DEMO_MODEL`` names the model (prices), default gpt-4o-mini."""
    model = environ.get("AUTOTRIAGE_DEMO_MODEL", "gpt-4o-mini")
    if environ.get("OPENAI_API_KEY"):
        settings: dict[str, Any] = {"provider": "openai", "model": model, "api_key": {"env": "OPENAI_API_KEY"}}
        if environ.get("OPENAI_BASE_URL"):
            settings["base_url"] = environ["OPENAI_BASE_URL"]
        return settings
    if environ.get("AZURE_OPENAI_API_KEY") and environ.get("AZURE_OPENAI_ENDPOINT"):
        deployment = environ.get("AZURE_OPENAI_DEPLOYMENT", model)
        return {
            "provider": "azure", "model": environ.get("AZURE_OPENAI_MODEL", model),
            "api_key": {"env": "AZURE_OPENAI_API_KEY"}, "azure_endpoint": environ["AZURE_OPENAI_ENDPOINT"],
            "azure_deployment": deployment,
            "api_version": environ.get("AZURE_OPENAI_API_VERSION") or environ.get("OPENAI_API_VERSION") or "2024-10-21",
        }
    return None
