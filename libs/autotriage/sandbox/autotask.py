"""A protocol-faithful Datto PSA / Autotask REST v1.0 simulator: zone discovery, the three auth headers,
issue/sub-issue picklists, ``PATCH /Tickets`` validation (HTTP 500 + ``errors``), ticket notes,
``pageDetails`` paging, the 3-thread limit (429), ``ThresholdInformation`` and the signed webhook sender.
For the demo and the tests only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from autotriage.core.models import PSAKind
from autotriage.sandbox.common import TECHNICIAN, WORKFLOW, HistoryClock, SampleData, Simulator, iso, load_sample

API = "/atservicesrest/v1.0"
FIRST_ISSUE_VALUE = 10
FIRST_SUB_VALUE = 100
#: The contact every simulated ticket is opened by unless a test says otherwise.
DEFAULT_CONTACT_ID = 30682
STATUS = {1: "New", 5: "Complete", 7: "Waiting Customer", 8: "In Progress"}
PRIORITY = {4: "Critical", 1: "High", 2: "Medium", 3: "Low"}
SOURCE = {-1: "Client Portal", 1: "Other", 2: "Phone", 4: "Email", 6: "Web Portal", 11: "Monitoring Alert"}
NOTE_TYPES = {
    1: ("Task Detail", True), 2: ("Task Notes", True), 3: ("Task Summary", True), 13: ("Workflow", False),
}
PUBLISH = {1: ("All Autotask Users", True), 2: ("Internal Only", True), 4: ("Internal & Co-Managed", True)}
THREAD_LIMIT_MESSAGE = "Thread limit reached: only 3 concurrent requests are allowed per object endpoint"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


#: History actors as (resourceID, what the detail adds); the API user is the resource behind autotriage's
#: credentials. Whether a workflow rule is named in ``detail`` is UNCONFIRMED.
API_USER = "api"
HISTORY_ACTORS: dict[str, tuple[int | None, str]] = {
    API_USER: (29682900, ""), TECHNICIAN: (29682885, ""), WORKFLOW: (None, ' by Workflow Rule "Route by keyword"')}


def dotnet_json(value: Any) -> str:
    """Serialise like Autotask's .NET encoder: compact, ``& < > ' " ` +`` and non-ASCII as ``\\uXXXX``."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dotnet_str(str(k))}:{dotnet_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dotnet_json(v) for v in value) + "]"
    if isinstance(value, str):
        return _dotnet_str(value)
    return json.dumps(value)


def _dotnet_str(text: str) -> str:
    named = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
    out = []
    for char in text:
        if char in named:
            out.append(named[char])
        elif char in "&<>'\"`+" or ord(char) < 0x20 or ord(char) > 0x7F:
            units = char.encode("utf-16-be")
            out.extend(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04X}" for i in range(0, len(units), 2))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _picklist(values: Iterable[tuple[int, str, bool, int | None]]) -> list[dict[str, Any]]:
    return [
        {"value": str(v), "label": label, "isDefaultValue": False, "sortOrder": i, "isActive": active,
         "isSystem": False, "parentValue": None if parent is None else str(parent)}
        for i, (v, label, active, parent) in enumerate(values, start=1)
    ]


def _field(name: str, data_type: str = "integer", picklist: list[dict[str, Any]] | None = None,
           parent_field: str | None = None, reference: str | None = None) -> dict[str, Any]:
    return {
        "name": name, "dataType": data_type, "length": 0 if data_type != "string" else 8000,
        "isRequired": name in {"title", "status", "priority"}, "isReadOnly": name == "id",
        "isQueryable": True, "isReference": reference is not None, "referenceEntityType": reference or "",
        "isPickList": picklist is not None, "picklistValues": picklist,
        "picklistParentValueField": parent_field, "isSupportedWebhookField": True,
    }


def _errors(*messages: str, status: int = 500) -> web.Response:
    return web.json_response({"errors": list(messages)}, status=status)


