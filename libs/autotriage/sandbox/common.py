"""What every PSA simulator shares: an aiohttp server, fault injection, write counters, sample data.

Simulators are for the demo and the tests only; a production tenant never points at one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from autotriage.core.models import PSAKind

#: Path prefix of the sandbox's own control endpoints (not part of any PSA's API).
CONTROL = "/_sandbox"

#: Who changes a category in a simulator: a person in the PSA's UI, or a workflow rule (automation). Changes
#: made through the API (autotriage's writes) are recorded with the simulator's API user as the actor.
TECHNICIAN = "technician"
WORKFLOW = "workflow"


@dataclass
class Fault:
    """A scripted failure answered instead of the real response."""

    status: int
    times: int
    retry_after: float | None = None
    operations: frozenset[str] | None = None
    body: dict[str, Any] | None = None
    delay_s: float = 0.0


@dataclass
class SampleTicket:
    """One ticket of the bundled sample data."""

    id: str
    scope: int
    summary: str
    details: str
    category: tuple[str, ...] | None
    noise: str | None = None
    source: str = ""
    lang: str = "en"
    created_at: str = ""


@dataclass
class SampleData:
    """The bundled taxonomy and tickets of one PSA."""

    scopes: list[dict[str, Any]]
    history: list[SampleTicket] = field(default_factory=list)
    new: list[SampleTicket] = field(default_factory=list)


def load_sample(psa: PSAKind | str) -> SampleData:
    """Read ``sandbox/data/<psa>/``: taxonomy.json, history.jsonl, new.jsonl."""
    folder = resources.files("autotriage.sandbox") / "data" / str(PSAKind(psa).value)
    taxonomy = json.loads((folder / "taxonomy.json").read_text(encoding="utf-8"))

    def tickets(name: str) -> list[SampleTicket]:
        path = folder / name
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                category = row.get("category")
                out.append(
                    SampleTicket(
                        id=str(row["id"]),
                        scope=int(row["scope"]),
                        summary=row["summary"],
                        details=row.get("details", ""),
                        category=tuple(category) if category else None,
                        noise=row.get("noise"),
                        source=row.get("source", ""),
                        lang=row.get("lang", "en"),
                        created_at=row.get("created_at", ""),
                    )
                )
        return out

    return SampleData(scopes=taxonomy["scopes"], history=tickets("history.jsonl"), new=tickets("new.jsonl"))


def iso(when: datetime) -> str:
    """``2026-01-31T08:00:00Z``: the date form the simulators store and compare."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) from a text."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0x1_0000_0000


class HistoryClock:
    """Moves the bundled history so its newest ticket was created three days ago (so it closed at least a day
    ago; relative spacing kept), and gives each history ticket a deterministic close time and technician hours
    that depend on its category, so reports over "the last 90 days" have data on any day the demo runs."""

    def __init__(self, history: list[SampleTicket], now: datetime | None = None) -> None:
        stamps = [datetime.fromisoformat(t.created_at) for t in history if t.created_at]
        now = now or datetime.now(UTC)
        self.shift = (now - max(stamps) - timedelta(days=3)) if stamps else timedelta()
        self.shift = timedelta(days=self.shift.days)

    def created(self, ticket: SampleTicket) -> datetime:
        """The (moved) creation time."""
        if not ticket.created_at:
            return datetime.now(UTC) - timedelta(days=30)
        return datetime.fromisoformat(ticket.created_at) + self.shift

    def closed(self, ticket: SampleTicket) -> datetime:
        """Creation + 1 to 48 hours."""
        return self.created(ticket) + timedelta(hours=1 + 47 * _unit(f"close:{ticket.id}") ** 2)

    @staticmethod
    def hours(ticket: SampleTicket) -> float:
        """Technician hours: a per-category typical effort (0.25 to 3 h) times a per-ticket spread."""
        typical = 0.25 + 2.75 * _unit("effort:" + " > ".join(ticket.category or ("noise",))) ** 2
        return round(typical * (0.5 + _unit(f"hours:{ticket.id}")), 2)


