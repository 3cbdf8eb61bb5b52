"""A protocol-faithful HaloPSA simulator: OAuth2 with scopes, tickets, ticket types, categories, actions,
Halo-style pagination, 429s, and the webhook sender. For the demo and the tests only."""

from __future__ import annotations

import base64
import itertools
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from autotriage.core.models import PSAKind
from autotriage.sandbox.common import TECHNICIAN, WORKFLOW, HistoryClock, SampleData, Simulator, iso, load_sample

SEP = ">"
RATE_LIMIT_MESSAGE = "Rate Limit Reached - 300 Requests per rolling 5 minute window"
#: Audit actors as (agent_id, username); the API application logs in as its own agent. How Halo names a
#: workflow / automation actor is UNCONFIRMED.
API_AGENT = "api"
AUDIT_ACTORS = {API_AGENT: (21, "API - autotriage"), TECHNICIAN: (5, "Jo Tech"), WORKFLOW: (1, "Automation Rules")}


class HaloSimulator(Simulator):
    """One Halo instance with one API application and one webhook."""

    psa = PSAKind.HALO

    def __init__(
        self,
        sample: SampleData | None = None,
        *,
        client_id: str = "autotriage-app",
        client_secret: str = "halo-client-secret",
        webhook_user: str = "halo",
        webhook_password: str = "halo-webhook-password",
        granted_scopes: str = "read:tickets edit:tickets",
        token_lifetime_s: int = 3600,
        seed_history: bool = True,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_user = webhook_user
        self.webhook_password = webhook_password
        self.granted_scopes = set(granted_scopes.split())
        self.token_lifetime_s = token_lifetime_s
        self.tokens: dict[str, tuple[set[str], float]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.actions: dict[int, list[dict[str, Any]]] = {}
        self.categories: list[dict[str, Any]] = []
        self.ticket_types: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self._action_ids = itertools.count(1)
        #: Audit rows per ticket (served as ``audit_log`` with ``include_auditing=true``)
        self.audit: dict[int, list[dict[str, Any]]] = {}
        self._audit_ids = itertools.count(1)
        self.token_requests = 0
        self._load(sample or load_sample(PSAKind.HALO), seed_history)
        self._routes()

    # --- data ---------------------------------------------------------------------------------------
    def _load(self, sample: SampleData, seed_history: bool) -> None:
        values: dict[str, int] = {}
        inactive: set[str] = set()
        for scope in sample.scopes:
            for path in scope["paths"]:
                values.setdefault(SEP.join(path), len(values) + 1)
            for path in scope.get("inactive_paths", []):
                value = SEP.join(path)
                values.setdefault(value, len(values) + 1)
                inactive.add(value)
        self.categories = [
            {"id": cid, "value": value, "category_name": value, "type_id": 1, "inactive": value in inactive}
            for value, cid in values.items()
        ]
        for scope in sample.scopes:
            allowed = [SEP.join(p) for p in scope["paths"]]
            self.ticket_types[int(scope["id"])] = {
                "id": int(scope["id"]),
                "name": scope["name"],
                "visible": True,
                "allowall_category1": bool(scope.get("allow_all", False)),
                "allowed_category1": [
                    {"category_id": values[v], "category_value": v, "tickettype_id": int(scope["id"])} for v in allowed
                ],
                "default_category_1": "",
            }
        if seed_history:
            clock = HistoryClock(sample.history)
            for t in sample.history:
                tid = self.create_ticket(t.summary, t.details, t.scope, t.category)
                self.tickets[int(tid)]["dateoccurred"] = iso(clock.created(t))
                self.close_ticket(tid, hours=clock.hours(t), closed_at=clock.closed(t))

    def create_ticket(self, summary: str, details: str, scope: int, category: tuple[str, ...] | None = None) -> str:
        tid = next(self._ids)
        self.tickets[tid] = {
            "id": tid,
            "summary": summary,
            "details": details,
            "tickettype_id": int(scope),
            "tickettype_name": self.ticket_types.get(int(scope), {}).get("name", ""),
            "category_1": SEP.join(category) if category else "",
            "category_2": "",
            "category_3": "",
            "category_4": "",
            "client_id": 12,
            "client_name": "Bayside Dental",
            "user_name": "Jo Smith",
            "status_id": 1,
            "hasbeenclosed": False,
            "priority_id": 3,
            "team": "1st Line",
            "dateoccurred": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        return str(tid)

    def category_of(self, ticket_id: str) -> tuple[str, ...]:
        value = self.tickets[int(ticket_id)]["category_1"]
        return tuple(value.split(SEP)) if value else ()

    def set_category(self, ticket_id: str, path: tuple[str, ...], *, by: str = TECHNICIAN,
                     at: datetime | None = None) -> None:
        ticket = self.tickets[int(ticket_id)]
        self._audit(ticket, "category_1", SEP.join(path), AUDIT_ACTORS[by], at)
        ticket["category_1"] = SEP.join(path)

    def _audit(self, ticket: dict[str, Any], name: str, new: Any, actor: tuple[int, str],
               at: datetime | None = None) -> None:
        """One Audit row for a changed field (how Halo encodes field changes is UNCONFIRMED)."""
        if ticket.get(name) == new:
            return
        self.audit.setdefault(ticket["id"], []).append({
            "id": next(self._audit_ids), "ticket_id": ticket["id"], "agent_id": actor[0], "user_id": 0,
            "username": actor[1], "date": iso(at or datetime.now(UTC)), "table_name": "FAULTS",
            "id1": ticket["id"], "id2": 0, "value": name, "from": str(ticket.get(name) or ""), "to": str(new),
            "actoutcome": ""})

    def close_ticket(self, ticket_id: str, *, hours: float = 0.5, closed_at: datetime | None = None,
                     scope: int | None = None) -> None:
        ticket = self.tickets[int(ticket_id)]
        if scope is not None:
            name = self.ticket_types.get(int(scope), {}).get("name", "")
            self._audit(ticket, "tickettype_id", int(scope), AUDIT_ACTORS[TECHNICIAN], closed_at)
            ticket.update(tickettype_id=int(scope), tickettype_name=name)
        when = iso(closed_at or datetime.now(UTC))
        self.actions.setdefault(int(ticket_id), []).append({
            "id": next(self._action_ids), "ticket_id": int(ticket_id), "outcome": "Closed", "note": "Resolved.",
            "timetaken": hours, "who": "Jo Tech", "datetime": when, "hiddenfromuser": False,
        })
        ticket.update(hasbeenclosed=True, status_id=9, dateclosed=when, closure_time=when,
                      timetaken=round(float(ticket.get("timetaken") or 0.0) + hours, 2))

    def valid_paths(self, scope: int) -> set[tuple[str, ...]]:
        return {tuple(v.split(SEP)) for v in self._allowed_values(int(scope))}

    def _allowed_values(self, type_id: int) -> set[str]:
        ttype = self.ticket_types.get(type_id)
        if ttype is None:
            return set()
        active = {c["value"] for c in self.categories if not c["inactive"]}
        if ttype["allowall_category1"]:
            return active
        return {a["category_value"] for a in ttype["allowed_category1"]} & active

    # --- routes -------------------------------------------------------------------------------------
    def _routes(self) -> None:
        r = self.app.router
        r.add_get("/api/authinfo", self._authinfo)
        r.add_post("/auth/token", self._token)
        r.add_get("/api/Tickets", self._list_tickets)
        r.add_get("/api/Tickets/{id}", self._get_ticket)
        r.add_post("/api/Tickets", self._post_tickets)
        r.add_get("/api/TicketType", self._list_types)
        r.add_get("/api/TicketType/{id}", self._get_type)
        r.add_get("/api/Category", self._list_categories)
        r.add_get("/api/Actions", self._list_actions)
        r.add_post("/api/Actions", self._post_actions)
        r.add_get("/api/Outcome", self._outcomes)

    def operation_of(self, request: web.Request) -> str:
        names = {
            ("POST", "/auth/token"): "token",
            ("GET", "/api/Tickets/{id}"): "get_ticket",
            ("GET", "/api/Tickets"): "list_tickets",
            ("POST", "/api/Tickets"): "update_ticket",
            ("GET", "/api/TicketType/{id}"): "get_ticket_type",
            ("GET", "/api/Category"): "list_categories",
            ("GET", "/api/Actions"): "list_notes",
            ("POST", "/api/Actions"): "add_note",
        }
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        if canonical == "/api/Tickets/{id}" and request.query.get("include_auditing") == "true":
            return "get_ticket_audit"
        return names.get((request.method, canonical), f"{request.method} {canonical}")

    def fault_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return {"ClassName": "System.Exception", "Message": RATE_LIMIT_MESSAGE}
        return {"ClassName": "System.Exception", "Message": f"Simulated HTTP {status}"}

    async def _authinfo(self, request: web.Request) -> web.Response:
        return web.json_response({"auth_url": f"{self.base_url}/auth", "tenant_id": "sim"})

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        asked = set(str(form.get("scope", "all")).split())
        if not asked <= self.granted_scopes | {"all"} or ("all" in asked and "all" not in self.granted_scopes):
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (asked, time.monotonic() + self.token_lifetime_s)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_s,
                "scope": " ".join(asked),
            }
        )

    def _authorize(self, request: web.Request, scope: str) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        grant = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if grant is None or grant[1] < time.monotonic():
            return web.json_response({"Message": "Authorization has been denied for this request."}, status=401)
        scopes = grant[0]
        if "all" not in scopes and scope not in scopes and not (scope == "read:tickets" and "edit:tickets" in scopes):
            return web.json_response({"Message": f"The token does not grant the scope {scope}"}, status=403)
        return None

    async def _get_ticket(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return web.json_response({"Message": "Ticket not found"}, status=404)
        if request.query.get("include_auditing") == "true":
            return web.json_response({**ticket, "audit_log": self.audit.get(ticket["id"], [])})
        return web.json_response(ticket)

    async def _list_tickets(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        rows = list(self.tickets.values())
        if request.query.get("closed_only") == "true":
            rows = [t for t in rows if t["hasbeenclosed"]]
        if request.query.get("datesearch") == "dateclosed":
            start, end = request.query.get("startdate", ""), request.query.get("enddate", "")
            rows = [t for t in rows if t.get("dateclosed") and (not start or t["dateclosed"] >= start)
                    and (not end or t["dateclosed"] <= end)]
        if request.query.get("order"):
            key = request.query["order"]
            rows.sort(key=lambda t: str(t.get(key) or ""), reverse=request.query.get("orderdesc") == "true")
        if request.query.get("pageinate") != "true":
            count = int(request.query.get("count", "50"))
            return web.json_response({"record_count": len(rows), "tickets": rows[:count]})
        size = int(request.query.get("page_size", "50"))
        page = int(request.query.get("page_no", "1"))
        return web.json_response({"record_count": len(rows), "tickets": rows[(page - 1) * size : page * size]})

    async def _post_tickets(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "edit:tickets"):
            return denied
        body = await request.json()
        if not isinstance(body, list):
            return web.json_response({"Message": "Expected an array of tickets"}, status=400)
        saved = []
        for item in body:
            ticket = self.tickets.get(int(item.get("id", 0)))
            if ticket is None:
                return web.json_response({"Message": f"Ticket {item.get('id')} not found"}, status=404)
            value = item.get("category_1")
            if value is not None and value != "" and value not in self._allowed_values(ticket["tickettype_id"]):
                self.rejected_writes += 1
                return web.json_response(
                    {"Message": f"Category '{value}' is not allowed for ticket type {ticket['tickettype_id']}"},
                    status=400,
                )
            if value is not None and value != ticket["category_1"]:
                self._audit(ticket, "category_1", value, AUDIT_ACTORS[API_AGENT])
                ticket["category_1"] = value
                self.updates[str(ticket["id"])] += 1
            saved.append(ticket)
        return web.json_response(saved[0] if len(saved) == 1 else saved, status=201)

    async def _list_types(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        return web.json_response([{"id": t["id"], "name": t["name"]} for t in self.ticket_types.values()])

    async def _get_type(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        ttype = self.ticket_types.get(int(request.match_info["id"]))
        if ttype is None:
            return web.json_response({"Message": "Ticket type not found"}, status=404)
        if request.query.get("includedetails") != "true":
            return web.json_response({"id": ttype["id"], "name": ttype["name"]})
        return web.json_response(ttype)

    async def _list_categories(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        type_id = int(request.query.get("type_id", "1"))
        return web.json_response([c for c in self.categories if c["type_id"] == type_id])

    async def _list_actions(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        ticket_id = int(request.query.get("ticket_id", "0"))
        actions = self.actions.get(ticket_id, [])
        return web.json_response({"record_count": len(actions), "actions": actions})

    async def _post_actions(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "edit:tickets"):
            return denied
        body = await request.json()
        if not isinstance(body, list):
            return web.json_response({"Message": "Expected an array of actions"}, status=400)
        saved = []
        for item in body:
            ticket_id = int(item.get("ticket_id", 0))
            if ticket_id not in self.tickets:
                return web.json_response({"Message": f"Ticket {ticket_id} not found"}, status=404)
            if item.get("outcome_id") is None and not item.get("outcome"):
                return web.json_response({"Message": "An Outcome must be entered for this Action"}, status=400)
            action = {"id": next(self._action_ids), **item}
            self.actions.setdefault(ticket_id, []).append(action)
            self.notes.setdefault(str(ticket_id), []).append(str(item.get("note") or item.get("note_html") or ""))
            saved.append(action)
        return web.json_response(saved[0] if len(saved) == 1 else saved, status=201)

    async def _outcomes(self, request: web.Request) -> web.Response:
        if denied := self._authorize(request, "read:tickets"):
            return denied
        return web.json_response([{"id": 7, "buttonname": "Private Note"}, {"id": 1, "buttonname": "Email User"}])

    # --- webhooks and tenants -----------------------------------------------------------------------
    def webhook_payload(self, ticket_id: str, payload_type: str = "full") -> dict[str, Any]:
        """Halo's 'New Ticket Logged' body: full object, or event information only."""
        body: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "webhook_id": "53232637-7724-4a19-b126-3c7267a292aa",
            "notification_id": 41,
            "escmsg_id": str(uuid.uuid4()),
            "event": "New Ticket Logged",
            "object_id": int(ticket_id),
            "agent_id": 3,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        }
        if payload_type == "full":
            t = self.tickets[int(ticket_id)]
            body["message"] = f"New ticket logged: {t['summary']}"
            body["ticket"] = {k: t[k] for k in ("id", "summary", "tickettype_id", "client_id", "status_id")}
            body["ticket"].update({"team_id": 5, "customfields": []})
        return body

    async def send_created_webhook(
        self,
        ingress_url: str,
        tenant_id: str,
        ticket_ids: list[str],
        *,
        batch: bool = False,
        payload_type: str = "full",
        password: str | None = None,
    ) -> int:
        bodies = [self.webhook_payload(t, payload_type) for t in ticket_ids]
        deliveries: list[Any] = [bodies] if batch else bodies
        return await self.deliver(ingress_url, tenant_id, deliveries, password=password)

    async def deliver(
        self, ingress_url: str, tenant_id: str, deliveries: list[Any], *, password: str | None = None
    ) -> int:
        """POST raw deliveries to ingress with Halo's Basic credentials; return the last status."""
        creds = f"{self.webhook_user}:{password or self.webhook_password}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(creds).decode()}
        status = 0
        async with aiohttp.ClientSession() as session:
            for body in deliveries:
                async with session.post(f"{ingress_url}/webhooks/halo/{tenant_id}", json=body, headers=headers) as resp:
                    status = resp.status
        return status

    def tenant_config(self, tenant_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        prefix = tenant_id.upper().replace("-", "_")
        entry = {
            "id": tenant_id,
            "psa": {
                "kind": "halo",
                "base_url": self.base_url,
                "client_id": self.client_id,
                "client_secret": {"env": f"{prefix}_HALO_CLIENT_SECRET"},
            },
            "webhook": {
                "username": self.webhook_user,
                "password": {"env": f"{prefix}_HALO_WEBHOOK_PASSWORD"},
            },
        }
        env = {
            f"{prefix}_HALO_CLIENT_SECRET": self.client_secret,
            f"{prefix}_HALO_WEBHOOK_PASSWORD": self.webhook_password,
        }
        return entry, env
