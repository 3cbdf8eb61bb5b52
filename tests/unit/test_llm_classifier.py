"""OpenAIClassifier through the real ``openai`` SDK against the protocol-faithful ``OpenAITestServer``:
every error path, Azure routes, reasoning models, logprob confidence, cost, two-stage picks, prompt caching."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from autotriage.core.cost import cost_usd
from autotriage.core.errors import PermanentError, TransientError
from autotriage.core.metrics import REGISTRY
from autotriage.core.models import Candidate, Classification, ConfidenceSource, PSAKind, Taxonomy, Ticket, Verdict
from autotriage.core.resilience import RetryPolicy
from autotriage.core.tenants import TenantsFile, parse_tenants
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.sandbox import openai_server
from autotriage.sandbox.openai_schema_rules import invalid_request, validate_request
from autotriage.sandbox.openai_server import OpenAITestServer, Reply, default_responder

KEY_ENV = "TEST_LLM_OPENAI_KEY"
KEY = "sk-test-llm"

CATEGORIES: dict[str, tuple[str, ...]] = {
    "101-1": ("Hardware", "Printer", "Paper jam"),
    "101-2": ("Hardware", "Printer", "Toner / Supplies"),
    "102-1": ("Hardware", "Laptop", "Won't boot"),
    "102-2": ("Hardware", "Laptop", "Battery / Charging"),
    "201-1": ("Network", "VPN", "Cannot connect"),
    "201-2": ("Network", "Wi-Fi", "Slow or dropping"),
    "301-1": ("Email", "Outlook", "Cannot send mail"),
    "301-2": ("Email", "Shared mailbox", "Access request"),
    "401-1": ("Security", "Phishing", "Suspicious email reported"),
    "501-1": ("Accounts", "Password", "Reset or locked out"),
}
PRINTER = Ticket(
    id="T-1", scope="12", source="email", company="Harper Vance",
    summary="RE: printer paper jam on floor 2",
    description=(
        "Hi Support,\n\nThe printer on floor 2 says paper jam again, tray 2. We already opened it twice.\n\n"
        "Thanks,\nMargaret Kaur\nController\nOffice: 555-0194\n\nCONFIDENTIALITY NOTICE: This e-mail message, "
        "including any attachments, is for the sole use of the intended recipient(s) and may contain confidential "
        "and privileged information.\n\n-----Original Message-----\nFrom: Service Desk <support@msp.example>\n"
        "Sent: Friday, September 26, 2025 10:02 AM\nSubject: VPN cannot connect resolved\n\nYour VPN ticket is closed."
    ),
)
VPN = Ticket(id="T-2", scope="12", summary="VPN cannot connect from home",
             description="Since this morning the VPN client says cannot connect, error 809.")
NONSENSE = Ticket(id="T-3", scope="12", summary="asdf qwerty", description="zzzz xxxx")


def taxonomy(categories: Mapping[str, tuple[str, ...]] | None = None, scope: str = "12") -> Taxonomy:
    """A taxonomy of the given ``id -> path`` categories."""
    cats = categories or CATEGORIES
    return Taxonomy(tenant="acme", psa=PSAKind.HALO, scope=scope, scope_name="Service Desk",
                    candidates=tuple(Candidate(id=i, path=p) for i, p in cats.items()),
                    fetched_at=datetime(2026, 3, 1, tzinfo=UTC))


def tenant_yaml(tenant_id: str, llm: dict[str, Any], extra: str = "") -> str:
    """A tenants file with a HaloPSA tenant and the given ``llm`` block."""
    llm_yaml = json.dumps({"api_key": {"env": KEY_ENV}, **llm})
    return f"""
