"""OpenAI and Azure OpenAI classifier: strict structured output, validated picks, bounded retries for
transient errors only; quota exhaustion pauses the tenant; content filter, refusal and truncation end in a
clear needs-human verdict. Uses the real ``openai`` SDK with its own retries off (see ``errors.py``)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from autotriage.core import metrics
from autotriage.core.classifier import Classifier, Example
from autotriage.core.cost import usage_from_openai
from autotriage.core.errors import ContentFiltered, PermanentError, QuotaExhausted, TransientError
from autotriage.core.models import Candidate, Classification, ConfidenceSource, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.resilience import RetryPolicy
from autotriage.core.tenants import Price, Tenant
from autotriage.core.text.prepare import prepare_ticket_text
from autotriage.llm.answer import Answer, confidence_of, parse_answer
from autotriage.llm.client import make_openai_client, request_model
from autotriage.llm.errors import (
    classify_failure,
    error_body,
    error_code,
    error_param,
    is_quota_error,
)
from autotriage.llm.hierarchy import deepest, split_level
from autotriage.llm.prompt import ABSTAIN_ID, render_prompt
from autotriage.llm.schema import choice_schema, fits_enum
from autotriage.llm.shortlist import FULL_LIST_REASON, Shortlist, needs_full_list

__all__ = [
    "OpenAIClassifier",
    "is_quota_error",
    "is_reasoning_model",
    "make_openai_client",
    "reasoning_effort_for",
]

log = logging.getLogger(__name__)

QUOTA_PAUSE_S = 900.0
ANSWER_OVERHEAD_TOKENS = 64
REASONING_HEADROOM_TOKENS = 2000
#: Request parameters dropped (or, for reasoning_effort "minimal", lowered to "low") once when a model or an
#: Azure api-version rejects them, instead of failing every ticket.
ADAPTABLE_PARAMS = ("prompt_cache_key", "logprobs", "temperature", "reasoning_effort")
#: The Chat Completions path (the Azure client maps it to its deployment's path).
CHAT_COMPLETIONS = "/chat/completions"
_GPT5_MINIMAL = re.compile(r"^gpt-5(?:-mini|-nano)?(?:-\d{4}-\d{2}-\d{2})?$")


def is_reasoning_model(model: str) -> bool:
    """gpt-5 and o-series models (not the ``*-chat`` variants): reasoning effort instead of temperature/logprobs."""
    name = model.lower()
    return name.startswith(("gpt-5", "o1", "o3", "o4")) and "chat" not in name


def reasoning_effort_for(model: str) -> str | None:
    """``minimal`` for gpt-5 / gpt-5-mini / gpt-5-nano, ``low`` for other reasoning models, else ``None``."""
    if not is_reasoning_model(model):
        return None
    return "minimal" if _GPT5_MINIMAL.match(model.lower()) else "low"


@dataclass(frozen=True)
class _Job:
    ticket: Ticket
    summary: str
    description: str
    scope_name: str
    examples: Sequence[Example] = ()


@dataclass(frozen=True)
class PreparedPick:
    """One pick's request: the messages, the ids the model may answer and the candidate behind each id."""

    messages: list[dict[str, Any]]
    user: str
    ids: list[str]
    by_id: dict[str, Candidate]


