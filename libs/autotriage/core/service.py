"""Process host: bus, components (stage runners, ingress), `/livez` `/readyz` `/metrics`, signals, drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from autotriage.core import metrics
from autotriage.core.bus.base import Bus
from autotriage.core.loop_lag import LoopLagMonitor

log = logging.getLogger(__name__)


class Component(Protocol):
    """Something the host starts, watches and stops."""

    async def start(self) -> None:
        """Begin work."""

    async def stop(self) -> None:
        """Stop taking work, finish in-flight work, commit."""

    @property
    def ready(self) -> bool:
        """Ready for traffic."""

    def healthy(self) -> bool:
        """Alive and making progress."""


class ServiceHost:
    """Runs components on one bus and serves health and metrics on one HTTP port."""

    def __init__(
        self,
        bus: Bus,
        components: Sequence[Component],
        *,
        host: str = "0.0.0.0",  # noqa: S104 - a container's stage is reached through its pod/service address
        port: int = 9100,
        app: web.Application | None = None,
        drain_timeout_s: float = 30.0,
    ) -> None:
        self.bus = bus
        self.components = list(components)
        self.host = host
        self.port = port
        self.app = app or web.Application()
        self.app.router.add_get("/livez", self._livez)
        self.app.router.add_get("/readyz", self._readyz)
        self.app.router.add_get("/metrics", self._metrics)
        self.drain_timeout_s = drain_timeout_s
        self._stop = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.bound_port = port
        #: 0 after a requested stop; 1 when a component failed and the host stopped because of it.
        self.exit_code = 0
        self.loop_lag = LoopLagMonitor()
        for component in self.components:
            if hasattr(component, "on_fatal"):
                component.on_fatal = self._fatal

    async def _livez(self, request: web.Request) -> web.Response:
        unhealthy = [type(c).__name__ for c in self.components if not c.healthy()]
        if unhealthy:
            return web.json_response({"status": "unhealthy", "components": unhealthy}, status=503)
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._runner is None or not all(c.ready for c in self.components):
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ready"})

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _fatal(self) -> None:
        log.error("a component failed: stopping the process (exit code 1) so that it is restarted")
        self.exit_code = 1
        self.request_stop()

    def request_stop(self) -> None:
        """Ask the host to stop (what SIGTERM/SIGINT do)."""
        self._stop.set()

    async def start(self) -> None:
        """Connect the bus, start the components, then serve HTTP (and measure event-loop lag meanwhile)."""
        self.loop_lag.start()
        await self.bus.start()
        for component in self.components:
            await component.start()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses  # the bound (host, port, ...) of each site: port 0 resolved
        if addresses:
            self.bound_port = int(addresses[0][1])
        log.info("serving /livez /readyz /metrics on %s:%d", self.host, self.bound_port)

    async def stop(self) -> None:
        """Stop HTTP intake first, then drain components in reverse order, then the bus."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for component in reversed(self.components):
            try:
                await asyncio.wait_for(component.stop(), self.drain_timeout_s)
            except TimeoutError:
                log.error(  # noqa: TRY400 - a timeout: its traceback says nothing
                    "%s did not drain within %.0fs", type(component).__name__, self.drain_timeout_s)
        await self.bus.stop()
        await self.loop_lag.stop()

    async def run(self) -> None:
        """Start, wait for SIGTERM/SIGINT (or ``request_stop``), then drain and stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        try:
            await self._stop.wait()
            log.info("stopping: draining in-flight work")
        finally:
            await self.stop()
