"""``autotriage demo`` end to end: simulators, training, webhooks through all five stages, the tables."""

from __future__ import annotations

import io

from rich.console import Console

from autotriage.commands.demo import run_demo
from autotriage.sandbox.common import load_sample
from autotriage.sandbox.openai_server import OpenAITestServer

#: Smaller histories keep the test fast; the real demo trains on all of it.
HISTORY = 400


async def test_demo_runs_every_new_ticket_to_an_outcome() -> None:
    out = io.StringIO()
    result = await run_demo(Console(file=out, width=200), environ={}, history_limit=HISTORY, timeout_s=60)
    expected = sum(len(load_sample(psa).new) for psa in ("halo", "connectwise", "autotask"))
    assert len(result.rows) == expected and result.complete, [r.ticket_id for r in result.rows if not r.outcome]
    assert {r.psa for r in result.rows} == {"halo", "connectwise", "autotask"}
    assert result.accuracy > 0.6
    assert result.usd == 0.0
    counts = result.counts
    assert counts["applied"] > 0 and counts["skipped-noise"] > 0
    assert sum(counts.values()) == expected and "no outcome" not in counts
    text = out.getvalue()
    assert "accuracy vs bundled labels" in text and f"{result.accuracy:.1%}" in text
    assert "latency p50 / p95" in text and "results" in text
    # it ends with an insights summary per tenant, from the simulators' closed tickets and time entries
    assert set(result.insights) == {"bayside", "cobalt", "kessler"}
    for lines in result.insights.values():
        assert "tickets closed" in lines[0] and "technician hours" in lines[0]
        assert lines[1].startswith("most time: ") and any(line.startswith("automate first: ") for line in lines)
    assert "insights: closed tickets of the last 90 days" in text


async def test_demo_with_an_llm_uses_the_cascade() -> None:
    llm = OpenAITestServer()
    url = await llm.start()
    try:
        environ = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{url}/v1"}
        result = await run_demo(Console(file=io.StringIO(), width=200), environ=environ, psas=("halo",),
                                history_limit=HISTORY, timeout_s=60)
    finally:
        await llm.stop()
    assert result.complete and "cascade" in result.provider
    assert llm.completion_requests, "the unsure tickets went to the LLM"
    assert len(llm.completion_requests) < len(result.rows), "the confident ones did not"
    assert result.usd > 0