tenants:
  - id: {tenant_id}
    name: Acme MSP
    psa:
      kind: halo
      base_url: https://acme.halopsa.example
      client_id: autotriage
      client_secret: {{env: ACME_HALO_CLIENT_SECRET}}
    webhook:
      username: halo-hook
      password: {{env: ACME_HALO_WEBHOOK_PASSWORD}}
    llm: {llm_yaml}
{extra}"""


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("ACME_HALO_CLIENT_SECRET", "halo-secret")
    monkeypatch.setenv("ACME_HALO_WEBHOOK_PASSWORD", "hook-password")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[OpenAITestServer]:
    async with OpenAITestServer() as srv:
        yield srv


Build = Callable[..., OpenAIClassifier]


@pytest_asyncio.fixture
async def build(server: OpenAITestServer, request: pytest.FixtureRequest) -> AsyncIterator[Build]:
    """Classifiers for a fresh tenant id per test (metrics are process-wide), closed afterwards."""
    made: list[OpenAIClassifier] = []
    tenant_id = "t-" + request.node.name.replace("test_", "").replace("_", "-")[:50].strip("-")

    def make(llm: dict[str, Any] | None = None, *, template: str | None = None) -> OpenAIClassifier:
        settings = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{server.base_url}/v1",
                    "timeout_s": 5, "max_retries": 2, **(llm or {})}
        extra = f"    prompt_template: {json.dumps(template)}\n" if template else ""
        tenants = parse_tenants(tenant_yaml(tenant_id, settings, extra))
        tenant = tenants.tenants[0]
        classifier = OpenAIClassifier(tenant, tenants.price(tenant.llm.model))
        classifier.retry = RetryPolicy(max_retries=tenant.llm.max_retries, backoff_base_s=0.01, backoff_cap_s=0.05)
        made.append(classifier)
        return classifier

    yield make
    for classifier in made:
        await classifier.close()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def capture(server: OpenAITestServer) -> list[Reply]:
    """Record what the simulated model answers (its confidence is what logprobs must reproduce)."""
    replies: list[Reply] = []

    def responder(body: dict[str, Any]) -> Reply:
        reply = default_responder(body, server.oracle)
        replies.append(reply)
        return reply

    server.responder = responder
    return replies


def enum_of(body: dict[str, Any]) -> list[str]:
    return list(body["response_format"]["json_schema"]["schema"]["properties"]["category_id"]["enum"])


# ---------------------------------------------------------------------------------------------- happy paths


async def test_gpt4o_mini_pick_with_logprob_confidence_and_cost(server: OpenAITestServer, build: Build) -> None:
    replies = capture(server)
    classifier = build()
    result = await classifier.classify(PRINTER, taxonomy())

    assert result.verdict is Verdict.CHOSEN
    assert result.candidate is not None and result.candidate.id == "101-1"
    assert result.confidence_source is ConfidenceSource.LOGPROBS
    assert result.confidence == pytest.approx(replies[0].confidence, abs=1e-3)
    assert result.model == "gpt-4o-mini" and result.provider == "openai"
    body = server.completion_requests[0].body
    assert body["temperature"] == 0 and body["logprobs"] is True and "reasoning_effort" not in body
    assert body["prompt_cache_key"] == f"autotriage-{classifier.tenant.id}"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert enum_of(body) == [*CATEGORIES, "abstain"]
    system, user = body["messages"]
    assert system["role"] == "system" and "tray 2" not in system["content"]  # static part first
    assert user["role"] == "user" and "tray 2" in user["content"]  # the ticket last
    for dropped in ("CONFIDENTIALITY", "Original Message", "Margaret", "VPN ticket is closed", "RE:"):
        assert dropped not in user["content"]
    usage = result.usage
    assert usage.calls == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd == pytest.approx(cost_usd(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
                                                    TenantsFile(tenants=[]).price("gpt-4o-mini")))
    assert usage.cost_usd == pytest.approx((usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6)


async def test_abstains_explicitly(server: OpenAITestServer, build: Build) -> None:
    result = await build().classify(NONSENSE, taxonomy())
    assert result.verdict is Verdict.ABSTAINED and result.reason == "abstained" and result.candidate is None
    assert result.usage.calls == 1


async def test_custom_template_enum_comes_from_the_candidates(server: OpenAITestServer, build: Build) -> None:
    template = ("Pick a category for the ticket.\n{% for c in candidates %}* {{ c.label }} [{{ c.id }}]\n{% endfor %}"
                "Answer {{ abstain_id }} if nothing fits.")
    result = await build(template=template).classify(VPN, taxonomy())
    body = server.completion_requests[0].body
    assert enum_of(body) == [*CATEGORIES, "abstain"]
    assert "* Network > VPN > Cannot connect [201-1]" in body["messages"][0]["content"]
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "201-1"


async def test_short_ids_are_mapped_back_to_the_real_candidate(server: OpenAITestServer, build: Build) -> None:
    classifier = build()
    classifier.short_ids = True
    result = await classifier.classify(VPN, taxonomy())
    body = server.completion_requests[0].body
    assert enum_of(body) == [f"c{n}" for n in range(1, len(CATEGORIES) + 1)] + ["abstain"]
    assert "- c5: Network > VPN > Cannot connect" in body["messages"][0]["content"]
    assert result.candidate is not None and result.candidate.id == "201-1"


async def test_gpt5_mini_sends_reasoning_effort_and_no_logprobs(server: OpenAITestServer, build: Build) -> None:
    result = await build({"model": "gpt-5-mini"}).classify(VPN, taxonomy())
    body = server.completion_requests[0].body
    assert body["reasoning_effort"] == "minimal"
    assert "logprobs" not in body and "temperature" not in body and "top_logprobs" not in body
    assert result.verdict is Verdict.CHOSEN and result.confidence_source is ConfidenceSource.SELF_RATED
    assert 0 < result.confidence <= 1


async def test_o4_mini_reasoning_tokens_are_billed_as_output(server: OpenAITestServer, build: Build) -> None:
    result = await build({"model": "o4-mini"}).classify(VPN, taxonomy())
    assert server.completion_requests[0].body["reasoning_effort"] == "low"
    usage = result.usage
    assert usage.reasoning_tokens == 64 and usage.completion_tokens > usage.reasoning_tokens
    assert usage.cost_usd == 0.0  # no price for o4-mini in the table: tokens counted, cost unknown


def properties_of(body: dict[str, Any]) -> list[str]:
    return list(body["response_format"]["json_schema"]["schema"]["properties"])


async def test_logprob_models_are_not_asked_to_rate_their_confidence(server: OpenAITestServer,
                                                                    build: Build) -> None:
    """gpt-4o-mini with logprobs: no ``confidence`` in the schema or the prompt, the logprobs give it."""
    replies = capture(server)
    result = await build().classify(VPN, taxonomy())
    body = server.completion_requests[0].body
    assert properties_of(body) == ["category_id", "reasoning"] and "confidence" not in body["messages"][0]["content"]
    assert "confidence" not in json.loads(replies[0].content)
    assert result.confidence_source is ConfidenceSource.LOGPROBS
    assert result.confidence == pytest.approx(replies[0].confidence, abs=1e-3) and result.confidence > 0.5


async def test_reasoning_models_still_rate_their_confidence(server: OpenAITestServer, build: Build) -> None:
    await build({"model": "gpt-5-mini"}).classify(VPN, taxonomy())
    body = server.completion_requests[0].body
    assert properties_of(body) == ["category_id", "confidence", "reasoning"]
    assert "confidence:" in body["messages"][0]["content"]


async def test_a_deployment_that_rejects_logprobs_gets_the_confidence_field_back(
        server: OpenAITestServer, build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_logprobs(body: Any, model: str, limits: Any, api_version: str | None = None) -> Any:
        if isinstance(body, dict) and "logprobs" in body:
            raise invalid_request("logprobs is not supported with this model.", "logprobs")
        return validate_request(body, model, limits, api_version)

    monkeypatch.setattr(openai_server, "validate_request", no_logprobs)
    classifier = build()
    result = await classifier.classify(VPN, taxonomy())
    rejected, accepted = server.completion_requests
    assert rejected.status == 400 and properties_of(accepted.body) == ["category_id", "confidence", "reasoning"]
    assert result.confidence_source is ConfidenceSource.SELF_RATED and 0.5 < result.confidence <= 1


async def test_a_deployment_that_ignores_logprobs_is_asked_for_confidence_from_then_on(
        server: OpenAITestServer, build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway that silently drops ``logprobs``: the first answer has no confidence at all (0, never written
    automatically); the classifier notices and asks for a self-rated confidence from the next request on."""
    def strip_logprobs(body: Any, model: str, limits: Any, api_version: str | None = None) -> Any:
        checked = validate_request(body, model, limits, api_version)
        return {k: v for k, v in checked.items() if k != "logprobs"} if isinstance(checked, dict) else checked

    monkeypatch.setattr(openai_server, "validate_request", strip_logprobs)
    classifier = build()
    first = await classifier.classify(VPN, taxonomy())
    assert first.verdict is Verdict.CHOSEN and first.confidence == 0.0
    assert first.confidence_source is ConfidenceSource.SELF_RATED and classifier.logprobs_missing
    second = await classifier.classify(PRINTER, taxonomy())
    assert properties_of(server.completion_requests[1].body) == ["category_id", "confidence", "reasoning"]
    assert second.confidence_source is ConfidenceSource.SELF_RATED and 0.5 < second.confidence <= 1


