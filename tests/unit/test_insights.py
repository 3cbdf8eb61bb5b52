"""``autotriage insights`` on the Halo simulator: the figures are what the technicians logged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.core.models import CategoryState, Ticket
from autotriage.feedback.insights import compute, summary_lines
from autotriage.psa.base import ClosedTicket
from autotriage.sandbox.halo import HaloSimulator
from tests.support.closing import write_tenants

NOW = datetime.now(UTC)
PASSWORD = ("Accounts", "Password Reset")
GENERAL = ("General", "Question")
PRINTER = ("Hardware", "Printer")


PRINTER_TEXTS = ("paper jam in tray two", "toner cartridge empty on floor printer", "driver install fails on laptop",
                 "scanner sends blank pages", "printer offline after network change", "duplex option missing",
                 "label printer prints garbage characters", "colour prints look washed out",
                 "print queue stuck with spooler error", "cannot add shared printer to mac")


def _closed(n: int, path: tuple[str, ...], hours: float, summary: str, days_ago: float = 1.0) -> list[ClosedTicket]:
    return [ClosedTicket(Ticket(id=f"{path[0]}{i}", summary=summary.format(i=i, t=PRINTER_TEXTS[i % 10]), scope="1",
                                category=CategoryState(path=path)), NOW - timedelta(days=days_ago), hours)
            for i in range(n)]


def test_volume_time_trend_automation_and_hygiene() -> None:
    current = (_closed(40, PASSWORD, 0.5, "password reset for user account")
               + _closed(10, PRINTER, 3.0, "{t}")
               + _closed(12, GENERAL, 0.5, "question number {i}"))
    previous = _closed(20, PASSWORD, 0.25, "password reset {i}", days_ago=40)
    taxonomy = [PASSWORD, PRINTER, GENERAL, ("Network", "VPN")]
    found = compute("acme", current, previous, taxonomy)
    by = {c.path: c for c in found.categories}
    assert (found.tickets, found.hours, found.previous_tickets) == (62, 56.0, 20)
    assert (by[PASSWORD].tickets, by[PASSWORD].hours, by[PASSWORD].trend) == (40, 20.0, 1.0)
    assert by[PRINTER].trend is None and by[PRINTER].mean_hours == 3.0
    assert found.categories[0].path == PRINTER  # ordered by time spent
    assert found.unused == [("Network", "VPN")]
    assert found.catch_all == [(GENERAL, 12 / 62)]
    # password resets are alike; the printer tickets differ: resets rank first despite less time
    assert by[PASSWORD].repetitiveness > by[PRINTER].repetitiveness
    assert found.automation[0].path == PASSWORD and found.automation[0].examples == ["password reset for user account"]
    assert len(by[PRINTER].examples) == 3  # the most typical ones, each wording once
    lines = summary_lines(found)
    assert any("automate first: Accounts > Password Reset" in line for line in lines)
    assert "taxonomy: 1 category unused, 1 catch-all category overused, 0 categories rarely kept" in lines[-1]


async def test_insights_report_with_charts_from_the_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    sim = HaloSimulator(seed_history=False)
    await sim.start()
    try:
        hours = 0.0
        for i in range(30):
            path = ("Accounts", "Password Reset") if i % 3 else ("Hardware", "Printer")
            tid = sim.create_ticket(f"ticket {i}", "details", 1, path)
            sim.close_ticket(tid, hours=0.5 + i % 3, closed_at=NOW - timedelta(days=i))
            hours += 0.5 + i % 3
        old = sim.create_ticket("old one", "", 1, ("Hardware", "Printer"))
        sim.close_ticket(old, hours=9.0, closed_at=NOW - timedelta(days=45))
        tenants = tmp_path / "tenants.yaml"
        monkeypatch.setenv("COLUMNS", "200")
        for key, value in write_tenants(sim, tenants).items():
            monkeypatch.setenv(key, value)
        report = tmp_path / "out" / "insights.md"
        code = await asyncio.to_thread(main, ["insights", "--tenant", "acme", "--since", "40d", "--report",
                                              str(report), "--tenants-file", str(tenants)])
    finally:
        await sim.stop()
    assert code == 0
    out = capsys.readouterr().out
    assert f"30 tickets closed, {hours:.0f} technician hours (previous period: 1 tickets)" in out
    text = report.read_text()
    assert "| Accounts > Password Reset | 20 |" in text and "## Taxonomy hygiene" in text
    for name in ("insights-hours.png", "insights-volume.png"):
        png = report.with_name(name)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"({name})" in text
