"""One place that builds a tenant's classifiers from its settings: OpenAI / Azure OpenAI, the local model, or
both as a cascade, plus the local model alone as the stand-in when the budget is spent."""

from __future__ import annotations

import logging

from autotriage.core.classifier import Classifier
from autotriage.core.errors import ConfigError
from autotriage.core.tenants import Tenant, TenantsFile
from autotriage.llm.openai_provider import OpenAIClassifier

log = logging.getLogger(__name__)


def load_local(tenant: Tenant) -> Classifier:
    """The tenant's local model (``llm.local_model_path``); needs the ``local`` extra."""
    path = tenant.llm.local_model_path
    if path is None:
        raise ConfigError(f"tenant {tenant.id!r}: llm.local_model_path is not set: train one with `autotriage learn`")
    # lazy: the local model needs the optional "local" extra (scikit-learn, numpy, scipy)
    from autotriage.local.provider import LocalClassifier  # noqa: PLC0415

    return LocalClassifier.load(path)


def make_classifier(tenant: Tenant, tenants: TenantsFile) -> Classifier:
    """The tenant's configured classifier: OpenAI / Azure OpenAI, the local model, or both as a cascade."""
    if tenant.llm.provider == "local":
        return load_local(tenant)
    price = tenants.price(tenant.llm.model)
    if tenant.llm.local_model_path is not None:
        # a local model in front of the LLM: confident tickets skip it, its neighbours become few-shot examples;
        # lazy: the cascade needs the optional "local" extra
        from autotriage.cascade import build_cascade  # noqa: PLC0415

        return build_cascade(tenant, price)
    return OpenAIClassifier(tenant, price)


class Classifiers:
    """The classifiers of a process, one per tenant, built on first use."""

    def __init__(self, tenants: TenantsFile) -> None:
        self.tenants = tenants
        self._built: dict[str, Classifier] = {}
        self._local: dict[str, Classifier | None] = {}

    def get(self, tenant_id: str) -> Classifier:
        """The tenant's classifier."""
        found = self._built.get(tenant_id)
        if found is None:
            found = self._built[tenant_id] = make_classifier(self._tenant(tenant_id), self.tenants)
        return found

    def local(self, tenant_id: str) -> Classifier | None:
        """The tenant's local model alone (loaded once), or None when it has none or it cannot be loaded."""
        if tenant_id not in self._local:
            self._local[tenant_id] = self._load_local(self._tenant(tenant_id))
        return self._local[tenant_id]

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise KeyError(tenant_id)
        return tenant

    @staticmethod
    def _load_local(tenant: Tenant) -> Classifier | None:
        if tenant.llm.local_model_path is None:
            return None
        try:
            return load_local(tenant)
        except (ImportError, ConfigError) as exc:
            # not installed, missing or incompatible file: the caller skips the over-budget ticket
            log.warning("local model %s cannot be loaded (%s: %s); over-budget tickets are skipped",
                        tenant.llm.local_model_path, type(exc).__name__, exc, extra={"tenant": tenant.id})
            return None

    async def close(self) -> None:
        """Close every classifier."""
        for classifier in [*self._built.values(), *self._local.values()]:
            if classifier is not None:
                await classifier.close()
        self._built.clear()
        self._local.clear()