# ---------------------------------------------------------------------------------------------- Azure


async def test_azure_deployment_route(build: Build) -> None:
    async with OpenAITestServer(azure_deployments={"triage-prod": "gpt-4o-mini"}) as azure:
        classifier = build({"provider": "azure", "base_url": None, "azure_endpoint": azure.base_url,
                            "azure_deployment": "triage-prod", "api_version": "2024-10-21"})
        result = await classifier.classify(VPN, taxonomy())
        request = azure.completion_requests[0]
    assert request.path == "/openai/deployments/triage-prod/chat/completions"
    assert request.query["api-version"] == "2024-10-21" and request.headers["api-key"] == KEY
    assert request.body["model"] == "triage-prod"
    assert result.verdict is Verdict.CHOSEN and result.model == "gpt-4o-mini"
    assert result.confidence_source is ConfidenceSource.LOGPROBS and result.usage.cost_usd > 0


async def test_azure_v1_route(server: OpenAITestServer, build: Build) -> None:
    classifier = build({"provider": "azure", "base_url": f"{server.base_url}/openai/v1/",
                        "azure_deployment": "triage-prod"})
    result = await classifier.classify(VPN, taxonomy())
    request = server.completion_requests[0]
    assert request.path == "/openai/v1/chat/completions" and "api-version" not in request.query
    assert request.headers["api-key"] == KEY and request.body["model"] == "triage-prod"
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "201-1"


