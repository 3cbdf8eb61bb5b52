"""The classifier's building blocks without a server: cost, schema limits, answers, errors, hierarchy."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import httpx2
import openai
import pytest

from autotriage.core.cost import cost_usd, usage_from_openai
from autotriage.core.models import Candidate, ConfidenceSource, Ticket
from autotriage.core.resilience import RetryPolicy
from autotriage.core.tenants import DEFAULT_PRICES, Price, parse_tenants
from autotriage.core.text.tokens import count_tokens
from autotriage.llm.answer import Answer, confidence_of, logprob_confidence, parse_answer
from autotriage.llm.errors import classify_failure, parse_duration, server_delay
from autotriage.llm.hierarchy import split_level
from autotriage.llm.openai_provider import is_reasoning_model, reasoning_effort_for
from autotriage.llm.prompt import DEFAULT_SYSTEM_TEMPLATE, render_prompt
from autotriage.llm.schema import choice_schema, fits_enum
from autotriage.sandbox.openai_schema_rules import SchemaLimits, StrictSchemaError, check_strict_schema
from autotriage.sandbox.openai_server import build_logprobs

# ---------------------------------------------------------------------------------------------- cost


def test_cost_arithmetic_per_price_table() -> None:
    mini = DEFAULT_PRICES["gpt-4o-mini"]
    # (prompt - cached) * in + cached * cached_in + completion * out, per 1M tokens
    assert cost_usd(2000, 1536, 100, mini) == pytest.approx((464 * 0.15 + 1536 * 0.075 + 100 * 0.60) / 1e6)
    assert cost_usd(1_000_000, 0, 0, DEFAULT_PRICES["gpt-4.1-nano"]) == pytest.approx(0.10)
    assert cost_usd(1_000_000, 1_000_000, 1_000_000, DEFAULT_PRICES["gpt-5-mini"]) == pytest.approx(0.025 + 2.00)
    assert cost_usd(500, 0, 50, None) == 0.0


def test_usage_from_openai_reads_cached_and_reasoning_tokens() -> None:
    raw = SimpleNamespace(prompt_tokens=1800, completion_tokens=300,
                          prompt_tokens_details=SimpleNamespace(cached_tokens=1280),
                          completion_tokens_details=SimpleNamespace(reasoning_tokens=256))
    price = Price(input=0.25, cached_input=0.025, output=2.0)
    usage = usage_from_openai(raw, price)
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, usage.reasoning_tokens) == (
        1800, 1280, 300, 256)
    assert usage.cost_usd == pytest.approx((520 * 0.25 + 1280 * 0.025 + 300 * 2.0) / 1e6) and usage.calls == 1
    assert usage_from_openai(None, price).calls == 1


def test_tenants_file_price_table_overrides_the_defaults() -> None:
    tenants = parse_tenants("tenants: []\nprices:\n  gpt-4o-mini: {input: 0.2, cached_input: 0.1, output: 0.8}\n")
    assert tenants.price("gpt-4o-mini") == Price(input=0.2, cached_input=0.1, output=0.8)
    assert tenants.price("gpt-4.1-nano") == DEFAULT_PRICES["gpt-4.1-nano"]
    assert tenants.price("my-finetune") is None


# ---------------------------------------------------------------------------------------------- schema


def test_choice_schema_is_strict_and_fits_the_500_floor() -> None:
    ids = [f"{n:03d}-{n % 7}" for n in range(499)]
    schema = choice_schema(ids)["json_schema"]
    check_strict_schema(schema["name"], schema["schema"], SchemaLimits.for_enum_limit(500))
    assert schema["schema"]["properties"]["category_id"]["enum"][-1] == "abstain"
    too_many = choice_schema([*ids, "extra"])["json_schema"]
    with pytest.raises(StrictSchemaError):
        check_strict_schema(too_many["name"], too_many["schema"], SchemaLimits.for_enum_limit(500))


@pytest.mark.parametrize(("count", "length", "max_enum", "fits"), [
    (499, 5, 500, True),      # 499 ids + abstain = 500 values
    (500, 5, 500, False),
    (300, 30, 500, False),    # 9,000 characters > 7,500 for an enum of more than 250 values
    (300, 30, 1000, True),
    (200, 70, 500, True),     # 14,000 characters in 201 values: under the 15,000 total
    (230, 70, 500, False),    # 16,100 characters: over the 15,000 total
])
def test_fits_enum(count: int, length: int, max_enum: int, fits: bool) -> None:
    ids = [f"{n:0{length}d}" for n in range(count)]
    assert fits_enum(ids, max_enum) is fits


def test_prompt_static_part_first_ticket_last() -> None:
    ticket = Ticket(id="1", scope="1", summary="x", company="Acme")
    candidates = [Candidate(id="a1", path=("Net", "VPN"))]
    one = render_prompt(ticket, candidates, summary="VPN down", description="error 809")
    two = render_prompt(ticket, candidates, summary="Printer", description="jam")
    assert one.system == two.system and "- a1: Net > VPN" in one.system
    assert one.user.endswith("error 809") and "client: Acme" in one.user


# ---------------------------------------------------------------------------------------------- answers


def test_choice_schema_without_confidence_is_strict_and_keeps_the_order() -> None:
    schema = choice_schema(["c1", "c2"], confidence=False)["json_schema"]
    check_strict_schema(schema["name"], schema["schema"], SchemaLimits.for_enum_limit(500))
    assert list(schema["schema"]["properties"]) == ["category_id", "reasoning"]
    assert schema["schema"]["required"] == ["category_id", "reasoning"]
    assert list(choice_schema(["c1"])["json_schema"]["schema"]["properties"]) == [
        "category_id", "confidence", "reasoning"]


def test_shortlist_prompt_is_compact_and_keeps_the_rules() -> None:
    ticket = Ticket(id="1", scope="s", summary="RMM alert: disk C: 95% on FS01", description="quoted mail below")
    shortlist = [Candidate(id=f"c{n}", path=("Servers", f"Item {n}")) for n in range(1, 11)]
    full = render_prompt(ticket, shortlist, summary=ticket.summary, description="", scope_name="Service Desk",
                         shortlisted=True, system_template=DEFAULT_SYSTEM_TEMPLATE)
    short = render_prompt(ticket, shortlist, summary=ticket.summary, description="", scope_name="Service Desk",
                          shortlisted=True)
    instructions = [count_tokens(p.system.split("- c1:")[0]) for p in (full, short)]
    assert instructions[1] < instructions[0] * 0.7  # the same list after a third fewer instruction tokens
    text = short.system.lower()
    for rule in ("quoted emails", "rmm alert", "likeliest", '"abstain"', "personal data", "- c10: servers > item 10"):
        assert rule in text
    assert short.user == full.user


def test_prompts_mention_confidence_only_when_the_schema_asks_for_it() -> None:
    ticket = Ticket(id="1", scope="s", summary="VPN down", description="error 809")
    candidates = [Candidate(id="1", path=("Network", "VPN"))]
    for shortlisted in (False, True):
        asked = render_prompt(ticket, candidates, summary="VPN down", description="", shortlisted=shortlisted)
        not_asked = render_prompt(ticket, candidates, summary="VPN down", description="", shortlisted=shortlisted,
                                  ask_confidence=False)
        assert "confidence:" in asked.system and "confidence" not in not_asked.system
        assert "reasoning:" in not_asked.system


def test_parse_answer_variants() -> None:
    assert parse_answer('{"category_id": "a1", "confidence": 0.8, "reasoning": "r"}') == Answer("a1", 0.8, "r")
    assert parse_answer('```json\n{"category_id": "a1", "confidence": 0.8, "reasoning": ""}\n```') is not None
    assert parse_answer('Sure! {"category_id": "a1", "confidence": 85, "reasoning": ""} Hope it helps') == Answer(
        "a1", 0.85, "")
    assert parse_answer('{"category_id": "a1", "confidence": "high"') is None
    assert parse_answer('{"category": "a1"}') is None


def _tokens(text: str, choice: str, confidence: float) -> list[Any]:
    return [SimpleNamespace(**t) for t in build_logprobs(text, choice, confidence, 0, [])]


def test_logprob_confidence_sums_the_id_tokens() -> None:
    text = '{"category_id":"201-1","confidence":0.9,"reasoning":"The 201-1 VPN"}'
    assert logprob_confidence("201-1", _tokens(text, "201-1", 0.73)) == pytest.approx(0.73, abs=1e-4)
    assert logprob_confidence("201-1", []) is None
    assert logprob_confidence("999", _tokens(text, "201-1", 0.73)) is None
    unicode_text = '{"category_id":"Drucker-Störung","confidence":1,"reasoning":""}'
    assert logprob_confidence("Drucker-Störung", _tokens(unicode_text, "Drucker-Störung", 0.4)) == pytest.approx(
        0.4, abs=1e-4)


def test_confidence_falls_back_to_self_rating() -> None:
    answer = Answer("a1", 0.66, "")
    assert confidence_of(answer, SimpleNamespace(logprobs=None)) == (0.66, ConfidenceSource.SELF_RATED)
    text = '{"category_id":"a1","confidence":0.66,"reasoning":""}'
    choice = SimpleNamespace(logprobs=SimpleNamespace(content=_tokens(text, "a1", 0.5)))
    found, source = confidence_of(answer, choice)
    assert source is ConfidenceSource.LOGPROBS and math.isclose(found, 0.5, abs_tol=1e-4)


# ---------------------------------------------------------------------------------------------- errors and retries


def _status_error(status: int, body: Any, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, json=body, request=request)
    client = openai.OpenAI(api_key="sk-x")
    return client._make_status_error_from_response(response)


def test_classify_failure_kinds() -> None:
    quota = _status_error(429, {"error": {"code": "insufficient_quota", "type": "insufficient_quota"}})
    spend = _status_error(429, {"error": {"code": "monthly_spend_limit_exceeded"}})
    rate = _status_error(429, {"error": {"code": "rate_limit_exceeded"}}, {"retry-after-ms": "1500"})
    filtered = _status_error(400, {"error": {"code": "content_filter", "param": "prompt"}})
    assert classify_failure(quota).kind == "quota_exhausted" and not classify_failure(quota).retriable
    assert classify_failure(spend).kind == "quota_exhausted"
    assert (classify_failure(rate).kind, classify_failure(rate).wait) == ("rate_limited", 1.5)
    assert classify_failure(filtered).kind == "content_filter" and not classify_failure(filtered).retriable
    assert classify_failure(_status_error(503, {})).retriable
    assert classify_failure(_status_error(401, {})).kind == "auth_error"
    assert classify_failure(_status_error(404, {})).kind == "not_found"
    assert classify_failure(TimeoutError()).kind == "timeout"


def test_server_delay_headers() -> None:
    assert server_delay({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert server_delay({"retry-after": "7"}) == 7.0
    assert 0 <= (server_delay({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) or 0) < 1  # in the past
    assert server_delay({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s",
                         "x-ratelimit-remaining-requests": "10", "x-ratelimit-reset-requests": "1s"}) == 360
    assert server_delay({}) is None
    assert parse_duration("20ms") == 0.02 and parse_duration("1h2m3.5s") == 3723.5 and parse_duration("soon") is None


def test_backoff_is_bounded_with_jitter() -> None:
    policy = RetryPolicy(backoff_base_s=0.5, backoff_cap_s=8)
    assert all(0.25 <= policy.backoff(1) <= 0.5 for _ in range(50))
    assert all(4 <= policy.backoff(10) <= 8 for _ in range(50))


@pytest.mark.parametrize(("model", "effort"), [
    ("gpt-5-mini", "minimal"), ("gpt-5", "minimal"), ("gpt-5-nano-2025-08-07", "minimal"), ("gpt-5.1", "low"),
    ("o4-mini", "low"), ("gpt-5-chat-latest", None), ("gpt-4o-mini", None), ("gpt-4.1-nano", None),
])
def test_reasoning_effort_per_model(model: str, effort: str | None) -> None:
    assert reasoning_effort_for(model) == effort
    assert is_reasoning_model(model) is (effort is not None)


# ---------------------------------------------------------------------------------------------- hierarchy


def test_split_level_groups_and_direct_options() -> None:
    candidates = [
        Candidate(id="1", path=("Hardware",)),
        Candidate(id="2", path=("Hardware", "Laptop")),
        Candidate(id="3", path=("Hardware", "Laptop", "Won't boot")),
        Candidate(id="4", path=("Hardware", "Printer")),
        Candidate(id="g1", path=("Network", "VPN")),
        Candidate(id="6", path=("Network", "Wi-Fi")),
        Candidate(id="7", path=("Security", "Phishing")),
    ]
    top = split_level(candidates, 0)
    assert [o.label for o in top.options] == [
        "Hardware (includes: Laptop, Printer)", "Network (includes: VPN, Wi-Fi)", "Security > Phishing"]
    hardware_id, network_id = top.options[0].id, top.options[1].id
    assert "g1" not in (hardware_id, network_id)  # never collides with a real id
    assert [c.id for c in top.members[network_id]] == ["g1", "6"]
    inner = split_level(top.members[hardware_id], 1)
    assert [o.label for o in inner.options] == ["Hardware", "Hardware > Laptop (includes: Won't boot)",
                                                "Hardware > Printer"]
