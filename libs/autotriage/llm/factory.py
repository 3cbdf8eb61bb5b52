"""One place that builds a tenant's classifier from its settings."""

from __future__ import annotations

from autotriage.core.tenants import Tenant, TenantsFile
from autotriage.llm.base import Classifier


def make_classifier(tenant: Tenant, tenants: TenantsFile) -> Classifier:
    """The tenant's configured classifier: OpenAI / Azure OpenAI, the local model, or both as a cascade."""
    if tenant.llm.provider == "local":
        from autotriage.local.provider import LocalClassifier

        assert tenant.llm.local_model_path is not None
        return LocalClassifier.load(tenant.llm.local_model_path)
    price = tenants.price(tenant.llm.model)
    if tenant.llm.local_model_path is not None:
        # a local model in front of the LLM: confident tickets skip it, its neighbours become few-shot examples
        from autotriage.local.cascade import build_cascade

        return build_cascade(tenant, price)
    from autotriage.llm.openai_provider import OpenAIClassifier

    return OpenAIClassifier(tenant, price)


class Classifiers:
    """The classifiers of a process, one per tenant, built on first use."""

    def __init__(self, tenants: TenantsFile) -> None:
        self.tenants = tenants
        self._built: dict[str, Classifier] = {}

    def get(self, tenant_id: str) -> Classifier:
        """The tenant's classifier."""
        found = self._built.get(tenant_id)
        if found is None:
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                raise KeyError(tenant_id)
            found = self._built[tenant_id] = make_classifier(tenant, self.tenants)
        return found

    async def close(self) -> None:
        """Close every classifier."""
        for classifier in self._built.values():
            await classifier.close()
        self._built.clear()
