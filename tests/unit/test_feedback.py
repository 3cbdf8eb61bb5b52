"""``autotriage feedback`` on the simulators: the agreement it reports is exactly what technicians did."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.feedback.decisions import JsonlDecisionLog
from autotriage.policy.feedback import Decision, Verdict, agreement, bucket_of, judge
from autotriage.psa.base import ClosedTicket
from autotriage.sandbox.common import Simulator
from autotriage.sandbox.registry import make_simulator
from tests.support.closing import play_month, write_tenants

WHEN = datetime(2026, 1, 5, tzinfo=UTC)


def _decision(path: tuple[str, ...], scope: str = "12", confidence: float = 0.9, mode: str = "apply") -> Decision:
    return Decision(tenant="acme", ticket_id="1", scope=scope, action="applied", mode=mode, path=path,
                    confidence=confidence, decided_at=WHEN)


def test_verdicts_tell_a_correction_from_a_move_and_compare_loosely() -> None:
    ours = ("Hardware", "Laptop", "Battery")
    assert judge(_decision(ours), ("hardware", " Laptop", "battery"), "12").verdict is Verdict.KEPT
    changed = judge(_decision(ours), ("Hardware", "Laptop", "Screen"), "12")
    assert changed.verdict is Verdict.CHANGED
    assert (changed.agrees_at("1"), changed.agrees_at("2"), changed.agrees_at("full")) == (True, True, False)
    assert judge(_decision(ours), ("Alerts", "Disk"), "14").verdict is Verdict.RESCOPED
    assert judge(_decision(ours), (), "12").verdict is Verdict.UNCATEGORIZED
    assert judge(_decision(()), ("Hardware",), "12").verdict is Verdict.NO_CATEGORY


def test_agreement_per_mode_and_confidence_bucket() -> None:
    items = [judge(_decision(("A",), confidence=0.95), ("A",), "12"),
             judge(_decision(("A",), confidence=0.91), ("B",), "12"),
             judge(_decision(("A",), confidence=0.42, mode="suggest"), ("A",), "12"),
             judge(_decision(("A",), scope="12"), ("A",), "99")]
    report = agreement("acme", items)
    assert (report.rate("apply").agreed, report.rate("apply").total) == (1, 2)
    assert report.rate("suggest").ratio == 1.0
    assert report.by_bucket[0.9].total == 2 and report.by_bucket[0.4].ratio == 1.0
    assert report.verdicts[("apply", Verdict.RESCOPED)] == 1
    assert [c.final_path for c in report.corrections] == [("B",)]
    assert bucket_of(1.0) == 0.9 and bucket_of(0.0) == 0.0


@pytest.mark.parametrize("psa", ["connectwise", "autotask", "halo"])
async def test_feedback_reports_the_agreement_exactly(psa: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_simulator(psa)
    await sim.start()
    try:
        rescope = 20
        month = play_month(sim, psa, n=500, change=0.15, rescope=rescope, by_workflow=10)
        decisions = tmp_path / "decisions.jsonl"
        await JsonlDecisionLog(decisions).record(month.decisions)
        tenants = tmp_path / "tenants.yaml"
        monkeypatch.setenv("COLUMNS", "200")
        for key, value in write_tenants(sim, tenants).items():
            monkeypatch.setenv(key, value)
        metrics_file = tmp_path / "feedback.prom"
        corrections = tmp_path / "corrections.jsonl"
        code = await asyncio.to_thread(main, [
            "feedback", "--tenant", "acme", "--since", "1d", "--decisions", str(decisions), "--tenants-file",
            str(tenants), "--metrics-file", str(metrics_file), "--corrections", str(corrections),
            "--history-rate", "500"])
    finally:
        await sim.stop()
    assert code == 0
    out = capsys.readouterr().out
    kept = 500 - 75 - rescope
    assert len(month.changed) == 75
    # the seeded history closed days ago: only this month's 500 tickets are in the window
    assert "500 tickets closed" in out and "500 of them decided by autotriage" in out
    ratio = kept / (kept + 75)
    prom = metrics_file.read_text()
    assert f'autotriage_feedback_agreement_ratio{{level="full",mode="apply",tenant="acme"}} {ratio}' in prom
    assert 'autotriage_feedback_tickets{mode="apply",tenant="acme",verdict="changed"} 75.0' in prom
    assert f'verdict="rescoped"}} {float(rescope)}' in prom
    assert f"{ratio:.1%}" in out
    # who changed it, from the PSA's history: one history call per corrected ticket, none for the rest
    assert "who changed autotriage's category (75 history reads" in out
    assert re.search(r"a technician\s*│\s*65\b", out) and re.search(r"re-scoped .*│\s*20\b", out)
    assert re.search(r"workflow rule or API user\s*│\s*10\b", out) and re.search(r"unknown .*│\s*0\b", out)
    assert 'autotriage_feedback_changed_by_tickets{changed_by="technician",tenant="acme"} 65.0' in prom
    assert f'autotriage_feedback_changed_by_tickets{{changed_by="rescoped",tenant="acme"}} {float(rescope)}' in prom
    lines = corrections.read_text().splitlines()
    assert len(lines) == 75
    import json

    written = {row["id"]: tuple(row["category"]) for row in map(json.loads, lines)}
    assert written == month.changed


@pytest.mark.parametrize(("psa", "operation", "pages"), [
    ("connectwise", "list_tickets", 3), ("autotask", "query_tickets", 3), ("halo", "list_tickets", 13)])
async def test_closed_window_is_paged_rate_aware_and_carries_hours(psa: str, operation: str, pages: int) -> None:
    sim = make_simulator(psa)
    await sim.start()
    try:
        sim.inject(429, times=1, retry_after=0, operations={operation})  # throttled once mid-read: waits, goes on
        rows = [r async for r in _closed_in(sim, 3650)]
        recent = [r async for r in _closed_in(sim, 30)]
    finally:
        await sim.stop()
    total = {"connectwise": 2200, "autotask": 1300, "halo": 1300}[psa]
    assert len(rows) == total and len({r.ticket.id for r in rows}) == total
    assert all(f.times == 0 for f in sim.faults)  # the 429 was answered, and the read still got everything
    assert sim.requests[operation] >= pages + 1  # every page, and the throttled request again
    assert all(r.hours and r.hours > 0 for r in rows) and all(r.ticket.category.path for r in rows)
    stamps = [r.closed_at for r in rows]
    assert None not in stamps
    if psa != "autotask":  # Autotask has no server-side sort: each 500-row page is sorted
        assert stamps == sorted(stamps)  # type: ignore[type-var]
    cutoff = datetime.now(UTC) - timedelta(days=30)
    assert 0 < len(recent) < total and all(r.closed_at and r.closed_at >= cutoff for r in recent)
    if psa == "autotask":
        assert sim.requests["query_time_entries"] >= pages


def test_wilson_bound_and_threshold_proposal() -> None:
    from autotriage.policy.tuning import propose, wilson_lower

    assert wilson_lower(0, 0) == 0.0
    assert abs(wilson_lower(95, 100) - 0.8882) < 1e-3  # the textbook value
    assert wilson_lower(10, 10) < 1.0
    # confidence 0.3..1.0; tickets at >= 0.8 agree 99 %, below 0.8 only 60 %
    conf = [0.3 + 0.7 * i / 999 for i in range(1000)]
    ok = [(c >= 0.8 and i % 100 != 0) or (c < 0.8 and i % 5 < 3) for i, c in enumerate(conf)]
    point = propose(conf, ok, 0.95, 30)
    assert point is not None and 0.78 <= point.threshold <= 0.85 and point.lower_bound >= 0.95
    assert abs(point.coverage - sum(c >= point.threshold for c in conf) / 1000) < 1e-9
    assert propose(conf[:20], ok[:20], 0.5, 30) is None  # too few tickets
    assert propose(conf, [i % 2 == 0 for i in range(1000)], 0.9, 30) is None  # never precise enough


async def test_tune_prints_and_never_edits_the_tenants_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_simulator("connectwise")
    await sim.start()
    try:
        month = play_month(sim, "connectwise", n=400, change=0.15)
        decisions = tmp_path / "decisions.jsonl"
        await JsonlDecisionLog(decisions).record(month.decisions)
        tenants = tmp_path / "tenants.yaml"
        monkeypatch.setenv("COLUMNS", "250")
        for key, value in write_tenants(sim, tenants).items():
            monkeypatch.setenv(key, value)
        before = tenants.read_bytes()
        code = await asyncio.to_thread(main, ["tune", "--tenant", "acme", "--since", "1d", "--decisions",
                                              str(decisions), "--tenants-file", str(tenants),
                                              "--suggest-precision", "0.75"])
    finally:
        await sim.stop()
    out = capsys.readouterr().out
    assert code == 0 and tenants.read_bytes() == before
    assert "proposed thresholds from 400 judged tickets" in out
    assert "nothing was changed" in out and "covers" in out
    assert "not reachable: agreement too low" in out and "too few tickets (" in out


async def test_backfill_classifies_closed_history_in_shadow_mode_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from autotriage.commands.common import labelled
    from autotriage.local.store import save_model
    from autotriage.local.training import TrainingConfig, train_model
    from autotriage.sandbox.common import load_sample

    sample = load_sample("halo")
    model = tmp_path / "model.joblib"
    save_model(train_model(labelled([t for t in sample.history if t.category]), tenant="acme",
                           config=TrainingConfig(keep_neighbours=False)), model)
    sim = make_simulator("halo")
    await sim.start()
    try:
        tenants = tmp_path / "tenants.yaml"
        monkeypatch.setenv("COLUMNS", "200")
        for key, value in write_tenants(sim, tenants, {"provider": "local", "local_model_path": str(model)}).items():
            monkeypatch.setenv(key, value)
        decisions = tmp_path / "decisions.jsonl"
        args = ["backfill", "--tenant", "acme", "--since", "10d", "--decisions", str(decisions), "--rate", "500",
                "--tenants-file", str(tenants)]
        assert await asyncio.to_thread(main, args) == 0
        first = capsys.readouterr().out
        writes_before = sim.writes_total
        assert await asyncio.to_thread(main, args) == 0
        second = capsys.readouterr().out
        closed = [c async for c in _closed_in(sim, 10)]
    finally:
        await sim.stop()
    assert closed and f"{len(closed)} closed tickets, 0 already decided, {len(closed)} classified" in first
    assert f"{len(closed)} already decided, 0 classified" in second  # resumed: nothing twice
    assert sim.writes_total == writes_before == 0  # shadow: nothing written to the PSA
    logged = await JsonlDecisionLog(decisions).load("acme")
    assert len(logged) == len(closed) and {d.mode for d in logged.values()} == {"backfill"}
    assert sum(d.path == c.ticket.category.path for d, c in ((logged[c.ticket.id], c) for c in closed)) > 0.5 * len(
        closed)  # the model agrees with most of the history it learned from


async def _closed_in(sim: Simulator, days: int) -> AsyncIterator[ClosedTicket]:
    from autotriage.core.tenants import TenantsFile
    from autotriage.psa.registry import make_client

    entry, env = sim.tenant_config("acme")
    tenants = TenantsFile.model_validate({"tenants": [entry]})
    tenants.resolve_secrets(env)
    client = make_client(tenants.tenants[0])
    now = datetime.now(UTC)
    try:
        async for item in client.closed_since(now - timedelta(days=days), now):
            yield item
    finally:
        await client.close()


def test_user_errors_name_cause_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_simulator("halo")  # not started: the errors come before any PSA call
    sim.base_url = "http://127.0.0.1:9"
    tenants = tmp_path / "tenants.yaml"
    for key, value in write_tenants(sim, tenants).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUTOTRIAGE_BUS", raising=False)
    monkeypatch.chdir(tmp_path)  # no outcomes.jsonl or decisions.jsonl here
    assert main(["feedback", "--tenant", "acme", "--tenants-file", str(tenants)]) == 2
    assert "pass --decisions FILE.jsonl" in capsys.readouterr().err
    assert main(["tune", "--tenant", "nobody", "--tenants-file", str(tenants)]) == 2
    assert "tenant 'nobody' is not in" in capsys.readouterr().err
    assert main(["feedback", "--tenant", "acme", "--since", "a month", "--tenants-file", str(tenants),
                 "--decisions", str(tmp_path / "d.jsonl")]) == 2
    assert "use a number and a unit, e.g. 30d" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"not": "a decision"}\n')
    assert main(["feedback", "--tenant", "acme", "--tenants-file", str(tenants), "--decisions", str(bad)]) == 2
    assert "bad.jsonl:1: not a decision record" in capsys.readouterr().err
    assert main(["retrain", "--tenant", "acme", "--tenants-file", str(tenants), "--decisions", str(bad)]) == 2
    assert "has no llm.local_model_path: pass --model FILE" in capsys.readouterr().err


async def test_the_outcomes_file_is_the_decision_log_on_the_in_memory_bus(tmp_path: Path) -> None:
    from autotriage.core.events import OutcomeRecorded, encode
    from autotriage.core.models import Action, PSAKind
    from autotriage.core.runtime import REDELIVERY
    from autotriage.feedback.decisions import OutcomesFileDecisionLog

    now = datetime.now(UTC)
    base = {"tenant": "acme", "psa": PSAKind.HALO, "occurred_at": now}
    records = [
        OutcomeRecorded(**base, ticket_id="1", action=Action.APPLIED, mode="apply", category="Email > Outlook",
                        confidence=0.91),
        OutcomeRecorded(**base, ticket_id="1", action=Action.SKIPPED, reason="already_classified", detail=REDELIVERY),
        OutcomeRecorded(**base, ticket_id="1", action=Action.IGNORED, reason="duplicate_delivery"),
        OutcomeRecorded(**base, ticket_id="2", action=Action.FAILED, reason="psa_http_400"),
        OutcomeRecorded(**{**base, "tenant": "other"}, ticket_id="3", action=Action.SHADOW, mode="shadow"),
    ]
    path = tmp_path / "outcomes.jsonl"
    path.write_bytes(b"".join(encode(r) + b"\n" for r in records))
    decisions = await OutcomesFileDecisionLog(path).load("acme")
    assert list(decisions) == ["1"]  # the repeat and the ignored delivery do not replace the real decision
    assert decisions["1"].path == ("Email", "Outlook") and decisions["1"].action == "applied"
