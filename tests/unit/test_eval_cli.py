"""``autotriage eval`` with an LLM behind it (``--provider llm|cascade``), for a tenant and for ``--sample``,
against the OpenAI-compatible test server over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.local.store import save_model
from autotriage.local.training import train_model
from autotriage.sandbox.openai_server import OpenAITestServer
from tests.support.threaded import serving
from tests.unit.test_local_model import VOCAB, synthetic


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    server = OpenAITestServer()

    async def start() -> OpenAITestServer:
        await server.start()
        return server

    async def stop(s: OpenAITestServer) -> None:
        await s.stop()

    with serving(start, stop) as running:
        yield running.base_url


@pytest.fixture
def tenant_setup(tmp_path: Path, llm_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    model = save_model(train_model(synthetic(label_noise=0.1), tenant="acme"), tmp_path / "acme.joblib")
    monkeypatch.setenv("EVAL_TEST_OPENAI_KEY", "sk-test")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(f"""
tenants:
  - id: acme
    psa: {{kind: halo, base_url: "http://127.0.0.1:9", client_id: app, client_secret: {{env: EVAL_TEST_OPENAI_KEY}}}}
    webhook: {{username: halo, password: {{env: EVAL_TEST_OPENAI_KEY}}}}
    llm:
      provider: openai
      model: gpt-4o-mini
      base_url: {llm_url}/v1
      api_key: {{env: EVAL_TEST_OPENAI_KEY}}
      max_retries: 0
      local_model_path: {model}
""", encoding="utf-8")
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps({"summary": e.summary, "details": e.description,
                                          "category": list(e.path or ()), "scope": "1"})
                              for e in synthetic(per_category=3, seed=11)), encoding="utf-8")
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text(json.dumps({"scopes": [{"id": "1", "name": "Incident", "paths": [list(p) for p in VOCAB]}]}))
    return {"tenants": tenants, "data": data, "taxonomy": taxonomy, "dir": tmp_path}


@pytest.mark.parametrize("provider", ["cascade", "llm"])
def test_tenant_eval_with_an_llm_writes_the_report(tenant_setup: dict[str, Path], provider: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    report = tenant_setup["dir"] / "eval.md"
    code = main(["eval", "--tenant", "acme", "--data", str(tenant_setup["data"]), "--provider", provider,
                 "--taxonomy", str(tenant_setup["taxonomy"]), "--report", str(report),
                 "--tenants-file", str(tenant_setup["tenants"])])
    assert code == 0, capsys.readouterr().err
    text = report.read_text(encoding="utf-8")
    assert f"{provider} (openai gpt-4o-mini)" in text
    assert "accuracy" in text.lower()


def test_sample_eval_with_the_cascade(llm_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{llm_url}/v1")
    report = tmp_path / "eval.md"
    assert main(["eval", "--sample", "halo", "--provider", "cascade", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "cascade (openai gpt-4o-mini)" in out
    assert "local model at the cascade threshold" in report.read_text(encoding="utf-8")