# ---------------------------------------------------------------------------------------------- transient errors


async def test_rate_limit_then_success_honours_retry_after(server: OpenAITestServer, build: Build) -> None:
    classifier = build()
    labels = {"tenant": classifier.tenant.id, "provider": "openai", "model": "gpt-4o-mini"}
    server.inject("rate_limit", retry_after=0.2)
    result = await classifier.classify(VPN, taxonomy())
    first, second = server.completion_requests
    assert result.verdict is Verdict.CHOSEN and result.usage.calls == 1
    assert first.status == 429 and second.status == 200
    assert second.received_at - first.received_at >= 0.19  # retry-after-ms honoured, not the 10 ms backoff
    assert metric("autotriage_llm_requests_total", **labels, status="rate_limited") == 1
    assert metric("autotriage_llm_requests_total", **labels, status="ok") == 1


async def test_rate_limit_exhausted_raises_transient(server: OpenAITestServer, build: Build) -> None:
    server.inject("rate_limit", times=3, retry_after=0.01)
    with pytest.raises(TransientError) as raised:
        await build({"max_retries": 2}).classify(VPN, taxonomy())
    assert raised.value.reason == "llm_rate_limited"
    assert raised.value.tenant_wide  # the account is rate limited: the runtime parks the tenant
    assert [r.status for r in server.completion_requests] == [429, 429, 429]


async def test_long_retry_after_goes_to_the_retry_topic(server: OpenAITestServer, build: Build) -> None:
    server.inject("rate_limit", retry_after=45)
    with pytest.raises(TransientError) as raised:
        await build().classify(VPN, taxonomy())
    assert raised.value.retry_after_s == pytest.approx(45)
    assert raised.value.tenant_wide
    assert len(server.completion_requests) == 1  # not slept in place


