"""``make test`` / ``make bench`` (deploy/kafka-local/with-broker.sh) leave the broker as they found it, and say
which case applied. A fake kafka.sh records what the script asks of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "kafka-local" / "with-broker.sh"


def fake_kafka(tmp_path: Path, running: bool, start_ok: bool = True) -> tuple[Path, Path]:
    calls = tmp_path / "calls"
    fake = tmp_path / "kafka.sh"
    fake.write_text(f"""#!/usr/bin/env bash
echo "$1" >> {calls}
case "$1" in
  status) exit {0 if running else 3} ;;
  start) exit {0 if start_ok else 1} ;;
  *) exit 0 ;;
esac
""")
    return fake, calls


def run(fake: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # the script's defaults (port 19092), whatever broker the calling shell points at
    unset = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT")
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ.update({"KAFKA_SH": str(fake), **(env or {})})
    return subprocess.run(["bash", str(SCRIPT), *command], capture_output=True, text=True, env=environ,
                          timeout=30, check=False)


def test_starts_and_stops_a_broker_it_started(tmp_path: Path) -> None:
    fake, calls = fake_kafka(tmp_path, running=False)
    done = run(fake, "bash", "-c", 'echo "cmd $KAFKA_BOOTSTRAP_SERVERS" >> ' + str(tmp_path / "calls") + "; exit 3")
    assert done.returncode == 3  # the command's exit code
    assert calls.read_text().split("\n")[:-1] == ["status", "fetch", "start", "cmd 127.0.0.1:19092", "stop"]
    assert "stopped the local broker this command started" in done.stderr


def test_reuses_a_running_broker_of_this_checkout(tmp_path: Path) -> None:
    fake, calls = fake_kafka(tmp_path, running=True)
    done = run(fake, "true")
    assert done.returncode == 0
    assert calls.read_text().split() == ["status"]
    assert "reusing this checkout's local broker" in done.stderr and "left running" in done.stderr


def test_an_external_broker_is_used_as_given(tmp_path: Path) -> None:
    fake, calls = fake_kafka(tmp_path, running=False)
    done = run(fake, "true", env={"KAFKA_BOOTSTRAP_SERVERS": "broker:9092"})
    assert done.returncode == 0 and not calls.exists()
    assert "using the broker at broker:9092" in done.stderr


@pytest.mark.parametrize("keep", ["", "1"])
def test_a_port_held_by_another_checkout_is_explained(tmp_path: Path, keep: str) -> None:
    fake, calls = fake_kafka(tmp_path, running=False, start_ok=False)
    done = run(fake, "true", env={"KAFKA_KEEP": keep} if keep else None)
    assert done.returncode == 1
    assert "set KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 to use it" in done.stderr
    assert "stop" not in calls.read_text().split()
