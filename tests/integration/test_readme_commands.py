"""Every ``autotriage`` command in README.md's code blocks runs, in README order, in a scratch directory, as
its own process of this checkout, so the README cannot drift from the behaviour.

What the test supplies, as a reader following the README would: the sandbox (the README's own first step
for trying things), a ``tenants.yaml`` whose tenant ``acme`` points at the sandbox's Halo simulator and test
LLM, the data files the README names (``history.jsonl``, ``labelled.jsonl``, ``tickets.jsonl``, from the
bundled Halo data),
the secrets that tenants file references (the simulators' credentials, also used for the ``...``
placeholders of ``export`` lines), the test broker for
``kafka:9092``, and free ports (``AUTOTRIAGE_HTTP_PORT``, ``AUTOTRIAGE_SANDBOX_PORT``) so that it can run
next to other work. Commands that serve (``sandbox``, ``run``, ``serve``, ``outcomes --follow``) are started,
checked (ready / printing), and stopped at the end of their code block. Commands of other tools (pip, make,
docker, kubectl) are not run here; the deploy files they use are checked by ``test_deploy_files.py``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from autotriage.sandbox.common import load_sample

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
COMMAND = re.compile(r"^(?:.*&& )?autotriage ([a-z][^#\n]*?)\s*(?:#.*)?$")
PLACEHOLDER_VALUES = {"ACME_HALO_CLIENT_SECRET": "halo-client-secret", "ACME_HALO_WEBHOOK_PASSWORD":
                      "halo-webhook-password", "OPENAI_API_KEY": "sk-readme-test"}
SERVING = ("sandbox", "run", "serve")

pytestmark = pytest.mark.kafka


def blocks() -> list[list[str]]:
    """The shell lines of each bash/sh code block."""
    found = re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.DOTALL)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in found]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_base() -> int:
    """A base port N with N..N+2 and N+8 free (the sandbox's ports)."""
    for _ in range(50):
        base = free_port()
        if base + 8 > 65535:
            continue
        try:
            for port in (base, base + 1, base + 2, base + 8):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the sandbox")


@dataclass
class Background:
    """A serving command of the README."""

    args: list[str]
    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Shell:
    """Runs README lines like a reader's terminal: one environment per code block, serving commands in the
    background until the block ends."""

    cwd: Path
    env: dict[str, str]
    background: list[Background] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)

    def export(self, line: str, kafka: str, prefix: str) -> None:
        for assignment in shlex.split(line)[1:]:
            name, _, value = assignment.partition("=")
            if value == "...":
                value = PLACEHOLDER_VALUES[name]
            if name == "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS":
                value = kafka
                self.env["AUTOTRIAGE_TOPIC_PREFIX"] = prefix
            self.env[name] = value

    def start(self, args: list[str]) -> Background:
        env = dict(self.env)
        if args[0] == "serve":
            env["AUTOTRIAGE_HTTP_PORT"] = str(free_port())
        log = self.cwd / f"bg-{len(self.background)}-{args[0]}.log"
        with log.open("w") as out:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen([sys.executable, "-m", "autotriage.cli", *args], cwd=self.cwd, env=env,
                                       text=True, stdout=out, stderr=subprocess.STDOUT)
        job = Background(args, process, log)
        self.background.append(job)
        if args[0] in ("run", "serve"):
            wait_ready(job, int(env["AUTOTRIAGE_HTTP_PORT"]))
        else:
            wait_output(job, "Ctrl-C stops the sandbox." if args[0] == "sandbox" else "tenant:ticket")
        return job

    def run(self, args: list[str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "autotriage.cli", *args], cwd=self.cwd, env=self.env, text=True,
                              capture_output=True, timeout=timeout_s, check=False)
        assert done.returncode == 0, f"autotriage {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done

    def end_block(self) -> None:
        for job in reversed(self.background):
            job.process.send_signal(signal.SIGINT if job.args[0] in ("sandbox", "outcomes") else signal.SIGTERM)
            code = job.process.wait(timeout=60)
            if job.args[0] in ("run", "serve"):
                assert code == 0, f"autotriage {' '.join(job.args)} stopped with {code}:\n{job.output()[-3000:]}"
        self.background.clear()


