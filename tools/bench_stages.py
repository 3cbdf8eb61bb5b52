"""The five stages as OS processes of the benchmark (``autotriage serve <stage>``) and its topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from bench_common import console


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StageProc:
    stage: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stages:
    """The five stages as OS processes with a per-run topic prefix."""

    def __init__(self, bootstrap: str, prefix: str, tenants_file: Path, env: dict[str, str], workdir: Path,
                 partitions: int, log_level: str) -> None:
        self.env = {**os.environ, **env, "AUTOTRIAGE_BUS": "kafka", "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AUTOTRIAGE_TOPIC_PREFIX": prefix, "AUTOTRIAGE_TENANTS_FILE": str(tenants_file),
                    "AUTOTRIAGE_HTTP_HOST": "127.0.0.1", "AUTOTRIAGE_LOG_FORMAT": "json",
                    "AUTOTRIAGE_LOG_LEVEL": log_level, "AUTOTRIAGE_PARTITIONS": str(partitions)}
        self.workdir = workdir
        self.partitions = partitions
        self.procs: dict[str, StageProc] = {}

    async def create_topics(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "autotriage.cli", "topics", "create", "--partitions", str(self.partitions),
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(out.decode())

    async def start(self, stage: str, profile: Path | None = None) -> StageProc:
        port = free_port()
        log = self.workdir / f"{stage}.log"
        with log.open("ab") as out:
            prefix = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
            process = await asyncio.create_subprocess_exec(
                *prefix, "-m", "autotriage.cli", "serve", stage, "--port", str(port), env=self.env,
                stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
        sp = self.procs[stage] = StageProc(stage, port, process, log)
        deadline = time.monotonic() + 90
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    raise RuntimeError(f"{stage} exited {process.returncode}: {log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{sp.url}/readyz") as resp:
                        if resp.status == 200:
                            return sp
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{stage} not ready in 90 s: {log.read_text()[-2000:]}")

    async def stop(self) -> None:
        for sp in self.procs.values():
            if sp.process.returncode is None:
                sp.process.send_signal(signal.SIGTERM)
        for sp in self.procs.values():
            try:
                await asyncio.wait_for(sp.process.wait(), 45)
            except TimeoutError:
                sp.process.kill()
                await sp.process.wait()



async def delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:  # best effort: leftover topics only cost disk
        console.log(f"could not delete the bench topics {prefix}*: {exc}")
    finally:
        await admin.close()

