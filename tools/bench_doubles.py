"""The benchmark's doubles: the PSA simulators and the OpenAI test server in child processes, timing each
request they serve and attributing it to its ticket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import multiprocessing
import multiprocessing.connection
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from bench_common import MARKER

if TYPE_CHECKING:
    from autotriage.sandbox.common import Simulator


@dataclass
class DoubleSpec:
    """What one doubles process serves: ``llm`` (the OpenAI test server) or ``psa`` (simulators)."""

    role: str
    tenants: list[tuple[str, str]] = field(default_factory=list)  # (tenant id, psa kind) for role psa
    #: role llm: (p50 s, p99 s, seed) of a lognormal latency added to every chat request; None: instant
    latency: tuple[float, float, int] | None = None


def lognormal_sampler(p50_s: float, p99_s: float, seed: int) -> Callable[[], float]:
    """Seeded lognormal delays with median ``p50_s`` and 99th percentile ``p99_s`` (a hosted model's long tail)."""
    rng = random.Random(seed)
    mu, sigma = math.log(p50_s), math.log(p99_s / p50_s) / NormalDist().inv_cdf(0.99)
    return lambda: rng.lognormvariate(mu, sigma)


def lognormal_mean(p50_s: float, p99_s: float) -> float:
    """The mean of that distribution (what Little's law needs)."""
    sigma = math.log(p99_s / p50_s) / NormalDist().inv_cdf(0.99)
    return p50_s * math.exp(sigma * sigma / 2)


class Timings:
    """Server-side time per request, summed per ticket key ``tenant:ticket``."""

    def __init__(self) -> None:
        self.by_ticket: defaultdict[str, float] = defaultdict(float)
        self.unattributed = 0.0
        self.requests = 0
        self.total_s = 0.0

    def add(self, key: str | None, seconds: float) -> None:
        self.requests += 1
        self.total_s += seconds
        if key:
            self.by_ticket[key] += seconds
        else:
            self.unattributed += seconds

    def drain(self) -> dict[str, Any]:
        out = {"by_ticket": dict(self.by_ticket), "unattributed": self.unattributed, "requests": self.requests,
               "total_s": self.total_s}
        self.by_ticket.clear()
        self.unattributed, self.requests, self.total_s = 0.0, 0, 0.0
        return out


def _ticket_of(request: web.Request, body: bytes) -> str | None:
    """The ticket a PSA request is about: ``{id}`` in the path, ``ticket_id`` in the query, or the body's id."""
    route_id = request.match_info.get("id")  # a ticket id, or a ticket type/board id (never a ticket's)
    if route_id:
        return route_id
    if "ticket_id" in request.query:
        return request.query["ticket_id"]
    if body:
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(body)
            item = data[0] if isinstance(data, list) and data else data
            if isinstance(item, dict):
                for name in ("ticket_id", "ticketID", "id"):
                    if isinstance(item.get(name), int | str):
                        return str(item[name])
    return None


async def _serve_doubles(spec: DoubleSpec, conn: multiprocessing.connection.Connection) -> None:
    from autotriage.sandbox.openai_server import OpenAITestServer

    timings = Timings()
    loop = asyncio.get_running_loop()
    delay = lognormal_sampler(*spec.latency) if spec.latency else None
    _analyze_once_per_request()

    class TimedLLM(OpenAITestServer):
        """The OpenAI test server, timing each chat request and forgetting request bodies (memory)."""

        async def _record(self, request: web.Request) -> tuple[Any, bytes, Any]:
            record, raw, body = await super()._record(request)
            self.requests.clear()
            found = MARKER.search(raw)
            request["bench_key"] = f"{found[1].decode()}:{found[2].decode()}" if found else None
            return record, raw, body

        async def _chat(self, request: web.Request, surface: str, deployment: str | None) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                if delay is not None:
                    await asyncio.sleep(delay())
                return await super()._chat(request, surface, deployment)
            finally:
                timings.add(request.get("bench_key"), time.perf_counter() - started)

    answer: dict[str, Any] = {"pid": os.getpid()}
    sims: dict[str, tuple[Simulator, int]] = {}
    llm: TimedLLM | None = None
    if spec.role == "llm":
        llm = TimedLLM(latency_s=0.0, cache_capacity=50_000)
        answer["url"] = await llm.start()
    else:
        entries, env = await _start_sims(spec, timings, sims)
        answer.update(entries=entries, env=env)
    conn.send(answer)

    def deliveries(tenant_id: str, index: int, start: int, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
        """Create ``count`` tickets and their pre-built, pre-signed new-ticket deliveries."""
        sim, scope = sims[tenant_id]
        paths = sorted(sim.valid_paths(scope))
        out = []
        for n in range(start, start + count):
            path = paths[n % len(paths)]
            words = " ".join(path)
            ticket_id = sim.create_ticket(f"{words} problem", f"Issue with {words} (bmk{index}t{{id}}).", scope)
            _set_marker(sim, ticket_id, index)
            out.append((ticket_id, *_delivery(sim, ticket_id)))
        return out

    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name = command[0]
        if name == "create":
            conn.send(deliveries(*command[1:]))
        elif name == "timings":
            conn.send(timings.drain())
        elif name == "stop":
            break
    for sim, _ in sims.values():
        await sim.stop()
    if llm is not None:
        await llm.stop()
    conn.send("stopped")


async def _start_sims(
    spec: DoubleSpec, timings: Timings, sims: dict[str, tuple[Simulator, int]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Start one PSA simulator per tenant, timing each request it serves; their tenant entries and secrets."""
    from autotriage.sandbox.autotask import AutotaskSimulator
    from autotriage.sandbox.connectwise import ConnectWiseSimulator
    from autotriage.sandbox.halo import HaloSimulator

    entries: list[dict[str, Any]] = []
    env: dict[str, str] = {}
    for index, (tenant_id, kind) in enumerate(spec.tenants):
        sim: Simulator
        if kind == "halo":
            sim, scope = HaloSimulator(seed_history=False), 1
        elif kind == "connectwise":
            sim, scope = ConnectWiseSimulator(seed_history=False), 12
        else:
            at = AutotaskSimulator(seed_history=False)
            sim, scope = at, next(iter(at.queues))

        @web.middleware
        async def timed(request: web.Request, handler: Any, _index: int = index) -> web.StreamResponse:
            started = time.perf_counter()
            body = await request.read() if request.can_read_body else b""
            try:
                response: web.StreamResponse = await handler(request)
                return response
            finally:
                ticket = _ticket_of(request, body)
                timings.add(f"{_index}:{ticket}" if ticket else None, time.perf_counter() - started)

        sim.app.middlewares.insert(0, timed)
        await sim.start()
        sims[tenant_id] = (sim, scope)
        entry, secrets = sim.tenant_config(tenant_id)
        entries.append(entry)
        env.update(secrets)
    return entries, env


def _analyze_once_per_request() -> None:
    """The OpenAI test server analyses a request body (tokenizing every candidate) for the answer and again for
    its logprobs; in this process, the second call reuses the first result (the double's CPU is not what is
    measured, and it shares the machine with the stages)."""
    import autotriage.sandbox.openai_server as server

    analyze = server.analyze
    last: list[Any] = [None, None, None]  # messages, response format (the request's own objects), analysis

    def analyze_once(body: Any) -> Any:
        messages, schema = body.get("messages"), body.get("response_format")
        if last[0] is not messages or last[1] is not schema or messages is None:
            last[:] = [messages, schema, analyze(body)]
        return last[2]

    server.analyze = analyze_once


def _set_marker(sim: Any, ticket_id: str, index: int) -> None:
    """Put ``bmk<tenant>t<ticket>`` into the ticket's description (what the LLM request will carry)."""
    marker = f"bmk{index}t{ticket_id}"
    tickets = sim.tickets
    key = int(ticket_id)
    ticket = tickets[key]
    if isinstance(ticket, dict):
        for name in ("details", "description"):
            if name in ticket:
                ticket[name] = ticket[name].replace("bmk" + str(index) + "t{id}", marker)
    else:  # ConnectWise: the description is the first (detail) note
        for note in sim.ticket_notes.get(key, []):
            note["text"] = note["text"].replace("bmk" + str(index) + "t{id}", marker)


def _delivery(sim: Any, ticket_id: str) -> tuple[bytes, dict[str, str]]:
    """The PSA's real new-ticket webhook body and headers (credentials or signature included)."""
    from autotriage.sandbox.autotask import AutotaskSimulator
    from autotriage.sandbox.connectwise import ConnectWiseSimulator

    if isinstance(sim, AutotaskSimulator):
        body, headers = sim.signed_delivery(sim.webhook_payload(ticket_id))
        return body, {**headers, "Content-Type": "application/json"}
    if isinstance(sim, ConnectWiseSimulator):
        body = orjson.dumps(sim.webhook_payload(ticket_id))
        return body, {"Content-Type": "application/json", "x-content-signature": sim.sign(body)}
    body = orjson.dumps(sim.webhook_payload(ticket_id))
    creds = base64.b64encode(f"{sim.webhook_user}:{sim.webhook_password}".encode()).decode()
    return body, {"Content-Type": "application/json", "Authorization": f"Basic {creds}"}


def doubles_process(spec: DoubleSpec, conn: multiprocessing.connection.Connection) -> None:
    """Child process entry point."""
    logging_off()
    asyncio.run(_serve_doubles(spec, conn))


def logging_off() -> None:
    import logging

    logging.disable(logging.CRITICAL)


class Doubles:
    """A doubles child process and its command pipe."""

    def __init__(self, spec: DoubleSpec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=doubles_process, args=(spec, child), daemon=True, name=f"doubles-{spec.role}")
        self.info: dict[str, Any] = {}

    async def start(self) -> dict[str, Any]:
        self.process.start()
        self.info = await self.recv(120)
        return self.info

    async def recv(self, timeout: float) -> Any:
        ready = await asyncio.to_thread(self.conn.poll, timeout)
        if not ready:
            raise TimeoutError(f"{self.process.name} did not answer within {timeout}s")
        return self.conn.recv()

    async def call(self, *command: Any, timeout: float = 120) -> Any:
        self.conn.send(command)
        return await self.recv(timeout)

    async def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                await self.call("stop", timeout=15)
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

