"""The ``autotriage`` command: help for every subcommand, and ``doctor`` on good and bad tenants files."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotriage.cli import build_parser, main

SUBCOMMANDS = ["serve", "run", "topics", "sandbox", "doctor", "demo", "learn", "eval", "preview", "outcomes",
               "report", "feedback", "retrain", "tune", "insights", "backfill"]

TENANTS = """
tenants:
  - id: acme
    psa:
      kind: halo
      base_url: https://acme.halopsa.com
      client_id: app
      client_secret: {env: CLI_TEST_HALO_SECRET}
    webhook:
      username: halo
      password: {env: CLI_TEST_HALO_WEBHOOK}
    policy: {mode: suggest}
  - id: bayside
    psa:
      kind: connectwise
      company: bayside
      public_key: pub
      private_key: {env: CLI_TEST_CW_PRIVATE}
      client_id: 11111111-2222-3333-4444-555555555555
    llm: {provider: openai, model: gpt-4.1-mini}
"""
SECRETS = {
    "CLI_TEST_HALO_SECRET": "halo-secret-value",
    "CLI_TEST_HALO_WEBHOOK": "halo-webhook-value",
    "CLI_TEST_CW_PRIVATE": "cw-private-value",
}


@pytest.fixture(autouse=True)
def keep_root_logging() -> Iterator[None]:
    """``main`` configures the root logger for the process; give it back to pytest afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def tenants_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    return path


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help_exits_zero(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"autotriage {command}" in capsys.readouterr().out


def test_every_subcommand_covered() -> None:
    actions = [a for a in build_parser()._actions if a.dest == "command"]
    assert sorted(actions[0].choices) == sorted(SUBCOMMANDS)  # type: ignore[arg-type]


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autotriage.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "doctor" in done.stdout


def test_doctor_good_file_lists_each_tenant(tenants_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--tenants-file", str(tenants_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == ["ok", "acme", "config"] and "halo" in lines[0] and "mode=suggest" in lines[0]
    assert lines[1].split()[:3] == ["ok", "bayside", "config"] and "connectwise" in lines[1]
    assert "llm=openai:gpt-4.1-mini" in lines[1]
    assert all(value not in "\n".join(lines) for value in SECRETS.values())


def test_doctor_reads_tenants_file_from_env(
    tenants_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRIAGE_TENANTS_FILE", str(tenants_file))
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["ok", "acme"]


def test_doctor_missing_secret_exits_2_with_cause(
    tenants_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLI_TEST_CW_PRIVATE")
    assert main(["doctor", "--tenants-file", str(tenants_file)]) == 2
    captured = capsys.readouterr()
    assert "configuration error" in captured.err
    assert "tenant bayside" in captured.err and "CLI_TEST_CW_PRIVATE" in captured.err
    assert not captured.out.startswith("ok")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (TENANTS.replace("{env: CLI_TEST_HALO_SECRET}", "inline-secret"), "{env: VAR_NAME}"),
        (TENANTS.replace("policy: {mode: suggest}", "polcy: {mode: suggest}"), "tenants.0.polcy"),
        (TENANTS.replace("id: bayside", "id: acme"), "appears twice"),
        ("tenants: [\n", "not valid YAML"),
    ],
    ids=["inline-secret", "typo", "duplicate", "yaml"],
)
def test_doctor_bad_file_exits_2_with_cause(
    tenants_file: Path, text: str, cause: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tenants_file.write_text(text, encoding="utf-8")
    assert main(["doctor", "--tenants-file", str(tenants_file)]) == 2
    err = capsys.readouterr().err
    assert cause in err and str(tenants_file) in err
    assert "Traceback" not in err


def test_doctor_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["doctor", "--tenants-file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "AUTOTRIAGE_TENANTS_FILE" in err


def test_doctor_bad_setting_exits_2_naming_variable(
    tenants_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTRIAGE_PARTITIONS", "0")
    assert main(["doctor", "--tenants-file", str(tenants_file)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "AUTOTRIAGE_PARTITIONS" in err
    assert "Traceback" not in err


def test_doctor_refuses_a_missing_local_model(tenants_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tenants_file.parent / "models" / "acme.joblib"
    text = tenants_file.read_text(encoding="utf-8").replace(
        "    policy: {mode: suggest}",
        f"    policy: {{mode: suggest}}\n    llm: {{provider: local, local_model_path: {missing}}}",
    )
    tenants_file.write_text(text, encoding="utf-8")
    assert main(["doctor", "--tenants-file", str(tenants_file)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "autotriage learn" in err
