"""OpenAI and Azure OpenAI classifier: strict structured output, validated picks, bounded retries for
transient errors only, quota exhaustion pauses the tenant, content filter / refusal / truncation end in a
clear needs-human verdict. Uses the real ``openai`` SDK; the SDK's own retries are off because it would
also retry ``insufficient_quota`` 429s, which must never be retried."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import orjson

from autotriage.core import metrics
from autotriage.core.errors import TransientError
from autotriage.core.models import Candidate, Classification, ConfidenceSource, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.tenants import LLMSettings, Price, Tenant
from autotriage.llm.base import Classifier
from autotriage.llm.cost import usage_from_openai
from autotriage.llm.prompt import ABSTAIN_ID, Example, RenderedPrompt, render_prompt
from autotriage.llm.schema import choice_schema
from autotriage.llm.text import prepare_ticket_text

log = logging.getLogger(__name__)

QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"})
QUOTA_PAUSE_S = 900.0
MAX_COMPLETION_TOKENS = 300
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def is_reasoning_model(model: str) -> bool:
    """gpt-5 and o-series models: reasoning effort instead of temperature/logprobs."""
    name = model.lower()
    return name.startswith(("gpt-5", "o1", "o3", "o4"))


def is_quota_error(exc: openai.RateLimitError) -> bool:
    """Whether a 429 means the account is out of credit (never retry) rather than a rate limit."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    kind = str(error.get("type") or "") if isinstance(error, dict) else ""
    return code in QUOTA_CODES or kind in QUOTA_CODES or code.endswith("_spend_limit_exceeded")


def make_openai_client(settings: LLMSettings) -> openai.AsyncOpenAI:
    """An SDK client with explicit connect/total timeouts and the SDK's retries off."""
    timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
    api_key = settings.api_key.get() if settings.api_key else "not-needed"
    if settings.provider == "azure" and settings.base_url is None:
        assert settings.azure_endpoint is not None
        return openai.AsyncAzureOpenAI(
            azure_endpoint=str(settings.azure_endpoint), api_version=settings.api_version, api_key=api_key,
            timeout=timeout, max_retries=0,
        )
    base_url = str(settings.base_url) if settings.base_url else None
    if settings.provider == "azure":
        # Azure's v1 surface (https://<resource>.openai.azure.com/openai/v1/) takes the plain client.
        return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0,
                                  default_headers={"api-key": api_key})
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


@dataclass
class _Answer:
    category_id: str
    confidence: float
    reasoning: str