def _key(value: Any) -> tuple[int, Any]:
    """Numbers compare as numbers, everything else as lower-cased text."""
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value).lower())


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op in {"exist", "notexist"}:
        return (actual is not None and actual != "") == (op == "exist")
    if op in {"in", "notin"}:
        found = any(_compare(actual, "eq", w) for w in (wanted if isinstance(wanted, list) else [wanted]))
        return found == (op == "in")
    if actual is None:
        return op == "noteq"
    text, needle = str(actual).lower(), str(wanted).lower()
    a, w = _key(actual), _key(wanted)
    ops = {
        "eq": a == w, "noteq": a != w, "gt": a > w, "gte": a >= w, "lt": a < w, "lte": a <= w,
        "contains": needle in text, "beginswith": text.startswith(needle), "endswith": text.endswith(needle),
    }
    return ops.get(op, False)


def matches(row: dict[str, Any], condition: dict[str, Any]) -> bool:
    """Evaluate one Autotask query filter condition (field names case-insensitive)."""
    op = str(condition.get("op", "")).lower()
    items = condition.get("items") or []
    if op == "and":
        return all(matches(row, c) for c in items)
    if op == "or":
        return any(matches(row, c) for c in items)
    lowered = {k.lower(): v for k, v in row.items()}
    return _compare(lowered.get(str(condition.get("field", "")).lower()), op, condition.get("value"))


