"""``autotriage learn``: history from the PSA (Halo simulator) or a file, the saved model, the CLI wiring."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from autotriage.cli import build_parser, main
from autotriage.commands.learn import default_model_path, pull_history
from autotriage.core.tenants import TenantsFile
from autotriage.local.estimator import ALGORITHMS
from autotriage.local.store import read_meta
from autotriage.local.training import LARGE_CATEGORY
from autotriage.sandbox.halo import HaloSimulator
from tests.unit.test_local_model import synthetic


async def test_history_is_pulled_from_the_psa() -> None:
    sim = HaloSimulator()
    await sim.start()
    try:
        entry, env = sim.tenant_config("acme")
        tenants = TenantsFile.model_validate({"tenants": [entry]})
        tenants.resolve_secrets(env)
        out = io.StringIO()
        rows = await pull_history(tenants.tenants[0], Console(file=out, width=120), limit=250)
    finally:
        await sim.stop()
    assert len(rows) == 250
    assert all(r.path and r.summary and r.scope for r in rows)
    valid = sim.valid_paths(1) | sim.valid_paths(3)
    assert {r.path for r in rows} <= valid
    assert "reading closed tickets from halo" in out.getvalue()


def test_learn_from_a_file_writes_a_versioned_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "history.jsonl"
    data.write_text("\n".join(json.dumps({"summary": e.summary, "details": e.description,
                                          "category": " > ".join(e.path or ()), "scope": e.scope})
                              for e in synthetic()))
    out = tmp_path / "model.joblib"
    code = main(["learn", "--tenant", "acme", "--data", str(data), "--out", str(out),
                 "--tenants-file", str(tmp_path / "absent.yaml")])
    assert code == 0
    meta, _, _ = read_meta(out)
    assert (meta.tenant, meta.psa, meta.n_examples) == ("acme", None, 144)
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "cascade threshold" in printed and str(out) in printed
    assert "LLM shortlist" in printed
    assert (meta.algorithm, meta.algorithm_auto) == ("linear_svc", True) and "linear_svc (chosen by" in printed


def test_learn_explains_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "tiny.csv"
    data.write_text("summary,category\nvpn,Network > VPN\n")
    assert main(["learn", "--tenant", "acme", "--data", str(data), "--tenants-file", str(tmp_path / "x.yaml")]) == 2
    assert "at least 10 tickets" in capsys.readouterr().err


def test_cli_wiring_and_default_path() -> None:
    parser = build_parser()
    for argv in (["demo"], ["learn", "--tenant", "a"], ["eval", "--sample", "halo"]):
        assert callable(parser.parse_args(argv).handler)
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert default_model_path("acme", None, when) == Path("models/acme/all-20250304-050607.joblib")
    assert default_model_path("acme", "12", when).name == "12-20250304-050607.joblib"


def test_learn_offers_every_algorithm_and_states_the_auto_rule() -> None:
    """The parser lists the algorithms by hand (it must not import the optional local extra): it stays in step."""
    learn = next(a for a in build_parser()._actions if a.dest == "command").choices["learn"]  # type: ignore[index]
    option = next(a for a in learn._actions if a.dest == "algorithm")
    assert tuple(option.choices) == ("auto", *ALGORITHMS) and option.default == "auto"
    assert f"{LARGE_CATEGORY:,} or more tickets" in (option.help or "")
