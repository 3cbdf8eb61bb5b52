"""Every user-caused failure of a command ends with one line naming the cause and the fix, without a traceback;
``autotriage --debug`` shows the traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotriage.cli import main
from autotriage.core.errors import TransientError
from tests.unit.test_cli import keep_root_logging  # noqa: F401  (autouse fixture)

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once


@pytest.fixture
def tenants_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLI_ERR_SECRET", "s3cret-value")
    path = tmp_path / "tenants.yaml"
    path.write_text(f"""
tenants:
  - id: acme
    psa: {{kind: halo, base_url: "http://{UNREACHABLE}", client_id: app, client_secret: {{env: CLI_ERR_SECRET}}}}
    webhook: {{username: halo, password: {{env: CLI_ERR_SECRET}}}}
    llm: {{provider: openai, model: gpt-4o-mini, api_key: {{env: CLI_ERR_SECRET}}}}
""", encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text(json.dumps({"summary": "vpn down", "category": "Network > VPN", "scope": "1"}) + "\n")
    return path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def one_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("autotriage: "), err
    for needle in needles:
        assert needle in last, last
    return last


def test_broker_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "create", "--kafka", UNREACHABLE]) == 2
    one_line(capsys, "Kafka is not reachable", "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS")


def test_port_in_use(tenants_file: Path, busy_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # `run` writes its outcomes file in the working directory
    assert main(["run", "--tenants-file", str(tenants_file), "--port", str(busy_port)]) == 2
    one_line(capsys, "address already in use", "choose another port")


def test_psa_unreachable_in_eval(tenants_file: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--tenant", "acme", "--data", str(data), "--tenants-file", str(tenants_file)]) == 2
    one_line(capsys, "the PSA could not be reached", "base_url")


def test_missing_tenant(tenants_file: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--tenant", "globex", "--data", str(data), "--tenants-file", str(tenants_file)]) == 2
    one_line(capsys, "tenant 'globex' is not in")


def test_missing_tenants_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--tenants-file", str(tmp_path / "absent.yaml")]) == 2
    one_line(capsys, "absent.yaml", "AUTOTRIAGE_TENANTS_FILE")


@pytest.mark.parametrize(("content", "needle"), [
    ('{"summary": "vpn", "category": "Network > VPN", "scope": "1"}\nnot json\n', ":2: not JSON"),
    (None, "check the --data path"),
])
def test_bad_data_file(tenants_file: Path, tmp_path: Path, content: str | None, needle: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["eval", "--tenant", "acme", "--data", str(path), "--tenants-file", str(tenants_file)]) == 2
    one_line(capsys, needle)


def test_outcomes_without_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outcomes", "--file", str(tmp_path / "none.jsonl")]) == 2
    one_line(capsys, "no outcomes file", "autotriage run")


def test_debug_shows_the_traceback(tenants_file: Path, data: Path) -> None:
    with pytest.raises(TransientError):
        main(["--debug", "eval", "--tenant", "acme", "--data", str(data), "--tenants-file", str(tenants_file)])


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tenants_file: Path) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("autotriage.commands.doctor.load_tenants", broken)
    with pytest.raises(ZeroDivisionError):
        main(["doctor", "--tenants-file", str(tenants_file)])


def test_sandbox_port_in_use(busy_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AUTOTRIAGE_SANDBOX_PORT", str(busy_port))  # the Halo simulator's port is taken
    assert main(["sandbox", "--dir", str(tmp_path / "sandbox")]) == 2
    one_line(capsys, "address already in use", "AUTOTRIAGE_SANDBOX_PORT")


@pytest.mark.parametrize(("module", "extra"), [("sklearn", "local"), ("scipy.sparse", "local"),
                                                ("matplotlib", "report")])
def test_a_missing_extra_names_the_extra_to_install(module: str, extra: str) -> None:
    from autotriage.commands.errors import explain

    message = explain(ModuleNotFoundError(f"No module named '{module}'", name=module), "demo")
    assert message is not None and f"pip install 'autotriage[{extra}]'" in message and module in message
    assert explain(ModuleNotFoundError("No module named 'x'", name="requests"), "demo") is None  # a bug
