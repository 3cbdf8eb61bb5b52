"""The demo's results table and the outcomes table stay readable at 80 columns and when piped (no terminal):
every column keeps its values, nothing runs past the width."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from autotriage.commands.demo import DemoResult, DemoRow, print_result
from autotriage.commands.outcomes import table
from autotriage.core.events import OutcomeRecorded
from autotriage.core.models import Action
from autotriage.sandbox.common import load_sample


def outcome(tenant: str, psa: str, ticket: str, category: str, action: Action, reason: str) -> OutcomeRecorded:
    now = datetime.now(UTC)
    return OutcomeRecorded(tenant=tenant, psa=psa, ticket_id=ticket, occurred_at=now - timedelta(seconds=2),
                           action=action, reason=reason, category=category, confidence=0.87, finished_at=now)


def demo_rows() -> list[DemoRow]:
    rows = []
    for psa, tenant in (("halo", "bayside"), ("connectwise", "cobalt"), ("autotask", "kessler")):
        for n, sample in enumerate(load_sample(psa).new[:5]):
            category = " > ".join(sample.category or ())
            action, reason = (Action.NEEDS_TRIAGE, "below_threshold") if category else (Action.SKIPPED, "noise:spam")
            rows.append(DemoRow(tenant, psa, str(352481 + n), sample,
                                outcome(tenant, psa, str(352481 + n), category, action, reason)))
    return rows


def piped(width: int | None) -> Console:
    """A console as when the output goes to a pipe (no terminal: rich falls back to 80 columns)."""
    return Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)


@pytest.mark.parametrize("width", [None, 80, 100])
def test_demo_table_at_narrow_widths(width: int | None) -> None:
    console = piped(width)
    rows = demo_rows()
    print_result(console, DemoResult(rows, "local model"))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in text.splitlines()) <= (width or 80)
    for row in rows:
        assert f"{row.tenant}:{row.ticket_id}" in text
    results = text.split(" summary ")[0]
    assert results.count("needs-triage") == sum(1 for r in rows if r.truth)
    assert "0.87" in text and "bayside = halo" in text


def test_demo_table_shows_the_summary_when_wide() -> None:
    console = piped(160)
    print_result(console, DemoResult(demo_rows(), "local model"))
    assert "Password expired" in console.file.getvalue()  # type: ignore[attr-defined]


def test_outcomes_table_at_80_columns() -> None:
    console = piped(None)
    records = [outcome("kessler", "autotask", "352481", "Software > Line of Business Application > Sync",
                       Action.SHADOW, "would_skip:changed_by_technician"),
               outcome("bayside", "halo", "2301", "", Action.SKIPPED, "noise:out_of_office")]
    console.print(table(records))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in text.splitlines()) <= 80
    for needle in ("kessler:352481", "bayside:2301", "shadow", "0.87", "2.0"):
        assert needle in text
