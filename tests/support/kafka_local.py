"""Local single-node Kafka broker for tests and development.

Thin wrapper over ``deploy/kafka-local/kafka.sh`` (KRaft, 127.0.0.1, data in ``deploy/kafka-local/.data``).
The broker keeps running after the caller exits; ``stop_broker()`` or ``kafka.sh stop`` ends it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KAFKA_SH = Path(__file__).resolve().parents[2] / "deploy" / "kafka-local" / "kafka.sh"


def _run(command: str) -> None:
    if not KAFKA_SH.is_file():
        raise FileNotFoundError(f"{KAFKA_SH} not found (run from a source checkout)")
    subprocess.run(["bash", str(KAFKA_SH), command], check=True, stdin=subprocess.DEVNULL)


def local_bootstrap() -> str:
    """Bootstrap address of the local broker (``KAFKA_PORT`` overrides the port, as in kafka.sh)."""
    return f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"


def ensure_broker() -> str:
    """Return ``$KAFKA_BOOTSTRAP_SERVERS`` if set, else start the local broker and return its address.

    Fetches the jars first if needed and reuses a running broker. Raises ``CalledProcessError`` on failure.
    """
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        return external
    _run("fetch")
    _run("start")
    return local_bootstrap()


def restart_broker() -> None:
    """Stop the local broker (SIGTERM, SIGKILL after 30 s) and start it again, keeping its data."""
    _run("restart")


def stop_broker() -> None:
    """Stop the local broker; a no-op when it is not running."""
    _run("stop")


def local_broker_running() -> bool:
    """Whether this checkout's local broker is running (``kafka.sh status``)."""
    if not KAFKA_SH.is_file():
        return False
    done = subprocess.run(["bash", str(KAFKA_SH), "status"], stdin=subprocess.DEVNULL, capture_output=True,
                          check=False)
    return done.returncode == 0


@contextmanager
def broker_for_session() -> Iterator[str]:
    """A broker for a test session that is left as it was found: ``$KAFKA_BOOTSTRAP_SERVERS`` as given, this
    checkout's running local broker reused, or the local broker started now and stopped at the end."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if local_broker_running():
        print(f"kafka: reusing this checkout's local broker on {local_bootstrap()} (left running)", file=sys.stderr)
        yield local_bootstrap()
        return
    _run("fetch")
    _run("start")
    print(f"kafka: started the local broker on {local_bootstrap()}; stopped when the session ends", file=sys.stderr)
    try:
        yield local_bootstrap()
    finally:
        stop_broker()
