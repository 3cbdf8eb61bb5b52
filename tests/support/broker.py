"""A private single-node Kafka broker for tests that restart the broker.

Restarting the shared development broker (``deploy/kafka-local``) under other people's running tests
breaks their runs, so the broker-restart fault test starts a broker of its own: same jars and the same
configuration file as ``kafka.sh`` (``deploy/kafka-local/server.properties``), but its own free ports and a
data directory under the test's tmp dir. Set ``AUTOTRIAGE_FAULTS_SHARED_BROKER=1`` to restart the shared broker instead
(``tests.support.kafka_local.restart_broker()``), e.g. on a CI machine that runs nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from tests.support import kafka_local
from tests.support.processes import free_port

KAFKA_DIR = kafka_local.KAFKA_SH.parent
LIB = KAFKA_DIR / ".kafka" / "lib"
JVM_OPTS = ["-Xmx384m", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true"]


def render_config(name: str, port: int, controller_port: int, data: Path) -> str:
    """``deploy/kafka-local/<name>`` (the template ``kafka.sh`` renders too) for a broker on these ports."""
    text = (KAFKA_DIR / name).read_text(encoding="utf-8")
    return text.replace("@PORT@", str(port)).replace("@CONTROLLER_PORT@", str(controller_port)).replace(
        "@DATA@", str(data))


def use_shared_broker() -> bool:
    """Whether the restart test should bounce the shared local broker instead of a private one."""
    return os.environ.get("AUTOTRIAGE_FAULTS_SHARED_BROKER", "") not in ("", "0", "false")


async def wait_ready(bootstrap: str, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Poll with an admin client until the broker answers a metadata request (or fail after ``timeout``)."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise AssertionError(f"broker on {bootstrap} exited while starting")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
        except Exception:
            await asyncio.sleep(0.3)
        else:
            return
        finally:
            await admin.close()
    raise AssertionError(f"broker on {bootstrap} not ready within {timeout:.0f}s")



class PrivateBroker:
    """One Kafka broker process owned by a test: ``start``, ``restart`` (SIGTERM then start), ``close``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "kafka-data"
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def _java(self, *args: str) -> list[str]:
        return ["java", *JVM_OPTS, f"-Dkafka.logs.dir={self.data}/logs",
                f"-Dlog4j2.configurationFile={self.data}/log4j2.properties", "-cp", f"{LIB}/*", *args]

    def _server_properties(self) -> str:
        return render_config("server.properties", self.port, self.controller_port, self.data)

    def _format_args(self) -> list[str]:
        """Extra ``kafka-storage format`` arguments (e.g. ``--add-scram``) for subclasses."""
        return []

    def _configure(self) -> None:
        (self.data / "logs").mkdir(parents=True, exist_ok=True)
        (self.data / "server.properties").write_text(self._server_properties(), encoding="utf-8")
        (self.data / "log4j2.properties").write_text(
            render_config("log4j2.properties", self.port, self.controller_port, self.data), encoding="utf-8")

    async def start(self, timeout: float = 120) -> str:
        """Fetch the jars if needed, format the data directory once, start the JVM and wait until ready."""
        if not (LIB / ".stamp").is_file():
            await asyncio.to_thread(subprocess.run, ["bash", str(kafka_local.KAFKA_SH), "fetch"], check=True,
                                    stdin=subprocess.DEVNULL)
        if not (self.data / "kraft-logs" / "meta.properties").is_file():
            self._configure()
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            done = await asyncio.to_thread(
                subprocess.run,
                self._java("kafka.tools.StorageTool", "format", "-c", str(self.data / "server.properties"),
                           "-t", cluster_id, *self._format_args()),
                stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
            )
            assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
        out = (self.data / "logs" / "kafka.out").open("ab")
        self.process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.data / "server.properties")),
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )
        out.close()
        process = self.process
        await wait_ready(self.bootstrap, timeout, alive=lambda: process.poll() is None)
        return self.bootstrap

    async def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a clean broker shutdown, like ``kafka.sh stop``), SIGKILL after ``timeout``."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout)
        except TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def restart(self) -> float:
        """Stop and start again, keeping the data; return the seconds the broker was unavailable."""
        started = time.monotonic()
        await self.stop()
        await self.start()
        self.restarts += 1
        return time.monotonic() - started

    async def close(self) -> None:
        """Stop for good (SIGKILL if it does not stop in time)."""
        await self.stop(timeout=20)


class SharedBroker:
    """The shared local broker (``kafka.sh``), restarted with ``restart_broker()``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.restarts = 0

    async def start(self) -> str:
        return self.bootstrap

    async def restart(self) -> float:
        started = time.monotonic()
        await asyncio.to_thread(kafka_local.restart_broker)
        self.restarts += 1
        return time.monotonic() - started

    async def close(self) -> None:
        """The shared broker keeps running."""