class AutotaskSimulator(Simulator):
    """One Autotask database with one API user (tracking identifier) and one ticket webhook."""

    psa = PSAKind.AUTOTASK

    def __init__(
        self,
        sample: SampleData | None = None,
        *,
        username: str = "autotriage-api@sim.example",
        secret: str = "autotask-api-secret",
        integration_code: str = "SIMULATORTRACKINGIDENTIFIER",
        webhook_secret: str = "autotask-webhook-secret-key",
        seed_history: bool = True,
        thread_limit: int = 3,
        page_size: int = 500,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.username = username
        self.secret = secret
        self.integration_code = integration_code
        self.webhook_secret = webhook_secret
        self.thread_limit = thread_limit
        self.page_size = page_size
        self.latency_s = latency_s
        self.webhook_guid = str(uuid.uuid4())
        self.zone_answer: str | None = None
        self.threshold_used: int | None = None
        self.api_calls = 0
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.thread_rejections = 0
        self.queues: dict[int, str] = {}
        self.issue_types: dict[int, dict[str, Any]] = {}
        self.sub_issue_types: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.ticket_notes: dict[int, list[dict[str, Any]]] = {}
        self.time_entries: list[dict[str, Any]] = []
        #: TicketHistory rows (id, ticketID, resourceID, date, action, detail)
        self.ticket_history: list[dict[str, Any]] = []
        self._history_ids = itertools.count(880001)
        self._time_ids = itertools.count(7700001)
        self._ids = itertools.count(351181)
        self._note_ids = itertools.count(29900001)
        self._sequence = itertools.count(1)
        self.app.middlewares.append(self._api_middleware)
        self.add_contact(DEFAULT_CONTACT_ID, "Jo", "Smith", "jo.smith@bayside.example")
        self._load(sample or load_sample(PSAKind.AUTOTASK), seed_history)
        self._routes()

    # --- data ---------------------------------------------------------------------------------------
    def _load(self, sample: SampleData, seed_history: bool) -> None:
        for scope in sample.scopes:
            self.queues[int(scope["id"])] = str(scope["name"])
            for path in scope["paths"]:
                self._add_path(tuple(path), active=True)
        for scope in sample.scopes:
            for path in scope.get("inactive_paths", []):
                self._add_path(tuple(path), active=False)
        if seed_history:
            clock = HistoryClock(sample.history)
            for t in sample.history:
                tid = self.create_ticket(
                    t.summary, t.details, t.scope, t.category, source=t.source, created_at=iso(clock.created(t))
                )
                self.close_ticket(tid, hours=clock.hours(t), closed_at=clock.closed(t))

    def _add_path(self, path: tuple[str, ...], *, active: bool) -> None:
        """Register a path; picklist values are assigned in order of first appearance (deterministic)."""
        if len(path) not in (1, 2):
            raise ValueError(f"Autotask categories have two levels (issue, sub-issue), got {path!r}")
        issue = self._value_of(self.issue_types, path[0], None)
        if issue is None:
            issue = FIRST_ISSUE_VALUE + len(self.issue_types)
            self.issue_types[issue] = {"label": path[0], "active": active, "parent": None}
        elif active:
            self.issue_types[issue]["active"] = True
        if len(path) == 2:
            sub = self._value_of(self.sub_issue_types, path[1], issue)
            if sub is None:
                sub = FIRST_SUB_VALUE + len(self.sub_issue_types)
                self.sub_issue_types[sub] = {"label": path[1], "active": active, "parent": issue}
            elif active:
                self.sub_issue_types[sub]["active"] = True

    @staticmethod
    def _value_of(values: dict[int, dict[str, Any]], label: str, parent: int | None) -> int | None:
        found = (v for v, row in values.items() if row["label"] == label and row["parent"] == parent)
        return next(found, None)

    def set_active(self, path: tuple[str, ...], active: bool) -> None:
        """What an admin does in Autotask: (de)activate an issue type (1 level) or a sub-issue type (2)."""
        issue = self._value_of(self.issue_types, path[0], None)
        if issue is None:
            raise KeyError(path)
        if len(path) == 1:
            self.issue_types[issue]["active"] = active
            return
        sub = self._value_of(self.sub_issue_types, path[1], issue)
        if sub is None:
            raise KeyError(path)
        self.sub_issue_types[sub]["active"] = active

    def values_of(self, path: tuple[str, ...]) -> tuple[int, int | None]:
        """The (issueType, subIssueType) integers of a category path."""
        issue = self._value_of(self.issue_types, path[0], None)
        sub = self._value_of(self.sub_issue_types, path[1], issue) if len(path) > 1 else None
        if issue is None or (len(path) > 1 and sub is None):
            raise KeyError(path)
        return issue, sub

    def add_contact(self, contact_id: int, first: str, last: str, email: str = "", *, company_id: int = 174,
                    email2: str = "", active: bool = True) -> int:
        """A Contacts entity row as ``GET /V1.0/Contacts/{id}`` returns it (e-mail fields may be empty)."""
        self.contacts[contact_id] = {
            "id": contact_id, "companyID": company_id, "firstName": first, "lastName": last,
            "emailAddress": email or None, "emailAddress2": email2 or None, "emailAddress3": None,
            "isActive": 1 if active else 0, "phone": "555-0100", "title": None, "userDefinedFields": [],
        }
        return contact_id

    def create_ticket(
        self, summary: str, details: str, scope: int, category: tuple[str, ...] | None = None,
        *, source: str = "", created_at: str = "", contact_id: int | None = DEFAULT_CONTACT_ID,
    ) -> str:
        tid = next(self._ids)
        issue, sub = self.values_of(category) if category else (None, None)
        source_value = next((v for v, label in SOURCE.items() if label.lower() == source.lower()), None)
        now = created_at or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.tickets[tid] = {
            "id": tid, "ticketNumber": f"T{time.strftime('%Y%m%d', time.gmtime())}.{tid % 10000:04d}",
            "title": summary, "description": details, "queueID": int(scope), "companyID": 174,
            "contactID": contact_id, "priority": 2, "status": 1, "source": source_value, "issueType": issue,
            "subIssueType": sub, "ticketCategory": 3, "ticketType": 1, "createDate": now,
            "completedDate": None, "creatorResourceID": 29682885, "assignedResourceID": None,
            "userDefinedFields": [],
        }
        return str(tid)

    def category_of(self, ticket_id: str) -> tuple[str, ...]:
        ticket = self.tickets[int(ticket_id)]
        path: tuple[str, ...] = ()
        if ticket["issueType"] is not None:
            path = (self.issue_types[ticket["issueType"]]["label"],)
            if ticket["subIssueType"] is not None:
                path += (self.sub_issue_types[ticket["subIssueType"]]["label"],)
        return path

    def set_category(self, ticket_id: str, path: tuple[str, ...], *, by: str = TECHNICIAN,
                     at: datetime | None = None) -> None:
        issue, sub = self.values_of(path) if path else (None, None)
        self._record_category(self.tickets[int(ticket_id)], issue, sub, HISTORY_ACTORS[by], at)
        self.tickets[int(ticket_id)].update(issueType=issue, subIssueType=sub)

    def _label(self, table: dict[int, dict[str, Any]], value: Any) -> str:
        return str(table[value]["label"]) if isinstance(value, int) and value in table else ""

    def _record_category(self, ticket: dict[str, Any], issue: Any, sub: Any, actor: tuple[int | None, str],
                         at: datetime | None = None) -> None:
        """History rows for changed issue / sub-issue types (action and detail grammar made up: UNCONFIRMED)."""
        for name, table, old, new in (("Issue Type", self.issue_types, ticket["issueType"], issue),
                                      ("Sub-Issue Type", self.sub_issue_types, ticket["subIssueType"], sub)):
            if old != new:
                detail = f'{name} changed from "{self._label(table, old)}" to "{self._label(table, new)}"'
                self._record(ticket, name, detail + actor[1], actor[0], at)

    def _record(self, ticket: dict[str, Any], action: str, detail: str, resource: int | None,
                at: datetime | None = None) -> None:
        self.ticket_history.append({"id": next(self._history_ids), "ticketID": ticket["id"], "resourceID": resource,
                                    "date": iso(at or datetime.now(UTC)), "action": action, "detail": detail})

    def close_ticket(self, ticket_id: str, *, hours: float = 0.5, closed_at: datetime | None = None,
                     scope: int | None = None) -> None:
        ticket = self.tickets[int(ticket_id)]
        if scope is not None:
            if int(scope) != ticket["queueID"]:
                self._record(ticket, "Queue", f'Queue changed from "{self.queues.get(ticket["queueID"], "")}" to '
                             f'"{self.queues.get(int(scope), "")}"', HISTORY_ACTORS[TECHNICIAN][0], closed_at)
            ticket["queueID"] = int(scope)
        when = iso(closed_at or datetime.now(UTC))
        self.time_entries.append({
            "id": next(self._time_ids), "ticketID": int(ticket_id), "hoursWorked": hours, "hoursToBill": hours,
            "offsetHours": 0.0, "dateWorked": when, "resourceID": 29682885, "isNonBillable": False,
        })
        ticket.update(status=5, completedDate=when, completedByResourceID=29682885,
                      lastTrackedModificationDateTime=when)

    def valid_paths(self, scope: int) -> set[tuple[str, ...]]:
        """Issue/sub-issue picklists are global in Autotask, so every queue has the same valid paths."""
        paths: set[tuple[str, ...]] = set()
        for value, issue in self.issue_types.items():
            if not issue["active"]:
                continue
            subs = {s["label"] for s in self.sub_issue_types.values() if s["active"] and s["parent"] == value}
            paths |= {(issue["label"], s) for s in subs} or {(issue["label"],)}
        return paths

    # --- routes and middleware ----------------------------------------------------------------------
    def _routes(self) -> None:
        r = self.app.router
        r.add_get(f"{API}/zoneInformation", self._zone_information)
        r.add_get(f"{API}/ThresholdInformation", self._threshold)
        r.add_get(f"{API}/Tickets/entityInformation/fields", self._ticket_fields)
        r.add_get(f"{API}/TicketNotes/entityInformation/fields", self._note_fields)
        r.add_post(f"{API}/Tickets/query", self._query)
        r.add_get(f"{API}/Tickets/query", self._query)
        r.add_get(f"{API}/Tickets/query/next", self._query)
        r.add_patch(f"{API}/Tickets", self._patch_tickets)
        r.add_post(f"{API}/TimeEntries/query", self._query_time)
        r.add_post(f"{API}/TicketHistory/query", self._query_history)
        r.add_get(f"{API}/TimeEntries/query/next", self._query_time)
        r.add_get(f"{API}/Tickets/{{id:\\d+}}", self._get_ticket)
        r.add_get(f"{API}/Contacts/{{id:\\d+}}", self._get_contact)
        r.add_patch(f"{API}/Tickets/{{id:\\d+}}", self._patch_by_url)
        r.add_get(f"{API}/Tickets/{{id:\\d+}}/Notes", self._list_notes)
        r.add_post(f"{API}/Tickets/{{id:\\d+}}/Notes", self._post_note)

    def operation_of(self, request: web.Request) -> str:
        names = {
            ("GET", "/zoneInformation"): "zone_information",
            ("GET", "/ThresholdInformation"): "threshold_information",
            ("GET", "/Tickets/entityInformation/fields"): "ticket_fields",
            ("GET", "/TicketNotes/entityInformation/fields"): "note_fields",
            ("POST", "/Tickets/query"): "query_tickets", ("GET", "/Tickets/query"): "query_tickets",
            ("GET", "/Tickets/query/next"): "query_tickets", ("PATCH", "/Tickets"): "update_ticket",
            ("POST", "/TimeEntries/query"): "query_time_entries",
            ("POST", "/TicketHistory/query"): "query_ticket_history",
            ("GET", "/TimeEntries/query/next"): "query_time_entries",
            ("GET", "/Contacts/{id}"): "get_contact",
            ("GET", "/Tickets/{id}"): "get_ticket", ("PATCH", "/Tickets/{id}"): "update_ticket_by_url",
            ("GET", "/Tickets/{id}/Notes"): "list_notes", ("POST", "/Tickets/{id}/Notes"): "add_note",
        }
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        return names.get((request.method, canonical.removeprefix(API)), f"{request.method} {canonical}")

    def fault_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return {"errors": [THREAD_LIMIT_MESSAGE]}
        return {"message": f"Simulated HTTP {status}"}

    @staticmethod
    def _endpoint(request: web.Request) -> str:
        """The object endpoint thread limits count (child ``Tickets/{id}/Notes`` counts as TicketNotes)."""
        parts = request.path.removeprefix(API + "/").split("/")
        return "TicketNotes" if len(parts) >= 3 and parts[2] == "Notes" else parts[0]

    @web.middleware
    async def _api_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Auth headers (except zoneInformation) and the per-endpoint thread limit."""
        if request.path == f"{API}/zoneInformation" or not request.path.startswith(API):
            return await handler(request)
        h = request.headers
        if (h.get("ApiIntegrationCode"), h.get("UserName"), h.get("Secret")) != (
            self.integration_code, self.username, self.secret,
        ):
            return _errors("Unauthorized: check UserName, Secret and ApiIntegrationCode", status=401)
        self.api_calls += 1
        endpoint = self._endpoint(request)
        self.in_flight[endpoint] += 1
        self.max_in_flight[endpoint] = max(self.max_in_flight[endpoint], self.in_flight[endpoint])
        try:
            if self.in_flight[endpoint] > self.thread_limit:
                self.thread_rejections += 1
                return _errors(THREAD_LIMIT_MESSAGE, status=429)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            return await handler(request)
        finally:
            self.in_flight[endpoint] -= 1

    # --- metadata -----------------------------------------------------------------------------------
    async def _zone_information(self, request: web.Request) -> web.Response:
        if request.query.get("user", "").lower() != self.username.lower():
            return _errors(f"Zone information could not be determined for user {request.query.get('user')}")
        origin = str(request.url.origin())
        url = self.zone_answer or f"{origin}/atservicesrest/"
        return web.json_response({"zoneName": "Simulator Zone", "url": url, "webUrl": f"{origin}/", "ci": 1})

    async def _threshold(self, request: web.Request) -> web.Response:
        used = self.api_calls if self.threshold_used is None else self.threshold_used
        return web.json_response({
            "externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": used,
        })

    def _ticket_field_list(self) -> list[dict[str, Any]]:
        issues = _picklist((v, r["label"], r["active"], None) for v, r in self.issue_types.items())
        subs = _picklist((v, r["label"], r["active"], r["parent"]) for v, r in self.sub_issue_types.items())

        def labels(values: dict[int, str]) -> list[dict[str, Any]]:
            return _picklist((v, label, True, None) for v, label in values.items())

        return [
            _field("id", "long"), _field("title", "string"), _field("description", "string"),
            _field("ticketNumber", "string"), _field("companyID", reference="Company"),
            _field("contactID", reference="Contact"), _field("createDate", "datetime"),
            _field("issueType", picklist=issues),
            _field("subIssueType", picklist=subs, parent_field="issueType"),
            _field("queueID", picklist=labels(self.queues)), _field("status", picklist=labels(STATUS)),
            _field("priority", picklist=labels(PRIORITY)), _field("source", picklist=labels(SOURCE)),
        ]

    async def _ticket_fields(self, request: web.Request) -> web.Response:
        return web.json_response({"fields": self._ticket_field_list()})

    async def _note_fields(self, request: web.Request) -> web.Response:
        def values(table: dict[int, tuple[str, bool]]) -> list[dict[str, Any]]:
            return _picklist((v, label, active, None) for v, (label, active) in table.items())

        return web.json_response({"fields": [
            _field("id", "long"), _field("ticketID", reference="Ticket"), _field("title", "string"),
            _field("description", "string"), _field("noteType", picklist=values(NOTE_TYPES)),
            _field("publish", picklist=values(PUBLISH)),
        ]})

    # --- tickets ------------------------------------------------------------------------------------
    async def _get_ticket(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        return web.json_response({"item": ticket})

    async def _get_contact(self, request: web.Request) -> web.Response:
        """Like every Autotask entity GET: ``{"item": {...}}``, ``{"item": null}`` for an unknown id."""
        return web.json_response({"item": self.contacts.get(int(request.match_info["id"]))})

    async def _patch_by_url(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": ["The requested resource does not support http method 'PATCH'."]}, status=405,
            headers={"Allow": "GET"},
        )

    async def _patch_tickets(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _errors("The request body is not valid JSON")
        if not isinstance(body, dict):
            return _errors("Expected one ticket object with its id")
        fields = {str(k).lower(): v for k, v in body.items()}
        ticket_id = fields.get("id")
        ticket = self.tickets.get(ticket_id) if isinstance(ticket_id, int) else None
        if ticket is None:
            return _errors(f"No ticket with id {fields.get('id')!r}: the id belongs in the body")
        problem = self._category_problem(ticket, fields)
        if problem:
            self.rejected_writes += 1
            return _errors(problem)
        before = (ticket["issueType"], ticket["subIssueType"])
        self._record_category(ticket, fields.get("issuetype", before[0]), fields.get("subissuetype", before[1]),
                              HISTORY_ACTORS[API_USER])
        for key, value in fields.items():
            name = next((k for k in ticket if k.lower() == key), None)
            if name is not None and name != "id":
                ticket[name] = value
        if (ticket["issueType"], ticket["subIssueType"]) != before:
            self.updates[str(ticket["id"])] += 1
        return web.json_response({"itemId": ticket["id"]})

    def _category_problem(self, ticket: dict[str, Any], fields: dict[str, Any]) -> str:
        """Why an issue/sub-issue change would be refused ("" when it is valid)."""
        if "issuetype" not in fields and "subissuetype" not in fields:
            return ""
        issue = fields.get("issuetype", ticket["issueType"])
        sub = fields.get("subissuetype", ticket["subIssueType"])
        if issue is not None:
            row = self.issue_types.get(issue) if isinstance(issue, int) else None
            if row is None:
                return f"Value {issue!r} does not exist for field issueType."
            if not row["active"]:
                return f"Value {issue} of field issueType is inactive."
        if sub is None:
            return ""
        sub_row = self.sub_issue_types.get(sub) if isinstance(sub, int) else None
        if sub_row is None:
            return f"Value {sub!r} does not exist for field subIssueType."
        if not sub_row["active"]:
            return f"Value {sub} of field subIssueType is inactive."
        if sub_row["parent"] != issue:
            return f"Sub-Issue Type {sub} does not belong to Issue Type {issue} (parent {sub_row['parent']})."
        return ""

    # --- notes --------------------------------------------------------------------------------------
    async def _list_notes(self, request: web.Request) -> web.Response:
        tid = int(request.match_info["id"])
        rows = self.ticket_notes.get(tid, [])
        page = max(1, int(request.query.get("page", "1")))
        size = self.page_size
        chunk = rows[(page - 1) * size : page * size]
        base = f"{request.url.origin()}{API}/Tickets/{tid}/Notes"
        more = page * size < len(rows)
        return web.json_response({"items": chunk, "pageDetails": {
            "count": len(chunk), "requestCount": size,
            "prevPageUrl": f"{base}?page={page - 1}" if page > 1 else None,
            "nextPageUrl": f"{base}?page={page + 1}" if more else None,
        }})

    async def _post_note(self, request: web.Request) -> web.Response:
        tid = int(request.match_info["id"])
        try:
            body = await request.json()
        except ValueError:
            return _errors("The request body is not valid JSON")
        if tid not in self.tickets or not isinstance(body, dict):
            return _errors(f"No ticket with id {tid}")
        problem = self._note_problem(tid, body)
        if problem:
            self.rejected_writes += 1
            return _errors(problem)
        note = {
            "id": next(self._note_ids), "ticketID": tid, "title": body.get("title"),
            "description": body["description"], "noteType": body["noteType"], "publish": body["publish"],
            "createDateTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "creatorResourceID": 29682885,
        }
        self.ticket_notes.setdefault(tid, []).append(note)
        self.notes.setdefault(str(tid), []).append(str(note["description"]))
        return web.json_response({"itemId": note["id"]})

    @staticmethod
    def _note_problem(tid: int, body: dict[str, Any]) -> str:
        if body.get("ticketID") not in (None, tid):
            return f"ticketID {body.get('ticketID')} does not match the parent ticket {tid}"
        if not body.get("description"):
            return "Required field description is missing."
        for name, table in (("noteType", NOTE_TYPES), ("publish", PUBLISH)):
            value = body.get(name)
            if not isinstance(value, int) or value not in table or not table[value][1]:
                return f"Value {value!r} is not a valid active value for field {name}."
        return ""

    # --- queries ------------------------------------------------------------------------------------
    async def _query_time(self, request: web.Request) -> web.Response:
        return await self._query(request, "TimeEntries", {e["id"]: e for e in self.time_entries})

    async def _query_history(self, request: web.Request) -> web.Response:
        """``TicketHistory/query``: exactly one ``ticketID eq`` filter, anything else is an error; one page."""
        try:
            query = await self._query_of(request)
        except ValueError as exc:
            return _errors(f"Invalid query: {exc}")
        conditions = query.get("filter") or []
        only = conditions[0] if len(conditions) == 1 and isinstance(conditions[0], dict) else {}
        if (str(only.get("field", "")).lower(), only.get("op")) != ("ticketid", "eq") \
                or not isinstance(only.get("value"), int):
            return _errors("TicketHistory queries need exactly one filter: ticketID eq <id>")
        items = [h for h in self.ticket_history if h["ticketID"] == only["value"]][:500]
        return web.json_response({"items": items, "pageDetails": {
            "count": len(items), "requestCount": 500, "prevPageUrl": None, "nextPageUrl": None}})

    async def _query(self, request: web.Request, entity: str = "Tickets",
                     table: dict[int, dict[str, Any]] | None = None) -> web.Response:
        source = self.tickets if table is None else table
        try:
            query = await self._query_of(request)
            after = int(json.loads(request.query.get("paging", "{}")).get("lastId", 0))
            size = max(1, min(self.page_size, int(query.get("MaxRecords") or self.page_size), 500))
        except (ValueError, TypeError, AttributeError) as exc:
            return _errors(f"Invalid query: {exc}")
        rows = [t for tid, t in sorted(source.items()) if tid > after]
        rows = [t for t in rows if all(matches(t, c) for c in query.get("filter") or [])]
        chunk, more = rows[:size], len(rows) > size
        include = [str(f) for f in query.get("IncludeFields") or []]
        items = [self._project(t, include) for t in chunk]
        next_url = None
        if more:
            paging = json.dumps({"pageSize": size, "lastId": chunk[-1]["id"]})
            next_url = (
                f"{request.url.origin()}{API}/{entity}/query/next?paging={quote(paging)}&search={quote(json.dumps(query))}"
            )
        return web.json_response({"items": items, "pageDetails": {
            "count": len(items), "requestCount": size, "prevPageUrl": None, "nextPageUrl": next_url,
        }})

    @staticmethod
    async def _query_of(request: web.Request) -> dict[str, Any]:
        if request.method == "POST":
            query = await request.json()
        else:
            query = json.loads(request.query.get("search", "{}"))
        if not isinstance(query, dict) or not isinstance(query.get("filter", []), list):
            raise ValueError("expected {'filter': [...]}")
        return query

    @staticmethod
    def _project(ticket: dict[str, Any], include: list[str]) -> dict[str, Any]:
        if not include:
            return dict(ticket)
        wanted = {f.lower() for f in include} | {"id"}
        return {k: v for k, v in ticket.items() if k.lower() in wanted}

    # --- webhooks and tenants -----------------------------------------------------------------------
    def webhook_payload(self, ticket_id: str, action: str = "Create") -> dict[str, Any]:
        """Autotask's ticket callout: ids and the display-always fields only, never the full ticket."""
        ticket = self.tickets[int(ticket_id)]
        return {
            "Action": action, "Guid": self.webhook_guid, "EntityType": "Ticket", "Id": ticket["id"],
            "Fields": {
                "TicketNumber": ticket["ticketNumber"], "QueueID": ticket["queueID"],
                "Title": ticket["title"],
            },
            "EventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "SequenceNumber": next(self._sequence), "PersonID": 30691780,
        }

    def deactivated_payload(self) -> dict[str, Any]:
        """The callout Autotask posts when it deactivates the webhook (shape UNCONFIRMED, after n8n)."""
        return {
            "Action": "Deactivated", "Guid": self.webhook_guid, "EntityType": "Ticket",
            "EventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "SequenceNumber": next(self._sequence),
        }

    def signed_delivery(
        self, payload: Any, *, escaped: bool = True, secret: str | None = None, sign: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """Body bytes and headers of one delivery. Autotask signs its .NET-escaped JSON; ``escaped=False``
        sends plain UTF-8 JSON instead (as if rewritten on the way) while keeping that signature."""
        signed = dotnet_json(payload).encode()
        body = signed if escaped else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if sign:
            key = (self.webhook_secret if secret is None else secret).encode()
            digest = base64.b64encode(hmac.new(key, signed, hashlib.sha1).digest()).decode()
            headers["X-Hook-Signature"] = f"sha1={digest}"
        return body, headers

    async def send_created_webhook(
        self, ingress_url: str, tenant_id: str, ticket_ids: list[str], *, escaped: bool = True,
        secret: str | None = None,
    ) -> int:
        deliveries = [
            self.signed_delivery(self.webhook_payload(t), escaped=escaped, secret=secret) for t in ticket_ids
        ]
        return await self.deliver(ingress_url, tenant_id, deliveries)

    async def send_deactivated(
        self, ingress_url: str, tenant_id: str, *, sign: bool = True, secret: str | None = None
    ) -> int:
        """Post the ``Deactivated`` callout (to the webhook URL; Autotask also calls the DeactivationUrl)."""
        delivery = self.signed_delivery(self.deactivated_payload(), sign=sign, secret=secret)
        return await self.deliver(ingress_url, tenant_id, [delivery])

    async def deliver(
        self, ingress_url: str, tenant_id: str, deliveries: list[tuple[bytes, dict[str, str]]]
    ) -> int:
        """POST raw signed deliveries to ingress one by one (Autotask sends one event per callout)."""
        status = 0
        async with aiohttp.ClientSession() as session:
            for body, headers in deliveries:
                url = f"{ingress_url}/webhooks/autotask/{tenant_id}"
                async with session.post(url, data=body, headers=headers) as resp:
                    status = resp.status
        return status

    def tenant_config(self, tenant_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        prefix = tenant_id.upper().replace("-", "_")
        keys = ("secret", "integration_code", "webhook_secret")
        names = {k: f"{prefix}_AUTOTASK_{k.upper()}" for k in keys}
        entry = {
            "id": tenant_id,
            "psa": {
                "kind": "autotask", "username": self.username, "secret": {"env": names["secret"]},
                "integration_code": {"env": names["integration_code"]},
                "zone_url": f"{self.base_url}/atservicesrest/",
                "discovery_url": f"{self.base_url}/atservicesrest/",
            },
            "webhook": {"secret": {"env": names["webhook_secret"]}},
        }
        env = {
            names["secret"]: self.secret, names["integration_code"]: self.integration_code,
            names["webhook_secret"]: self.webhook_secret,
        }
        return entry, env