class OpenAIClassifier(Classifier):
    """Classifier for one tenant on OpenAI or Azure OpenAI."""

    def __init__(self, tenant: Tenant, price: Price | None, client: openai.AsyncOpenAI | None = None) -> None:
        self.tenant = tenant
        self.settings = tenant.llm
        self.provider = tenant.llm.provider
        self.model = tenant.llm.azure_deployment or tenant.llm.model
        self.price = price
        self.client = client or make_openai_client(tenant.llm)
        self.paused_until = 0.0
        self.examples: list[Example] = []

    async def close(self) -> None:
        await self.client.close()

    @property
    def paused(self) -> bool:
        """Whether the tenant is paused for the LLM after a quota error."""
        return time.monotonic() < self.paused_until

    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        started = time.perf_counter()
        if self.paused:
            return self._needs_human("llm_quota_exhausted", "LLM account out of quota; tenant paused", started)
        summary, description = prepare_ticket_text(ticket, self.settings.ticket_token_budget)
        candidates = list(taxonomy.candidates)
        if not candidates:
            return self._needs_human("empty_taxonomy", "no categories are allowed for this scope", started)
        if len(candidates) > self.settings.max_enum:
            return await self._two_stage(ticket, taxonomy, summary, description, started)
        prompt = render_prompt(
            ticket, candidates, summary=summary, description=description, scope_name=taxonomy.scope_name,
            examples=self.examples, system_template=self.tenant.prompt_template,
        )
        return await self._pick(prompt, candidates, started)

    async def _two_stage(
        self, ticket: Ticket, taxonomy: Taxonomy, summary: str, description: str, started: float
    ) -> Classification:
        """Above the enum limit: choose the top level first, then only among its valid children."""
        tops: dict[str, list[Candidate]] = {}
        for c in taxonomy.candidates:
            tops.setdefault(c.path[0], []).append(c)
        groups = [Candidate(id=f"g{i}", path=(name,)) for i, name in enumerate(tops)]
        prompt = render_prompt(ticket, groups, summary=summary, description=description,
                               scope_name=taxonomy.scope_name, system_template=self.tenant.prompt_template)
        first = await self._pick(prompt, groups, started)
        if first.verdict is not Verdict.CHOSEN or first.candidate is None:
            return first
        children = tops[first.candidate.path[0]][: self.settings.max_enum]
        prompt = render_prompt(ticket, children, summary=summary, description=description,
                               scope_name=taxonomy.scope_name, system_template=self.tenant.prompt_template)
        second = await self._pick(prompt, children, started)
        return second.model_copy(update={
            "usage": first.usage + second.usage,
            "confidence": min(1.0, first.confidence * second.confidence) if second.candidate else second.confidence,
        })

    async def _pick(self, prompt: RenderedPrompt, candidates: list[Candidate], started: float) -> Classification:
        by_id = {c.id: c for c in candidates}
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        usage = Usage()
        for attempt in (1, 2):  # one repair attempt for an invalid answer
            response = await self._call(messages)
            usage = usage + usage_from_openai(response.usage, self.price)
            self._count_tokens(usage_from_openai(response.usage, self.price))
            choice = response.choices[0]
            message = choice.message
            if choice.finish_reason == "content_filter":
                return self._needs_human("content_filter", "the provider's content filter blocked the answer", started, usage)
            if getattr(message, "refusal", None):
                return self._needs_human("refusal", f"the model refused: {message.refusal}", started, usage)
            if choice.finish_reason == "length":
                return self._needs_human("output_truncated", "the answer was cut off (max tokens)", started, usage)
            answer = _parse_answer(message.content or "")
            if answer is not None and (answer.category_id in by_id or answer.category_id == ABSTAIN_ID):
                return self._result(answer, by_id, choice, usage, started)
            if attempt == 1:
                messages += [
                    {"role": "assistant", "content": message.content or ""},
                    {"role": "user", "content": "That answer is not valid. Reply with JSON only, choosing "
                     "category_id from the listed ids (or \"abstain\")."},
                ]
        return self._needs_human("invalid_answer", "the model did not name a valid category after one repair", started, usage)

    async def _call(self, messages: list[dict[str, Any]]) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": choice_schema([m for m in _ids_of(messages)] or ["none"], self.settings.reasoning_max_chars),
            "max_completion_tokens": MAX_COMPLETION_TOKENS,
            "prompt_cache_key": f"autotriage-{self.tenant.id}",
        }
        if is_reasoning_model(self.model):
            kwargs["reasoning_effort"] = "low"
            kwargs["max_completion_tokens"] = 2000
        else:
            kwargs["temperature"] = 0
            kwargs["logprobs"] = True
        attempts = self.settings.max_retries + 1
        for attempt in range(1, attempts + 1):
            t0 = time.perf_counter()
            status = "ok"
            try:
                return await self.client.chat.completions.create(**kwargs)
            except openai.RateLimitError as exc:
                if is_quota_error(exc):
                    status = "quota_exhausted"
                    self._pause()
                    raise QuotaExhausted() from exc
                status = "rate_limited"
                wait = _retry_after(exc.response) or _backoff(attempt)
                error: Exception = exc
            except openai.BadRequestError as exc:
                status = "bad_request"
                if _error_code(exc) == "content_filter":
                    status = "content_filter"
                    raise ContentFiltered() from exc
                raise
            except (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError) as exc:
                status = "timeout" if isinstance(exc, openai.APITimeoutError) else "server_error"
                wait = _backoff(attempt)
                error = exc
            finally:
                metrics.LLM_REQUESTS.labels(self.tenant.id, self.provider, self.model, status).inc()
                metrics.LLM_DURATION.labels(self.provider, self.model).observe(time.perf_counter() - t0)
                if status != "ok":
                    metrics.LLM_ERRORS.labels(self.tenant.id, self.provider, status).inc()
            if attempt < attempts and wait <= 20:
                await asyncio.sleep(wait)
                continue
            raise TransientError(f"llm_{status}", f"{self.provider} {self.model}: {type(error).__name__}: {error}",
                                 retry_after_s=wait)
        raise AssertionError("unreachable")

    def _pause(self) -> None:
        self.paused_until = time.monotonic() + QUOTA_PAUSE_S
        metrics.LLM_QUOTA_EXHAUSTED.labels(self.tenant.id).set(1)
        log.error("LLM quota exhausted: tenant paused for the LLM for %.0f s; top up the account or raise its "
                  "spend limit", QUOTA_PAUSE_S, extra={"tenant": self.tenant.id})

    def _count_tokens(self, usage: Usage) -> None:
        labels = (self.tenant.id, self.model)
        metrics.LLM_TOKENS.labels(*labels, "prompt").inc(usage.prompt_tokens)
        metrics.LLM_TOKENS.labels(*labels, "cached").inc(usage.cached_tokens)
        metrics.LLM_TOKENS.labels(*labels, "completion").inc(usage.completion_tokens)
        metrics.LLM_TOKENS.labels(*labels, "reasoning").inc(usage.reasoning_tokens)
        metrics.LLM_COST.labels(*labels).inc(usage.cost_usd)
        if not self.paused:
            metrics.LLM_QUOTA_EXHAUSTED.labels(self.tenant.id).set(0)

    def _result(self, answer: _Answer, by_id: dict[str, Candidate], choice: Any, usage: Usage,
                started: float) -> Classification:
        reasoning = answer.reasoning.strip()[: self.settings.reasoning_max_chars]
        confidence, source = _confidence(answer, choice)
        if answer.category_id == ABSTAIN_ID:
            return Classification(verdict=Verdict.ABSTAINED, confidence=confidence, confidence_source=source,
                                  reasoning=reasoning, reason="abstained", provider=self.provider,
                                  model=self.model, usage=usage, latency_s=time.perf_counter() - started)
        return Classification(verdict=Verdict.CHOSEN, candidate=by_id[answer.category_id], confidence=confidence,
                              confidence_source=source, reasoning=reasoning, provider=self.provider,
                              model=self.model, usage=usage, latency_s=time.perf_counter() - started)

    def _needs_human(self, reason: str, detail: str, started: float, usage: Usage | None = None) -> Classification:
        return Classification(verdict=Verdict.NEEDS_HUMAN, reason=reason, reasoning=detail, provider=self.provider,
                              model=self.model, usage=usage or Usage(), latency_s=time.perf_counter() - started)

    async def classify_safely(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        """``classify`` with quota and content-filter errors turned into needs-human verdicts."""
        started = time.perf_counter()
        try:
            return await self.classify(ticket, taxonomy)
        except QuotaExhausted:
            return self._needs_human("llm_quota_exhausted", "LLM account out of quota; tenant paused", started)
        except ContentFiltered:
            return self._needs_human("content_filter", "the provider's content filter blocked the prompt", started)


class QuotaExhausted(Exception):
    """The LLM account has no quota left (429 insufficient_quota)."""


class ContentFiltered(Exception):
    """Azure's content filter rejected the prompt (400 content_filter)."""


def _ids_of(messages: list[dict[str, Any]]) -> list[str]:
    ids = []
    for line in str(messages[0]["content"]).splitlines():
        match = re.match(r"^- ([A-Za-z0-9_.-]+): ", line)
        if match:
            ids.append(match.group(1))
    return ids


def _parse_answer(content: str) -> _Answer | None:
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("category_id"), str):
        return None
    try:
        confidence = float(data.get("confidence", 0.0))
    except (TypeError, ValueError):
        confidence = 0.0
    return _Answer(str(data["category_id"]), min(1.0, max(0.0, confidence)), str(data.get("reasoning") or ""))


def _confidence(answer: _Answer, choice: Any) -> tuple[float, ConfidenceSource]:
    """Probability of the chosen id from token logprobs when present, else the model's own rating."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if content:
        text, spans = "", []
        for token in content:
            spans.append((len(text), len(text) + len(token.token), token.logprob))
            text += token.token
        marker = f'"{answer.category_id}"'
        key_at = text.find('"category_id"')
        start = text.find(marker, max(0, key_at))
        if start >= 0:
            lo, hi = start + 1, start + 1 + len(answer.category_id)
            logprob = sum(lp for s, e, lp in spans if s < hi and e > lo)
            return min(1.0, max(0.0, math.exp(logprob))), ConfidenceSource.LOGPROBS
    return answer.confidence, ConfidenceSource.SELF_RATED


def _error_code(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _backoff(attempt: int) -> float:
    return float(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
