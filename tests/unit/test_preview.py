"""``autotriage preview``: what the LLM would be sent, from a JSONL file or from the PSA (Halo simulator)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.commands.preview import _from_psa, preview_ticket
from autotriage.core.tenants import TenantsFile
from autotriage.sandbox.halo import HaloSimulator

TENANTS = """\
tenants:
  - id: acme
    psa: {kind: halo, base_url: 'https://acme.halopsa.com', client_id: app, client_secret: {env: PREVIEW_SECRET}}
    webhook: {username: halo, password: {env: PREVIEW_SECRET}}
    llm: {model: gpt-4o-mini, ticket_token_budget: 300}
  - id: raw
    psa: {kind: halo, base_url: 'https://raw.halopsa.com', client_id: app, client_secret: {env: PREVIEW_SECRET}}
    webhook: {username: halo, password: {env: PREVIEW_SECRET}}
    policy: {redact_pii: false, noise_filter: false}
"""

TICKETS = [
    {"id": "T1", "title": "Automatic reply: Invoice", "description": "I am out of the office until 9 March with no "
     "access to email.", "noise": "out_of_office"},
    {"id": "T2", "title": "RE: FW: Outlook password", "description": "<p>Outlook asks for my password every hour. "
     "Call me on (555) 0123 or mail jane@harbor.example.com, the wifi password is bluefish.</p>"
     "<p>Kind regards,<br>Jane</p>", "category": "Email > Outlook"},
    {"id": "T3", "title": "Slow PC", "description": "word " * 3000},
]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("PREVIEW_SECRET", "x")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(TENANTS, encoding="utf-8")
    data = tmp_path / "tickets.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in TICKETS), encoding="utf-8")
    return tenants, data


def test_json_preview_shows_what_would_be_sent(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tenants, data = files
    assert main(["preview", "--tenant", "acme", "--data", str(data), "--tenants-file", str(tenants), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["T1", "T2", "T3"]
    assert rows[0]["noise"] == "out_of_office" and rows[0]["text"] is None
    assert rows[0]["labelled_noise"] == "out_of_office"
    two = rows[1]
    assert two["noise"] is None and two["labelled_category"] == "Email > Outlook"
    assert two["text"] == ("FW: Outlook password\n\nOutlook asks for my password every hour. Call me on [PHONE_1] or "
                           "mail [EMAIL_1], the wifi password is [SECRET_1].")
    assert two["redactions"] == {"EMAIL": 1, "PHONE": 1, "SECRET": 1}
    assert two["tokens"] > 10 and two["cost_usd"] > 0 and two["prompt_tokens_estimate"] > two["tokens"]
    assert rows[2]["tokens"] <= 300 + 5 and rows[2]["text"].endswith("[...]")  # trimmed to the tenant's budget


def test_policy_without_redaction_or_noise_filter(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tenants, data = files
    assert main(["preview", "--tenant", "raw", "--data", str(data), "--tenants-file", str(tenants), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["noise"] is None and "out of the office" in rows[0]["text"]
    assert "jane@harbor.example.com" in rows[1]["text"] and rows[1]["redactions"] == {}


def test_readable_preview(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tenants, data = files
    assert main(["preview", "--tenant", "acme", "--data", str(data), "--tenants-file", str(tenants)]) == 0
    out = capsys.readouterr().out
    assert "out_of_office (auto-reply subject): not sent to the LLM" in out
    assert "EMAIL x1, PHONE x1, SECRET x1" in out and "[SECRET_1]" in out
    assert "3 tickets: 1 noise" in out and "agrees with the label on 1/1" in out


def test_unknown_tenant_is_a_clear_error(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tenants, data = files
    assert main(["preview", "--tenant", "nope", "--data", str(data), "--tenants-file", str(tenants)]) == 2
    assert "tenant 'nope' is not in" in capsys.readouterr().err


async def test_preview_of_a_ticket_read_from_the_psa() -> None:
    sim = HaloSimulator()
    await sim.start()
    try:
        entry, env = sim.tenant_config("acme")
        tenants = TenantsFile.model_validate({"tenants": [entry]})
        tenants.resolve_secrets(env)
        tenant = tenants.tenants[0]
        tid = sim.create_ticket("Laptop will not boot", "My laptop shows a black screen. Call 555-0142.", 1)
        ticket, taxonomy = await _from_psa(tenant, tid)
    finally:
        await sim.stop()
    row = preview_ticket(ticket, tenant, tenants, taxonomy)
    assert row["id"] == tid and row["noise"] is None
    assert row["text"] == "Laptop will not boot\n\nMy laptop shows a black screen. Call [PHONE_1]."
    assert row["candidates_counted"] is (taxonomy is not None)
