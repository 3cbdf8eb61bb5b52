"""Historical tickets for Batch API tests: the bundled ConnectWise history with its board taxonomies, and a
classifier for a tenant on the OpenAI test server. Deterministic, so a second process builds the same batch."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from autotriage.commands.common import sample_taxonomies
from autotriage.core.models import PSAKind, Ticket
from autotriage.core.tenants import TenantsFile
from autotriage.llm.batch import BatchItem, BatchRunner
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.sandbox.common import load_sample


def history_items(count: int) -> list[BatchItem]:
    """The first ``count`` categorized tickets of the bundled ConnectWise history."""
    sample = load_sample(PSAKind.CONNECTWISE)
    taxonomies = sample_taxonomies(sample, "acme", "connectwise")
    tickets = [t for t in sample.history if t.category][:count]
    return [BatchItem(t.id, Ticket(id=t.id, scope=str(t.scope), summary=t.summary, description=t.details,
                                   source=t.source), taxonomies[str(t.scope)]) for t in tickets]


def batch_classifier(base_url: str) -> OpenAIClassifier:
    """gpt-4o-mini on the test server for tenant ``acme`` (no PSA is contacted)."""
    tenants = TenantsFile.model_validate({"tenants": [{
        "id": "acme",
        "psa": {"kind": "autotask", "username": "u", "secret": {"env": "UNUSED"},
                "integration_code": {"env": "UNUSED"}, "zone_url": "http://127.0.0.1:9/"},
        "webhook": {"secret": {"env": "UNUSED"}},
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{base_url}/v1", "timeout_s": 10},
    }]})
    tenant = tenants.tenants[0]
    return OpenAIClassifier(tenant, tenants.price(tenant.llm.model))


async def _main(base_url: str, state: Path, count: int) -> None:
    classifier = batch_classifier(base_url)
    try:
        outcome = await BatchRunner(classifier, state, poll_interval_s=0.05).run(history_items(count))
        print(outcome.status, len(outcome.results), flush=True)
    finally:
        await classifier.close()


if __name__ == "__main__":  # python -m tests.support.batch_history BASE_URL STATE_FILE COUNT
    asyncio.run(_main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