class Simulator(ABC):
    """Base class of the PSA simulators: lifecycle, fault injection and write counters."""

    psa: PSAKind

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._fault_middleware])
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()
        self.updates: Counter[str] = Counter()
        self.notes: dict[str, list[str]] = {}
        self.rejected_writes = 0
        #: open tickets created by :meth:`seed_new`, and those a webhook was already sent for
        self.new_tickets: list[str] = []
        self.webhooks_sent: set[str] = set()
        self.app.router.add_post(CONTROL + "/tickets", self._control_create)
        self.app.router.add_post(CONTROL + "/webhooks", self._control_webhook)

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve on ``host:port`` (0 = a free port), over HTTPS with ``ssl_context``; return the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        addresses = self._runner.addresses  # the bound (host, port, ...): port 0 resolved
        bound = addresses[0][1] if addresses else port
        self.base_url = f"{'https' if ssl_context else 'http'}://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    # --- sandbox control (``autotriage sandbox send``) ----------------------------------------------
    def seed_new(self, tickets: list[SampleTicket]) -> list[str]:
        """Create the bundled new tickets as open, uncategorized tickets; return their ids."""
        ids = [self.create_ticket(t.summary, t.details, t.scope) for t in tickets]
        self.new_tickets.extend(ids)
        return ids

    async def _control_create(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/tickets {"summary", "details", "scope"}``: create an open ticket."""
        body = await request.json()
        ticket_id = self.create_ticket(str(body["summary"]), str(body.get("details", "")), int(body["scope"]))
        return web.json_response({"id": ticket_id}, status=201)

    async def _control_webhook(self, request: web.Request) -> web.Response:
        """``POST /_sandbox/webhooks {"ingress", "tenant", "ticket_id"?}``: send the PSA's real new-ticket
        webhook for the ticket (default: the next seeded new ticket not sent yet) to ingress."""
        body = await request.json()
        ticket_id = str(body.get("ticket_id") or "")
        if not ticket_id:
            pending = [t for t in self.new_tickets if t not in self.webhooks_sent]
            if not pending:
                return web.json_response({"error": "every seeded new ticket was sent: pass --ticket or --text"},
                                         status=409)
            ticket_id = pending[0]
        if not self.has_ticket(ticket_id):
            return web.json_response({"error": f"ticket {ticket_id} does not exist in the {self.psa.value} "
                                      f"simulator (new tickets: {', '.join(self.new_tickets[:5])}, ...)"},
                                     status=404)
        try:
            status = await self.send_created_webhook(str(body["ingress"]), str(body["tenant"]), [ticket_id])
        except (OSError, aiohttp.ClientError) as exc:
            return web.json_response({"error": f"cannot reach ingress at {body['ingress']}: {exc}",
                                      "ticket_id": ticket_id}, status=502)
        self.webhooks_sent.add(ticket_id)
        return web.json_response({"ticket_id": ticket_id, "status": status, "summary": self.summary_of(ticket_id)})

    def has_ticket(self, ticket_id: str) -> bool:
        """Whether the ticket exists."""
        try:
            self.category_of(ticket_id)
        except (KeyError, ValueError):
            return False
        return True

    def summary_of(self, ticket_id: str) -> str:
        """The ticket's summary/title (for messages)."""
        tickets: dict[int, Any] = getattr(self, "tickets", {})
        ticket = tickets.get(int(ticket_id))
        if ticket is None:
            return ""
        if isinstance(ticket, dict):
            return str(ticket.get("summary") or ticket.get("title") or "")
        return str(getattr(ticket, "summary", ""))

    # --- faults -------------------------------------------------------------------------------------
    def inject(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: float | None = None,
        operations: set[str] | None = None,
        body: dict[str, Any] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next ``times`` API requests (of ``operations``, if given) with ``status``."""
        self.faults.append(
            Fault(status, times, retry_after, frozenset(operations) if operations else None, body, delay_s)
        )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        operation = self.operation_of(request)
        self.requests[operation] += 1
        for fault in self.faults:
            if fault.times > 0 and (fault.operations is None or operation in fault.operations):
                fault.times -= 1
                if fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return web.json_response(
                    fault.body or self.fault_body(fault.status), status=fault.status, headers=headers
                )
        self.faults = [f for f in self.faults if f.times > 0]
        response: web.StreamResponse = await handler(request)
        return response

    def operation_of(self, request: web.Request) -> str:
        """A short name for the API operation of a request (for fault targeting and counters)."""
        resource = request.match_info.route.resource
        return f"{request.method} {resource.canonical if resource else request.path}"

    def fault_body(self, status: int) -> dict[str, Any]:
        """The PSA's error body for an injected status."""
        return {"error": f"HTTP {status}"}

    # --- what tests look at -------------------------------------------------------------------------
    def note_count(self, ticket_id: str) -> int:
        """Notes autotriage added to a ticket."""
        return len(self.notes.get(str(ticket_id), []))

    def update_count(self, ticket_id: str) -> int:
        """Category updates applied to a ticket."""
        return self.updates[str(ticket_id)]

    @property
    def writes_total(self) -> int:
        """All writes (category updates + notes) received."""
        return sum(self.updates.values()) + sum(len(n) for n in self.notes.values())

    @abstractmethod
    def create_ticket(self, summary: str, details: str, scope: int, category: tuple[str, ...] | None = None) -> str:
        """Create an open ticket; return its id."""

    @abstractmethod
    def category_of(self, ticket_id: str) -> tuple[str, ...]:
        """The ticket's category path as the PSA holds it (empty when unset)."""

    @abstractmethod
    def set_category(self, ticket_id: str, path: tuple[str, ...], *, by: str = TECHNICIAN,
                     at: datetime | None = None) -> None:
        """What a technician (``by=TECHNICIAN``) or a workflow rule (``WORKFLOW``) does in the PSA: set the
        category directly; the PSA's history records it with that actor at ``at`` (default now)."""

    @abstractmethod
    def close_ticket(self, ticket_id: str, *, hours: float = 0.5, closed_at: datetime | None = None,
                     scope: int | None = None) -> None:
        """What a technician does at the end: log ``hours`` of time, optionally move the ticket to another
        ``scope`` first (re-scope), and close it (``closed_at`` default now)."""

    @abstractmethod
    def valid_paths(self, scope: int) -> set[tuple[str, ...]]:
        """The active, valid category paths of a scope."""

    @abstractmethod
    def tenant_config(self, tenant_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The tenants-file entry (psa + webhook blocks) pointing at this simulator, and the env secrets."""

    @abstractmethod
    async def send_created_webhook(self, ingress_url: str, tenant_id: str, ticket_ids: list[str]) -> int:
        """Send the PSA's real new-ticket webhook for these tickets to ingress; return the HTTP status."""