async def test_insufficient_quota_is_never_retried_and_pauses(server: OpenAITestServer, build: Build) -> None:
    classifier = build()
    gauge = {"tenant": classifier.tenant.id}
    server.inject("insufficient_quota")
    result = await classifier.classify(VPN, taxonomy())
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "llm_quota_exhausted"
    assert len(server.completion_requests) == 1
    assert classifier.paused and classifier.paused_until > 0
    assert metric("autotriage_llm_quota_exhausted", **gauge) == 1

    paused = await classifier.classify(PRINTER, taxonomy())  # paused: no request at all
    assert paused.reason == "llm_quota_exhausted" and len(server.completion_requests) == 1

    classifier.paused_until = 0.0  # the pause is over (account topped up)
    recovered = await classifier.classify(PRINTER, taxonomy())
    assert recovered.verdict is Verdict.CHOSEN and metric("autotriage_llm_quota_exhausted", **gauge) == 0


async def test_server_errors_then_success(server: OpenAITestServer, build: Build) -> None:
    server.inject("server_error", status=500)
    server.inject("server_error", status=502)  # Cloudflare HTML page
    result = await build({"max_retries": 2}).classify(VPN, taxonomy())
    assert [r.status for r in server.completion_requests] == [500, 502, 200]
    assert result.verdict is Verdict.CHOSEN


async def test_server_errors_exhausted(server: OpenAITestServer, build: Build) -> None:
    server.inject("server_error", times=2, status=503)
    with pytest.raises(TransientError) as raised:
        await build({"max_retries": 1}).classify(VPN, taxonomy())
    assert raised.value.reason == "llm_server_error" and len(server.completion_requests) == 2
    assert not raised.value.tenant_wide  # a provider error is not one tenant's: parking it would not help


async def test_timeout_then_success(server: OpenAITestServer, build: Build) -> None:
    server.inject("timeout", seconds=3)
    result = await build({"timeout_s": 0.15}).classify(VPN, taxonomy())
    assert result.verdict is Verdict.CHOSEN and len(server.completion_requests) == 2


async def test_timeouts_exhausted_raise_transient(server: OpenAITestServer, build: Build) -> None:
    classifier = build({"timeout_s": 0.15, "max_retries": 1})
    server.inject("timeout", times=2, seconds=3)
    with pytest.raises(TransientError) as raised:
        await classifier.classify(VPN, taxonomy())
    assert raised.value.reason == "llm_timeout" and len(server.completion_requests) == 2
    labels = {"tenant": classifier.tenant.id, "provider": "openai", "model": "gpt-4o-mini", "status": "timeout"}
    assert metric("autotriage_llm_requests_total", **labels) == 2


async def test_bad_key_is_permanent(build: Build) -> None:
    async with OpenAITestServer(api_keys=["sk-other"]) as strict:
        classifier = build({"base_url": f"{strict.base_url}/v1"})
        with pytest.raises(PermanentError) as raised:
            await classifier.classify(VPN, taxonomy())
        assert raised.value.reason == "llm_auth_error" and len(strict.completion_requests) == 1


