"""The cascade: the local model first, the LLM only when the local model is not confident enough.

* local confidence >= threshold (measured at training time for the target precision, or
  ``llm.cascade_threshold``): the local verdict, no LLM call, no cost;
* otherwise the LLM, with the k most similar past tickets as few-shot examples (``llm.few_shot``), shown only
  the local model's top-k candidates plus the catch-alls (``llm.shortlist``; k measured at training time or
  ``llm.shortlist_k``), with one full-list retry when that does not settle it (see ``llm.shortlist``);
* the LLM failing transiently, out of quota or paused: the local verdict, labelled ``llm_fallback`` (what may
  be written with it is the writer's policy).

Counts ``autotriage_local_model_decisions_total{tenant,decision}`` (local / llm / fallback).
"""

from __future__ import annotations

import time
from typing import Any

from autotriage.core import metrics
from autotriage.core.classifier import FALLBACK_REASON, LOCAL_REASON, Classifier
from autotriage.core.errors import ConfigError, QuotaExhausted, TransientError
from autotriage.core.models import Classification, Taxonomy, Ticket, Verdict
from autotriage.core.tenants import Price, Tenant
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.llm.shortlist import Shortlist, build_shortlist
from autotriage.local.provider import LocalClassifier, LocalPrediction

LOCAL = "local"
LLM = "llm"
FALLBACK = "fallback"
_QUOTA_REASONS = frozenset({"llm_quota_exhausted"})



class CascadeClassifier(Classifier):
    """Local model + LLM (see the module docstring)."""

    def __init__(self, tenant_id: str, local: LocalClassifier, llm: OpenAIClassifier, *, threshold: float | None,
                 few_shot: int = 0, shortlist_k: int | None = None, catch_all: tuple[str, ...] = ()) -> None:
        self.tenant_id = tenant_id
        self.local = local
        self.llm = llm
        self.threshold = threshold
        self.few_shot = few_shot
        #: Candidates the LLM is shown first (``None``: always the full list).
        self.shortlist_k = shortlist_k
        self.catch_all = catch_all
        self.provider = f"{llm.provider}+local"

    async def close(self) -> None:
        await self.llm.close()
        await self.local.close()

    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        started = time.perf_counter()
        prediction = self.local.predict(ticket, taxonomy)
        local = prediction.classification
        if self.threshold is not None and local.verdict is Verdict.CHOSEN and prediction.confidence >= self.threshold:
            self._count(LOCAL)
            return local.model_copy(update={"reason": LOCAL_REASON, "latency_s": time.perf_counter() - started})
        if getattr(self.llm, "paused", False):
            return self._fallback(prediction, "the LLM is paused (quota exhausted)", started)
        examples = self.local.examples(prediction, self.few_shot) if self.few_shot else []
        shortlist = self.shortlist(prediction, taxonomy)
        try:
            if shortlist is None:
                result = await self.llm.classify(ticket, taxonomy, examples)
            else:
                result = await self.llm.classify(ticket, taxonomy, examples, shortlist=shortlist)
        except TransientError as exc:
            return self._fallback(prediction, f"the LLM failed ({exc.reason})", started)
        except QuotaExhausted:
            return self._fallback(prediction, "the LLM account is out of quota", started)
        if result.verdict is Verdict.NEEDS_HUMAN and result.reason in _QUOTA_REASONS:
            return self._fallback(prediction, "the LLM account is out of quota", started, result)
        self._count(LLM)
        return result.model_copy(update={"latency_s": time.perf_counter() - started})

    def shortlist(self, prediction: LocalPrediction, taxonomy: Taxonomy) -> Shortlist | None:
        """The local model's top-k candidates plus the catch-alls, or ``None`` for the full list."""
        if self.shortlist_k is None:
            return None
        return build_shortlist(taxonomy, self.local.ranked(prediction, self.shortlist_k), self.shortlist_k,
                               self.catch_all)

    def _fallback(self, prediction: LocalPrediction, why: str, started: float,
                  llm_result: Classification | None = None) -> Classification:
        self._count(FALLBACK)
        local = prediction.classification
        update: dict[str, object] = {
            "reason": FALLBACK_REASON,
            "reasoning": f"{why}; local model's pick. {local.reasoning}".strip(),
            "latency_s": time.perf_counter() - started,
        }
        if llm_result is not None:
            update["usage"] = llm_result.usage
        return local.model_copy(update=update)

    def _count(self, decision: str) -> None:
        metrics.LOCAL_MODEL_DECISIONS.labels(self.tenant_id, decision).inc()


def build_cascade(tenant: Tenant, price: Price | None) -> CascadeClassifier:
    """The tenant's cascade: its local model (``llm.local_model_path``) in front of its OpenAI/Azure model."""
    if tenant.llm.local_model_path is None:
        raise ConfigError(f"tenant {tenant.id!r}: the cascade needs llm.local_model_path "
                          "(train one with `autotriage learn`)")
    local = LocalClassifier.load(tenant.llm.local_model_path)
    threshold = tenant.llm.cascade_threshold
    if threshold is None:
        threshold = local.meta.threshold
    llm = OpenAIClassifier(tenant, price)
    return CascadeClassifier(tenant.id, local, llm, threshold=threshold, few_shot=tenant.llm.few_shot,
                             **shortlist_settings(tenant, local))


def shortlist_settings(tenant: Tenant, local: LocalClassifier) -> dict[str, Any]:
    """``shortlist_k`` and ``catch_all`` of a tenant's cascade: ``llm.shortlist_k`` or the k stored with the
    model (``None``, the full list, when the shortlist is off or the model measured none)."""
    k = (tenant.llm.shortlist_k or local.meta.shortlist_k) if tenant.llm.shortlist else None
    return {"shortlist_k": k, "catch_all": tuple(tenant.llm.catch_all)}