class OpenAIClassifier(Classifier):
    """Classifier for one tenant on OpenAI or Azure OpenAI.

    ``model`` is the model name (prices, capabilities, metric labels); ``request_model`` what requests send
    (the deployment name on Azure). ``paused_until`` (monotonic seconds) is set by a quota error."""

    quota_pause_s: float = QUOTA_PAUSE_S

    def __init__(self, tenant: Tenant, price: Price | None, client: openai.AsyncOpenAI | None = None) -> None:
        self.tenant = tenant
        self.settings = tenant.llm
        self.provider = tenant.llm.provider
        self.model = tenant.llm.model
        self.request_model = request_model(tenant.llm)
        self.price = price
        self.client = client or make_openai_client(tenant.llm, tenant.ca_bundle)
        self.retry = RetryPolicy(max_retries=tenant.llm.max_retries)
        self.reasoning_effort = reasoning_effort_for(self.model)
        self.cache_key = f"autotriage-{tenant.id}"
        self.paused_until = 0.0
        self.examples: list[Example] = []
        self.dropped_params: set[str] = set()
        #: Show the model short positional ids (``c1``..``cN``) instead of the PSA's ids: ~4 tokens less per
        #: candidate in both the list and the enum (see tools/bench_prompt.py); results carry the real candidate.
        self.short_ids = tenant.llm.short_ids
        #: Set when a response that asked for logprobs came without them: requests ask for a self-rated
        #: confidence again from then on.
        self.logprobs_missing = False

    async def close(self) -> None:
        await self.client.close()

    @property
    def asks_confidence(self) -> bool:
        """Whether requests ask the model to rate its confidence: only when no logprobs give it (reasoning
        models, a deployment that rejects or ignores ``logprobs``)."""
        return self.reasoning_effort is not None or "logprobs" in self.dropped_params or self.logprobs_missing

    @property
    def paused(self) -> bool:
        """Whether the tenant is paused for the LLM after a quota error."""
        return time.monotonic() < self.paused_until

    async def classify(
        self, ticket: Ticket, taxonomy: Taxonomy, examples: Sequence[Example] | None = None,
        shortlist: Shortlist | None = None,
    ) -> Classification:
        """Pick a candidate (one stage, or several above ``max_enum``); raise ``TransientError`` when retries
        are exhausted, ``PermanentError`` for a rejected request (bad key, unknown deployment, bad request).
        ``examples`` are this ticket's few-shot examples (default: the classifier's fixed ``examples``).
        With a ``shortlist`` only its candidates are sent first; an abstention, a low confidence or an added
        catch-all retries once with the full list, and the result carries the usage of both calls."""
        started = time.perf_counter()
        if self.paused:
            result = self._needs_human("llm_quota_exhausted", "LLM account out of quota; tenant paused")
        elif not taxonomy.candidates:
            result = self._needs_human("empty_taxonomy", "no categories are allowed for this scope")
        else:
            job = self._job(ticket, taxonomy.scope_name, examples)
            if shortlist is not None:
                result = await self._shortlisted(job, taxonomy, shortlist)
            else:
                result = await self._choose(job, list(taxonomy.candidates), depth=0)
        return result.model_copy(update={"latency_s": time.perf_counter() - started})

    def _job(self, ticket: Ticket, scope_name: str, examples: Sequence[Example] | None) -> _Job:
        summary, description = prepare_ticket_text(ticket, self.settings.ticket_token_budget)
        return _Job(ticket, summary, description, scope_name, self.examples if examples is None else examples)

    async def _shortlisted(self, job: _Job, taxonomy: Taxonomy, shortlist: Shortlist) -> Classification:
        """The shortlist first, the full list once when its answer is not kept (both with positional ids: the
        shortlist differs per ticket, and ``c1``..``cN`` cost ~4 tokens less per candidate than most PSA ids)."""
        first = _within(await self._pick(job, list(shortlist.candidates), short_ids=True, shortlisted=True),
                        taxonomy)
        why = needs_full_list(first, shortlist, self.settings.shortlist_min_confidence)
        metrics.LLM_SHORTLIST.labels(self.tenant.id, why or "kept").inc()
        if why is None:
            return first
        try:
            second = await self._choose(job, list(taxonomy.candidates), depth=0, short_ids=True)
        except TransientError as exc:  # keep the paid-for shortlist answer rather than lose its cost to a retry
            log.warning("full-list retry failed (%s); the shortlist answer stands", exc.reason,
                        extra={"tenant": self.tenant.id, "ticket": job.ticket.id})
            note = f"The full-list retry failed ({exc.reason}). {first.reasoning}".strip()
            return first.model_copy(update={"reasoning": note[: self.settings.reasoning_max_chars]})
        log.info("shortlist answer not kept (%s); full list gave %s", why, second.verdict.value,
                 extra={"tenant": self.tenant.id, "ticket": job.ticket.id})
        update: dict[str, Any] = {"usage": first.usage + second.usage}
        if not second.reason:
            update["reason"] = FULL_LIST_REASON
        return second.model_copy(update=update)

    async def classify_safely(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        """Kept for callers of the old API: ``classify`` already turns quota and content-filter errors into
        needs-human verdicts."""
        return await self.classify(ticket, taxonomy)

    # ------------------------------------------------------------------------------------------ stages

    async def _choose(self, job: _Job, candidates: list[Candidate], depth: int,
                      short_ids: bool | None = None) -> Classification:
        """One pick when the ids fit one enum, else a pick among groups first and then among the group."""
        if fits_enum([c.id for c in candidates], self.settings.max_enum):
            return await self._pick(job, candidates, short_ids=short_ids)
        level = split_level(candidates, depth)
        if len(level.options) == 1 and level.members and depth + 1 < deepest(candidates):
            return await self._choose(job, candidates, depth + 1, short_ids)  # one shared level: nothing to ask
        if not level.members or not fits_enum([o.id for o in level.options], self.settings.max_enum):
            return self._needs_human("taxonomy_too_large", f"{len(candidates)} categories cannot be narrowed "
                                     f"below the enum limit of {self.settings.max_enum} at level {depth + 1}")
        first = await self._pick(job, level.options, short_ids=short_ids)
        if first.verdict is not Verdict.CHOSEN or first.candidate is None:
            return first
        group = level.members.get(first.candidate.id)
        if group is None:  # a candidate offered directly at this level
            return first
        return _combine(first, await self._choose(job, group, depth + 1, short_ids))

    def prepare(self, ticket: Ticket, candidates: Sequence[Candidate], *, scope_name: str = "",
                examples: Sequence[Example] | None = None, short_ids: bool | None = None,
                shortlisted: bool = False) -> PreparedPick:
        """The request of one pick among ``candidates`` (what ``classify`` sends; the Batch API reuses it)."""
        return self._prepare(self._job(ticket, scope_name, examples), list(candidates),
                             self.short_ids if short_ids is None else short_ids, shortlisted)

    def _prepare(self, job: _Job, candidates: list[Candidate], short_ids: bool,
                 shortlisted: bool = False) -> PreparedPick:
        shown = candidates
        if short_ids:
            shown = [Candidate(id=f"c{n}", path=c.path) for n, c in enumerate(candidates, 1)]
        by_id = {s.id: c for s, c in zip(shown, candidates, strict=True)}
        alias = {c.id: s.id for s, c in zip(shown, candidates, strict=True)}
        examples = [Example(e.text, alias[e.category_id]) for e in job.examples if e.category_id in alias]
        prompt = render_prompt(
            job.ticket, shown, summary=job.summary, description=job.description, scope_name=job.scope_name,
            examples=examples, system_template=self.tenant.prompt_template, shortlisted=shortlisted,
            ask_confidence=self.asks_confidence,
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        return PreparedPick(messages, prompt.user, list(by_id), by_id)

    def request_body(self, pick: PreparedPick) -> dict[str, Any]:
        """The Chat Completions request body of a prepared pick."""
        return self._request(pick.messages, pick.ids)

    def judge(self, response: ChatCompletion, pick: PreparedPick, usage: Usage) -> Classification | None:
        """The validated result of one response; ``None`` when its answer is not JSON naming a listed id."""
        if not response.choices:
            return self._needs_human("empty_response", "the provider returned no choices", usage)
        choice = response.choices[0]
        stop = _stop_reason(choice)
        if stop is not None:
            return self._needs_human(*stop, usage)
        answer = parse_answer(choice.message.content or "")
        if answer is not None and (answer.category_id in pick.by_id or answer.category_id == ABSTAIN_ID):
            return self._result(answer, choice, pick.by_id, usage)
        metrics.LLM_ERRORS.labels(self.tenant.id, self.provider, "invalid_answer").inc()
        return None

    async def _pick(self, job: _Job, candidates: list[Candidate], *, short_ids: bool | None = None,
                    shortlisted: bool = False) -> Classification:
        """One request (plus at most one repair) choosing among ``candidates``; the answer is validated."""
        pick = self._prepare(job, candidates, self.short_ids if short_ids is None else short_ids, shortlisted)
        usage = Usage()
        for attempt in (1, 2):
            try:
                response = await self._call(pick.messages, pick.ids)
            except QuotaExhausted:
                return self._needs_human("llm_quota_exhausted", "LLM account out of quota; tenant paused", usage)
            except ContentFiltered:
                return self._needs_human("content_filter", "the provider's content filter blocked the prompt", usage)
            step = usage_from_openai(response.usage, self.price)
            self._count_usage(step)
            usage = usage + step
            result = self.judge(response, pick, usage)
            if result is not None:
                return result
            if attempt == 1:
                content = response.choices[0].message.content or ""
                answer = parse_answer(content)
                problem = ("is not valid JSON" if answer is None
                           else f"names {answer.category_id!r}, which is not one of the listed ids")
                correction = (f"That answer {problem}. Reply with the JSON object only, with category_id set to "
                              f"one of the listed ids (or \"{ABSTAIN_ID}\"), for this ticket:\n\n{pick.user}")
                pick = PreparedPick([*pick.messages, {"role": "assistant", "content": content},
                                     {"role": "user", "content": correction}], pick.user, pick.ids, pick.by_id)
        return self._needs_human("invalid_answer", "the model did not name a valid category after one repair",
                                 usage)

    # ------------------------------------------------------------------------------------------ requests

    def _request(self, messages: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
        """Chat Completions arguments: strict schema with the candidate ids, tight output budget."""
        budget = ANSWER_OVERHEAD_TOKENS + self.settings.reasoning_max_chars // 2 + max(len(i) for i in ids) // 2
        kwargs: dict[str, Any] = {
            "model": self.request_model,
            "messages": messages,
            "response_format": choice_schema(ids, self.settings.reasoning_max_chars,
                                             confidence=self.asks_confidence),
        }
        if "prompt_cache_key" not in self.dropped_params:
            kwargs["prompt_cache_key"] = self.cache_key
        if self.reasoning_effort is not None:
            budget += REASONING_HEADROOM_TOKENS
            if "reasoning_effort" not in self.dropped_params:
                kwargs["reasoning_effort"] = self.reasoning_effort
        else:
            if "temperature" not in self.dropped_params:
                kwargs["temperature"] = 0
            if "logprobs" not in self.dropped_params:
                kwargs["logprobs"] = True
        kwargs["max_completion_tokens"] = budget
        return kwargs

    async def _call(self, messages: list[dict[str, Any]], ids: list[str]) -> ChatCompletion:
        """One completion with bounded retries of transient failures (see ``errors.py``)."""
        retries = 0
        while True:
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(self.settings.timeout_s):  # total deadline; the SDK's is per phase
                    # The SDK's own request path (auth, Azure deployment routing, errors, response model) without
                    # ``create``'s recursive parameter transform, which only copies this plain JSON body and
                    # cost ~0.5 ms of CPU per call.
                    response = await self.client.post(
                        CHAT_COMPLETIONS, body=self._request(messages, ids), cast_to=ChatCompletion
                    )
            except (openai.APIError, TimeoutError) as exc:
                failure = classify_failure(exc)
                self._observe(failure.kind, t0)
                if isinstance(exc, openai.BadRequestError) and self._adapt(exc):
                    continue
                detail = f"{self.provider} {self.request_model}: {type(exc).__name__}: {_message(exc)}"
                if failure.kind == "quota_exhausted":
                    self._pause()
                    raise QuotaExhausted(detail) from exc
                if failure.kind == "content_filter":
                    raise ContentFiltered(detail) from exc
                if not failure.retriable:
                    log.error(  # noqa: TRY400 - one line naming cause and fix; the error carries the detail
                              "LLM request rejected (%s): %s; check the tenant's llm settings", failure.kind,
                              detail, extra={"tenant": self.tenant.id})
                    raise PermanentError(f"llm_{failure.kind}", detail) from exc
                retries += 1
                wait = self.retry.delay(retries, failure.wait)
                if wait is None:  # a rate limit is the tenant's account's, not this ticket's: the runtime parks it
                    raise TransientError(f"llm_{failure.kind}", f"{detail} (after {retries} attempts)",
                                         retry_after_s=failure.wait,
                                         tenant_wide=failure.kind == "rate_limited") from exc
                await asyncio.sleep(wait)
                continue
            self._observe("ok", t0)
            metrics.LLM_QUOTA_EXHAUSTED.labels(self.tenant.id).set(0)
            return response

    def _adapt(self, exc: openai.BadRequestError) -> bool:
        """Drop (once) a parameter this model or api-version rejects; ``True`` when the request can be resent."""
        param = error_param(exc)
        if param not in ADAPTABLE_PARAMS:
            text = _message(exc)
            param = next((p for p in ADAPTABLE_PARAMS if f"'{p}'" in text or f": {p}" in text), "")
        if not param or param in self.dropped_params or error_code(exc) == "content_filter":
            return False
        if param == "reasoning_effort" and self.reasoning_effort == "minimal":
            self.reasoning_effort = "low"
        else:
            self.dropped_params.add(param)
        log.warning("%s %s rejects %r; sending requests without it from now on", self.provider,
                    self.request_model, param, extra={"tenant": self.tenant.id})
        return True

    # ------------------------------------------------------------------------------------------ bookkeeping

    def _pause(self) -> None:
        self.paused_until = time.monotonic() + self.quota_pause_s
        metrics.LLM_QUOTA_EXHAUSTED.labels(self.tenant.id).set(1)
        log.error("LLM quota exhausted: tenant paused for the LLM for %.0f s; top up the account or raise its "
                  "spend limit", self.quota_pause_s, extra={"tenant": self.tenant.id})

    def _observe(self, status: str, t0: float) -> None:
        metrics.LLM_REQUESTS.labels(self.tenant.id, self.provider, self.model, status).inc()
        metrics.LLM_DURATION.labels(self.provider, self.model).observe(time.perf_counter() - t0)
        if status != "ok":
            metrics.LLM_ERRORS.labels(self.tenant.id, self.provider, status).inc()

    def account(self, usage: Usage) -> None:
        """Count tokens and USD of a call made outside ``classify`` (the Batch API)."""
        self._count_usage(usage)

    def needs_human(self, reason: str, detail: str, usage: Usage | None = None) -> Classification:
        """A needs-human verdict of this classifier (``reason`` is a short code, ``detail`` for people)."""
        return self._needs_human(reason, detail, usage)

    def _count_usage(self, usage: Usage) -> None:
        """Tokens by kind (``prompt`` includes ``cached``; ``completion`` includes ``reasoning``) and USD."""
        labels = (self.tenant.id, self.model)
        metrics.LLM_TOKENS.labels(*labels, "prompt").inc(usage.prompt_tokens)
        metrics.LLM_TOKENS.labels(*labels, "cached").inc(usage.cached_tokens)
        metrics.LLM_TOKENS.labels(*labels, "completion").inc(usage.completion_tokens)
        metrics.LLM_TOKENS.labels(*labels, "reasoning").inc(usage.reasoning_tokens)
        metrics.LLM_COST.labels(*labels).inc(usage.cost_usd)

    def _result(self, answer: Answer, choice: Any, by_id: dict[str, Candidate], usage: Usage) -> Classification:
        reasoning = " ".join(answer.reasoning.split())[: self.settings.reasoning_max_chars]
        confidence, source = confidence_of(answer, choice)
        if source is ConfidenceSource.SELF_RATED and not self.asks_confidence:
            self.logprobs_missing = True  # this answer keeps confidence 0: a suggestion or a full-list retry
            log.warning("%s %s returned no usable logprobs; asking the model for its confidence from now on",
                        self.provider, self.request_model, extra={"tenant": self.tenant.id})
        if answer.category_id == ABSTAIN_ID:
            return Classification(verdict=Verdict.ABSTAINED, confidence=confidence, confidence_source=source,
                                  reasoning=reasoning, reason="abstained", provider=self.provider,
                                  model=self.model, usage=usage)
        return Classification(verdict=Verdict.CHOSEN, candidate=by_id[answer.category_id], confidence=confidence,
                              confidence_source=source, reasoning=reasoning, provider=self.provider,
                              model=self.model, usage=usage)

    def _needs_human(self, reason: str, detail: str, usage: Usage | None = None) -> Classification:
        return Classification(verdict=Verdict.NEEDS_HUMAN, reason=reason, reasoning=detail, provider=self.provider,
                              model=self.model, usage=usage or Usage())


def _stop_reason(choice: Any) -> tuple[str, str] | None:
    """Why a response cannot carry a usable answer: content filter, refusal, truncation (never retried)."""
    if choice.finish_reason == "content_filter":
        return "content_filter", "the provider's content filter blocked the answer"
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        return "refusal", f"the model refused: {str(refusal)[:200]}"
    if choice.finish_reason == "length":
        return "output_truncated", "the answer was cut off at the output token limit"
    return None


def _within(result: Classification, taxonomy: Taxonomy) -> Classification:
    """A pick is kept only when it is a candidate of the scope's full, active taxonomy."""
    if result.verdict is not Verdict.CHOSEN or result.candidate is None:
        return result
    if taxonomy.by_id(result.candidate.id) == result.candidate:
        return result
    return result.model_copy(update={"verdict": Verdict.NEEDS_HUMAN, "candidate": None, "reason": "invalid_answer",
                                     "reasoning": "the pick is not an active category of this scope"})


def _combine(first: Classification, second: Classification) -> Classification:
    """A later stage's result with the usage of both and, for a pick, P(group) * P(child | group)."""
    update: dict[str, Any] = {"usage": first.usage + second.usage}
    if second.verdict is Verdict.CHOSEN:
        update["confidence"] = min(1.0, first.confidence * second.confidence)
        if first.confidence_source is not second.confidence_source:
            update["confidence_source"] = ConfidenceSource.SELF_RATED
    return second.model_copy(update=update)


def _message(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return str(error_body(exc).get("message") or exc.message)[:300]
    return str(exc)[:300] or type(exc).__name__
