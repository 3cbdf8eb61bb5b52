"""``autotriage eval`` with an LLM on the OpenAI test server: the cascade sends shortlists; ``--batch`` runs the
held-out tickets through the Batch API and resumes from its state file. (Trains the bundled sample's model.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from autotriage.commands import evaluate
from autotriage.core.errors import ConfigError
from autotriage.sandbox.openai_server import OpenAITestServer


async def test_eval_of_the_cascade_on_the_test_server_uses_the_shortlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    async with OpenAITestServer() as server:
        run = await evaluate.sample_eval("autotask", "cascade", environ={"OPENAI_API_KEY": "sk-test",
                                                               "OPENAI_BASE_URL": f"{server.base_url}/v1"})
        requests = server.completion_requests
    assert run.report.decisions.get("llm", 0) > 0 and run.report.usd_per_1000 > 0
    assert "local top-k recall (this set)" in run.facts
    enum_sizes = [len(r.body["response_format"]["json_schema"]["schema"]["properties"]["category_id"]["enum"])
                  for r in requests]
    assert max(enum_sizes) <= 71 and min(enum_sizes) < 71 // 3  # shortlists of the 70-category queue were sent


async def test_eval_through_the_batch_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(evaluate, "BATCH_POLL_S", 0.05)
    state = tmp_path / "eval-batch.json"
    async with OpenAITestServer() as server:
        environ = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{server.base_url}/v1"}
        run = await evaluate.sample_eval("halo", "llm", environ=environ, batch=state)
        assert len(server.batch.batches) == 1 and server.counters["completions"] == 0
        assert server.counters["batch_lines"] == run.report.n
        again = await evaluate.sample_eval("halo", "llm", environ=environ, batch=state)  # resumes: no new batch
        assert len(server.batch.batches) == 1
    assert run.report.decisions == {"llm": run.report.n} and run.report.usd_per_1000 > 0
    assert again.report.accuracy == run.report.accuracy
    with pytest.raises(ConfigError, match="--batch works with --provider llm only"):
        await evaluate.sample_eval("halo", "local", batch=state)
