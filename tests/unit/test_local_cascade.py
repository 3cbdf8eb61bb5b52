"""The cascade against the OpenAI-compatible test server: local when confident, LLM otherwise (with few-shot
examples), local fallback when the LLM fails or runs out of quota."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from autotriage.cascade import CascadeClassifier
from autotriage.classifiers import make_classifier
from autotriage.core import metrics
from autotriage.core.classifier import FALLBACK_REASON
from autotriage.core.models import Ticket, Verdict
from autotriage.core.tenants import TenantsFile
from autotriage.local.provider import LocalClassifier
from autotriage.local.store import save_model
from autotriage.local.training import train_model
from autotriage.sandbox.openai_server import OpenAITestServer
from tests.unit.test_local_model import VOCAB, synthetic, taxonomy

CLEAR = Ticket(id="1", summary="printer paper jam", description="toner tray printing stuck again", scope="1")
VAGUE = Ticket(id="2", summary="question", description="can someone call me back about the thing", scope="1")
TAXONOMY = taxonomy(list(VOCAB))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model on a history with some wrong labels, so its confidence separates clear from vague tickets."""
    model = train_model(synthetic(label_noise=0.1), tenant="acme")
    return save_model(model, tmp_path_factory.mktemp("m") / "acme.joblib")


@pytest_asyncio.fixture
async def llm() -> AsyncIterator[OpenAITestServer]:
    server = OpenAITestServer()
    await server.start()
    yield server
    await server.stop()


def tenants(llm_url: str, model_path: Path, **llm: Any) -> TenantsFile:
    """One tenant on the test LLM with the local model in front (no PSA is contacted)."""
    return TenantsFile.model_validate({"tenants": [{
        "id": "acme",
        "psa": {"kind": "autotask", "username": "u", "secret": {"env": "UNUSED"},
                "integration_code": {"env": "UNUSED"}, "zone_url": "http://127.0.0.1:9/"},
        "webhook": {"secret": {"env": "UNUSED"}},
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{llm_url}/v1", "max_retries": 0,
                "timeout_s": 5, "local_model_path": str(model_path), **llm},
    }]})


def cascade(llm: OpenAITestServer, model_path: Path, **settings: Any) -> CascadeClassifier:
    file = tenants(llm.base_url, model_path, **settings)
    built = make_classifier(file.tenants[0], file)
    assert isinstance(built, CascadeClassifier)
    return built


def decisions(decision: str) -> float:
    value = metrics.REGISTRY.get_sample_value("autotriage_local_model_decisions_total",
                                              {"tenant": "acme", "decision": decision})
    return value or 0.0


def midpoint(model_path: Path) -> float:
    """A threshold between the local confidence of the clear and of the vague ticket."""
    local = LocalClassifier.load(model_path)
    clear = local.predict(CLEAR, TAXONOMY).confidence
    vague = local.predict(VAGUE, TAXONOMY).confidence
    assert clear > vague + 0.1, (clear, vague)
    return round((clear + vague) / 2, 3)


async def test_factory_builds_the_cascade_with_the_measured_threshold(llm: OpenAITestServer, model_path: Path) -> None:
    built = cascade(llm, model_path)
    assert built.threshold == LocalClassifier.load(model_path).meta.threshold
    assert cascade(llm, model_path, cascade_threshold=0.42).threshold == 0.42
    await built.close()


async def test_confident_local_skips_the_llm_and_unsure_calls_it(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=midpoint(model_path))
    local_before, llm_before = decisions("local"), decisions("llm")
    confident = await classifier.classify(CLEAR, TAXONOMY)
    assert len(llm.completion_requests) == 0
    assert confident.provider == "local" and confident.usage.cost_usd == 0
    assert confident.candidate is not None and confident.candidate.path == ("Hardware", "Printer")
    unsure = await classifier.classify(VAGUE, TAXONOMY)
    assert len(llm.completion_requests) == 1
    assert unsure.provider == "openai" and unsure.usage.calls == 1
    assert (decisions("local") - local_before, decisions("llm") - llm_before) == (1, 1)
    await classifier.close()


async def test_few_shot_examples_appear_in_the_prompt(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, few_shot=3)
    ticket = Ticket(id="3", summary="vpn tunnel", description="anyconnect remote access drops", scope="1")
    await classifier.classify(ticket, TAXONOMY)
    prompt = llm.completion_requests[-1].prompt_text
    vpn_id = next(c.id for c in TAXONOMY.candidates if c.path == ("Network", "VPN"))
    assert "Past tickets of this MSP with their final categories" in prompt
    assert prompt.count(f"-> {vpn_id}") == 3
    without = cascade(llm, model_path, cascade_threshold=1.0, few_shot=0)
    await without.classify(ticket, TAXONOMY)
    assert "Past tickets of this MSP" not in llm.completion_requests[-1].prompt_text
    await classifier.close()
    await without.close()


async def test_server_errors_fall_back_to_the_local_model(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0)
    llm.inject("server_error", times=3)
    before = decisions("fallback")
    results = [await classifier.classify(CLEAR, TAXONOMY) for _ in range(3)]
    assert llm.counters["fault:server_error"] == 3
    for result in results:
        assert result.verdict is Verdict.CHOSEN and result.reason == FALLBACK_REASON
        assert result.provider == "local" and result.candidate is not None
        assert result.candidate.path == ("Hardware", "Printer")
        assert "the LLM failed" in result.reasoning
    assert decisions("fallback") - before == 3
    recovered = await classifier.classify(CLEAR, TAXONOMY)
    assert recovered.provider == "openai" and recovered.reason != FALLBACK_REASON
    await classifier.close()


async def test_quota_exhaustion_falls_back_and_pauses_the_llm(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0)
    llm.inject("insufficient_quota")
    first = await classifier.classify(CLEAR, TAXONOMY)
    assert first.reason == FALLBACK_REASON and "out of quota" in first.reasoning
    assert first.candidate is not None
    calls = len(llm.completion_requests)
    second = await classifier.classify(VAGUE, TAXONOMY)  # paused: the LLM is not even asked
    assert second.reason == FALLBACK_REASON and "paused" in second.reasoning
    assert len(llm.completion_requests) == calls
    await classifier.close()
