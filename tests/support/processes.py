"""Start pipeline stages as separate OS processes (``autotriage serve <stage>``) and watch them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
STAGES = ("ingress", "normalizer", "taxonomy-cache", "classifier", "writer")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StageProcess:
    """One running stage."""

    stage: str
    port: int
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        """Base URL of the stage's HTTP server."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Pipeline:
    """The five stages as processes on one Kafka broker, with a per-test topic prefix."""

    bootstrap: str
    prefix: str
    tenants_file: Path
    env: dict[str, str]
    workdir: Path
    stages: dict[str, StageProcess] = field(default_factory=dict)
    #: ``AUTOTRIAGE_*`` settings that win over the test defaults below (e.g. a longer retry schedule).
    settings: dict[str, str] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "libs"), str(REPO / "services"), env.get("PYTHONPATH", "")])
        env.update({
            "AUTOTRIAGE_BUS": "kafka",
            "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "AUTOTRIAGE_TOPIC_PREFIX": self.prefix,
            "AUTOTRIAGE_TENANTS_FILE": str(self.tenants_file),
            "AUTOTRIAGE_HTTP_HOST": "127.0.0.1",
            "AUTOTRIAGE_LOG_FORMAT": "json",
            "AUTOTRIAGE_RETRY_TIERS_S": "[0.5, 2, 8]",
            "AUTOTRIAGE_MAX_ATTEMPTS": "6",
            "AUTOTRIAGE_LIVENESS_TIMEOUT_S": "30",
            # a SIGKILLed member's partitions move (and its restart is ready) after the session timeout
            "AUTOTRIAGE_SESSION_TIMEOUT_MS": "10000",
        })
        env.update(self.settings)
        return env

    async def create_topics(self, partitions: int = 3) -> None:
        """The explicit admin step."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "autotriage.cli", "topics", "create", "--partitions", str(partitions),
            env=self._env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()

    async def start(self, stage: str, name: str | None = None) -> StageProcess:
        """Start (or restart) one stage and wait until it is ready. ``name`` (default: the stage) tells replicas
        apart: another ``name`` of the same stage is one more process in the stage's consumer group."""
        key = name or stage
        current = self.stages.get(key)
        port = current.port if current else free_port()
        log_path = self.workdir / f"{key}.log"
        sp = current or StageProcess(stage, port, log_path)
        log = log_path.open("ab")
        sp.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "autotriage.cli", "serve", stage, "--port", str(port),
            env=self._env(), stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
        )
        log.close()
        if current:
            sp.restarts += 1
        self.stages[key] = sp
        await self.wait_ready(sp)
        return sp

    async def start_all(self) -> None:
        """Start the five stages."""
        await asyncio.gather(*(self.start(s) for s in STAGES))

    async def wait_ready(self, sp: StageProcess, timeout: float = 60) -> None:
        """Poll ``/readyz`` until 200."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert sp.process is not None
                if sp.process.returncode is not None:
                    log = sp.log_path.read_text()[-3000:]
                    raise AssertionError(f"{sp.stage} exited {sp.process.returncode}:\n{log}")
                try:
                    async with session.get(f"{sp.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"{sp.stage} not ready in {timeout}s:\n{sp.log_path.read_text()[-3000:]}")

    async def kill(self, stage: str, sig: int = signal.SIGKILL) -> int | None:
        """Send a signal to a stage (or replica, by name) and wait for the process to exit; return its exit code."""
        sp = self.stages[stage]
        assert sp.process is not None
        sp.process.send_signal(sig)
        return await asyncio.wait_for(sp.process.wait(), 60)

    async def stop_all(self) -> None:
        """SIGTERM every stage (graceful drain) and wait."""
        for sp in self.stages.values():
            if sp.process is not None and sp.process.returncode is None:
                sp.process.send_signal(signal.SIGTERM)
        for sp in self.stages.values():
            if sp.process is not None:
                try:
                    await asyncio.wait_for(sp.process.wait(), 40)
                except TimeoutError:
                    sp.process.kill()
                    await sp.process.wait()
