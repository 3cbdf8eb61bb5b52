"""One broker configuration: ``kafka.sh`` (development, CI) and the tests' private brokers render the same
``deploy/kafka-local/server.properties``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.broker import KAFKA_DIR, render_config


def test_kafka_sh_and_the_test_broker_write_the_same_configuration() -> None:
    env = {**os.environ, "KAFKA_PORT": "29092", "KAFKA_CONTROLLER_PORT": "29093"}
    done = subprocess.run(["bash", str(KAFKA_DIR / "kafka.sh"), "config"], capture_output=True, text=True,
                          env=env, timeout=30, check=True)
    assert done.stdout == render_config("server.properties", 29092, 29093, KAFKA_DIR / ".data")
    assert "listeners=PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093" in done.stdout


def test_every_placeholder_is_filled(tmp_path: Path) -> None:
    for name in ("server.properties", "log4j2.properties"):
        text = render_config(name, 1, 2, tmp_path)
        assert "@" not in text.replace("1@127.0.0.1", ""), name
    assert f"log.dirs={tmp_path}/kraft-logs" in render_config("server.properties", 1, 2, tmp_path)


def test_kafka_sh_holds_no_broker_settings_of_its_own() -> None:
    script = (KAFKA_DIR / "kafka.sh").read_text(encoding="utf-8")
    for setting in ("node.id=", "process.roles=", "offsets.topic.replication.factor=", "appender.file"):
        assert setting not in script