async def test_rejected_parameter_is_dropped_once(server: OpenAITestServer, build: Build,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An api-version that does not know ``prompt_cache_key``: resend without it, and keep it off."""
    def old_api(body: Any, model: str, limits: Any, api_version: str | None = None) -> Any:
        if isinstance(body, dict) and "prompt_cache_key" in body:
            raise invalid_request("Unrecognized request argument supplied: prompt_cache_key", "prompt_cache_key")
        return validate_request(body, model, limits, api_version)

    monkeypatch.setattr(openai_server, "validate_request", old_api)
    classifier = build()
    assert (await classifier.classify(VPN, taxonomy())).verdict is Verdict.CHOSEN
    assert (await classifier.classify(PRINTER, taxonomy())).verdict is Verdict.CHOSEN
    assert [r.status for r in server.completion_requests] == [400, 200, 200]
    assert classifier.dropped_params == {"prompt_cache_key"}


# ---------------------------------------------------------------------------------------------- unusable answers


async def test_refusal_needs_human_and_usage_is_counted(server: OpenAITestServer, build: Build) -> None:
    classifier = build()
    tokens = {"tenant": classifier.tenant.id, "model": "gpt-4o-mini", "kind": "prompt"}
    server.inject("refusal", text="I'm sorry, but I can't assist with that request.")
    result = await classifier.classify(VPN, taxonomy())
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "refusal"
    assert "can't assist" in result.reasoning and len(server.completion_requests) == 1
    assert result.usage.calls == 1 and result.usage.cost_usd > 0
    assert metric("autotriage_llm_tokens_total", **tokens) == result.usage.prompt_tokens
    assert metric("autotriage_llm_cost_usd_total", tenant=classifier.tenant.id, model="gpt-4o-mini") == pytest.approx(
        result.usage.cost_usd)


async def test_length_needs_human(server: OpenAITestServer, build: Build) -> None:
    server.inject("length", fraction=0.4)
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "output_truncated"
    assert len(server.completion_requests) == 1 and result.usage.completion_tokens > 0


async def test_content_filter_on_the_prompt_400(build: Build) -> None:
    async with OpenAITestServer() as azure:
        classifier = build({"provider": "azure", "base_url": None, "azure_endpoint": azure.base_url,
                            "azure_deployment": "gpt-4o-mini"})
        azure.inject("content_filter_prompt", category="violence")
        result = await classifier.classify(VPN, taxonomy())
        assert len(azure.completion_requests) == 1 and azure.completion_requests[0].status == 400
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "content_filter"
    assert "prompt" in result.reasoning


async def test_content_filter_on_the_completion_200(build: Build) -> None:
    async with OpenAITestServer() as azure:
        classifier = build({"provider": "azure", "base_url": None, "azure_endpoint": azure.base_url,
                            "azure_deployment": "gpt-4o-mini"})
        azure.inject("content_filter_completion", category="self_harm")
        result = await classifier.classify(VPN, taxonomy())
        assert [r.status for r in azure.completion_requests] == [200]
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "content_filter"
    assert "answer" in result.reasoning and result.usage.prompt_tokens > 0


async def test_fenced_json_is_parsed_without_repair(server: OpenAITestServer, build: Build) -> None:
    server.inject("invalid_json", style="fence")
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "201-1"
    assert result.confidence_source is ConfidenceSource.LOGPROBS and len(server.completion_requests) == 1


async def test_broken_json_is_repaired_once(server: OpenAITestServer, build: Build) -> None:
    server.inject("invalid_json", style="broken")
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "201-1"
    first, second = server.completion_requests
    assert [m["role"] for m in second.body["messages"]] == ["system", "user", "assistant", "user"]
    assert "not valid JSON" in second.body["messages"][-1]["content"]
    assert second.body["messages"][:2] == first.body["messages"]  # same prefix: cacheable
    assert result.usage.calls == 2


async def test_invalid_choice_is_repaired(server: OpenAITestServer, build: Build) -> None:
    """A provider that does not enforce the enum answers an id outside the candidates: one repair."""
    answers = iter([json.dumps({"category_id": "999-9", "confidence": 0.9, "reasoning": "made up"})])

    def responder(body: dict[str, Any]) -> Reply:
        made_up = next(answers, None)
        return Reply(made_up, choice="999-9") if made_up else default_responder(body)

    server.responder = responder
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "201-1"
    correction = server.completion_requests[1].body["messages"][-1]["content"]
    assert "'999-9', which is not one of the listed ids" in correction


async def test_invalid_choice_twice_needs_human(server: OpenAITestServer, build: Build) -> None:
    server.responder = lambda body: Reply(json.dumps({"category_id": "nope", "confidence": 1, "reasoning": ""}))
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.NEEDS_HUMAN and result.reason == "invalid_answer"
    assert len(server.completion_requests) == 2 and result.usage.calls == 2


async def test_injected_invalid_choice_stays_within_the_enum(server: OpenAITestServer, build: Build) -> None:
    """With a strict enum the model can only pick a wrong-but-valid id: accepted, never invented."""
    server.inject("invalid_choice")
    result = await build().classify(VPN, taxonomy())
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None
    assert result.candidate.id in CATEGORIES and result.candidate.id != "201-1"


# ---------------------------------------------------------------------------------------------- two-stage picks


def big_taxonomy(tops: int = 40, children: int = 30) -> dict[str, tuple[str, ...]]:
    return {f"{t:02d}-{c:02d}": (f"Area{t:02d}", f"Topic{t:02d}x{c:02d}") for t in range(tops) for c in range(children)}


async def test_two_stage_within_the_500_enum_limit(build: Build) -> None:
    async with OpenAITestServer(enum_limit=500) as small:
        replies = capture(small)
        classifier = build({"base_url": f"{small.base_url}/v1"})
        ticket = Ticket(id="T-9", scope="12", summary="Area17 problem",
                        description="Something about Area17 and specifically Topic17x05 is broken.")
        result = await classifier.classify(ticket, taxonomy(big_taxonomy()))
        first, second = small.completion_requests
    assert [first.status, second.status] == [200, 200]
    assert len(enum_of(first.body)) == 41 and len(enum_of(second.body)) == 31
    assert enum_of(second.body) == [f"17-{c:02d}" for c in range(30)] + ["abstain"]  # only that area's children
    assert "Area17 (includes: Topic17x00" in first.body["messages"][0]["content"]
    assert result.verdict is Verdict.CHOSEN and result.candidate is not None and result.candidate.id == "17-05"
    assert result.confidence_source is ConfidenceSource.LOGPROBS
    assert result.confidence == pytest.approx(replies[0].confidence * replies[1].confidence, abs=1e-3)
    assert result.usage.calls == 2


async def test_two_stage_stops_when_the_first_stage_abstains(server: OpenAITestServer, build: Build) -> None:
    result = await build({"max_enum": 20}).classify(NONSENSE, taxonomy(big_taxonomy(4, 10)))
    assert result.verdict is Verdict.ABSTAINED and len(server.completion_requests) == 1


async def test_three_levels_when_a_group_is_still_too_big(server: OpenAITestServer, build: Build) -> None:
    cats = {f"{a}{b}{c}": (f"Area{a}", f"Sub{a}{b}", f"Item{a}{b}{c}") for a in "AB" for b in "xyz" for c in "123"}
    ticket = Ticket(id="T-8", scope="12", summary="AreaB SubBy ItemBy2", description="AreaB SubBy ItemBy2 broken")
    result = await build({"max_enum": 7}).classify(ticket, taxonomy(cats))
    enums = [enum_of(r.body) for r in server.completion_requests]
    assert [len(e) for e in enums] == [3, 4, 4]  # 2 areas, 3 subs, 3 items (+ abstain)
    assert all(len(e) <= 7 for e in enums)
    assert result.candidate is not None and result.candidate.id == "By2" and result.usage.calls == 3


# ---------------------------------------------------------------------------------------------- prompt caching


async def test_steady_stream_hits_the_prompt_cache_and_cost_drops(server: OpenAITestServer, build: Build) -> None:
    cats = {f"{t}-{c}": (f"Type{t}", f"Subtype{t}{c} with a longer descriptive label")
            for t in range(12) for c in range(10)}
    classifier = build()
    results: list[Classification] = []
    for n, ticket in enumerate([VPN, PRINTER, NONSENSE]):
        results.append(await classifier.classify(ticket.model_copy(update={"id": f"S-{n}"}), taxonomy(cats)))
    first, second, third = (r.usage for r in results)
    assert first.prompt_tokens >= 1024 and first.cached_tokens == 0
    assert second.cached_tokens >= 1024 and third.cached_tokens >= 1024
    assert second.cached_tokens / second.prompt_tokens > 0.8
    uncached_price = cost_usd(second.prompt_tokens, 0, second.completion_tokens, classifier.price)
    assert second.cost_usd < uncached_price * 0.6  # gpt-4o-mini: cached input at half price
    tokens = {"tenant": classifier.tenant.id, "model": "gpt-4o-mini"}
    assert metric("autotriage_llm_tokens_total", **tokens, kind="cached") == second.cached_tokens + third.cached_tokens