def wait_ready(job: Background, port: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert job.process.poll() is None, f"autotriage {' '.join(job.args)} exited:\n{job.output()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"autotriage {' '.join(job.args)} not ready:\n{job.output()[-3000:]}")


def wait_output(job: Background, needle: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in job.output():
            return
        assert job.process.poll() is None, f"autotriage {' '.join(job.args)} exited:\n{job.output()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"autotriage {' '.join(job.args)} printed no {needle!r}:\n{job.output()[-3000:]}")


def wait_outcomes(path: Path, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path}: fewer than {count} outcomes")


def write_user_files(scratch: Path, sandbox_state: dict[str, object]) -> None:
    """What the README's reader brings: a tenants file for ``acme`` and the data files it names."""
    sims = sandbox_state["simulators"]
    assert isinstance(sims, dict)
    tenants = {"tenants": [{
        "id": "acme",
        "psa": {"kind": "halo", "base_url": sims["halo"]["url"], "client_id": "autotriage-app",
                "client_secret": {"env": "ACME_HALO_CLIENT_SECRET"}},
        "webhook": {"username": "halo", "password": {"env": "ACME_HALO_WEBHOOK_PASSWORD"}},
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{sandbox_state['llm']}/v1",
                "api_key": {"env": "OPENAI_API_KEY"}, "local_model_path": "models/acme.joblib"},
        "policy": {"mode": "shadow"},
    }]}
    (scratch / "tenants.yaml").write_text(yaml.safe_dump(tenants), encoding="utf-8")
    sample = load_sample("halo")

    def line(t: object) -> str:
        return json.dumps({"summary": t.summary, "details": t.details, "scope": str(t.scope),  # type: ignore[attr-defined]
                           "category": list(t.category)})  # type: ignore[attr-defined]

    (scratch / "history.jsonl").write_text("\n".join(line(t) for t in sample.history) + "\n", encoding="utf-8")
    (scratch / "labelled.jsonl").write_text("\n".join(line(t) for t in sample.new if t.category) + "\n",
                                            encoding="utf-8")
    previewed = [json.dumps({"id": t.id, "title": t.summary, "description": t.details})  # type: ignore[attr-defined]
                 for t in sample.new[:20]]
    (scratch / "tickets.jsonl").write_text("\n".join(previewed) + "\n", encoding="utf-8")


def test_every_readme_command_runs(tmp_path: Path, kafka_bootstrap: str) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRIAGE_", "OPENAI_", "AZURE_OPENAI_"))}
    env.update({"PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("libs", "services")),
                "AUTOTRIAGE_HTTP_PORT": str(free_port()), "AUTOTRIAGE_SANDBOX_PORT": str(free_base()),
                "COLUMNS": "100"})
    prefix = f"readme{uuid.uuid4().hex[:8]}."
    sandbox: Background | None = None
    executed: list[str] = []
    for block in blocks():
        shell = Shell(scratch, dict(env))
        sends = 0
        for line in block:
            if line.startswith("export "):
                shell.export(line, kafka_bootstrap, prefix)
                continue
            match = COMMAND.match(line)
            if match is None:
                continue
            args = shlex.split(match.group(1))
            executed.append(" ".join(args))
            serving = (args[0] in SERVING and args[1:2] != ["send"]) or "--follow" in args
            if serving:
                job = shell.start(args)
                if args == ["sandbox"]:
                    sandbox = job
                    state = json.loads((scratch / "sandbox" / "state.json").read_text())
                    write_user_files(scratch, state)
                    env.update(PLACEHOLDER_VALUES)  # the reader's tenants file comes with its secrets set
                continue
            if args[0] == "outcomes" and sends:
                wait_outcomes(scratch / "outcomes.jsonl", sends)
            done = shell.run(args)
            if args[:2] == ["sandbox", "send"]:
                sends += 1
                assert "HTTP 202 (accepted)" in done.stdout
            if args == ["outcomes"]:
                assert all(t in done.stdout for t in ("bayside:", "cobalt:7205", "kessler:")), done.stdout
            if args[:1] == ["report"]:
                assert "shadow mode for tenant kessler: 1 ticket," in done.stdout, done.stdout
        if sandbox is not None and sandbox in shell.background:
            # keep the sandbox for the later blocks (their tenant acme uses its simulators)
            shell.background.remove(sandbox)
        shell.end_block()
    if sandbox is not None:
        sandbox.process.send_signal(signal.SIGINT)
        sandbox.process.wait(timeout=30)
    readme_commands = [" ".join(shlex.split(m.group(1))) for b in blocks() for line in b
                       if (m := COMMAND.match(line))]
    assert executed == readme_commands and len(executed) >= 20
    assert (scratch / "eval.md").exists() and (scratch / "models" / "acme.joblib").exists()
