"""A protocol-faithful ConnectWise PSA simulator: companyinfo codebase discovery, Basic auth + clientId,
service tickets (JSON-Patch with the false-200 sub-path trap), ticket notes, board types/subtypes/items
and their associations, RFC 5988 ``Link`` pagination, signed callbacks and the callback-key endpoint.
For the demo and the tests only.

Where the reference marks behaviour UNCONFIRMED (error texts, the clientId status, whether the key URL
needs auth) the simulator picks one plausible answer and makes the alternative switchable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from autotriage.core.models import PSAKind
from autotriage.sandbox.common import TECHNICIAN, WORKFLOW, HistoryClock, SampleData, Simulator, iso, load_sample

CODEBASE = "v2025_1/"
API = f"/{CODEBASE}apis/3.0"
KEY_PATH = f"/{CODEBASE}system/callbackkey/index.rails"
CATEGORY_FIELDS = ("type", "subType", "item")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
CLAUSE = re.compile(r"^\s*([A-Za-z_][\w/]*)\s*(!=|>=|<=|=|>|<)\s*(.+?)\s*$")
RATE_LIMIT_MESSAGE = "Too many requests. Please try again in 30 seconds."
NOTE_FLAGS = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
NOTE_FLAG_MESSAGE = (
    "Please choose where to display the notes: Discussion (detailDescriptionFlag), Internal "
    "(internalAnalysisFlag) or Resolution (resolutionFlag)."
)
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b), "!=": lambda a, b: bool(a != b), ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b), ">=": lambda a, b: bool(a >= b), "<=": lambda a, b: bool(a <= b),
}
#: (type id, subType id, item id) of a ticket or an association row.
Triple = tuple[int | None, int | None, int | None]


def cw_error(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> web.Response:
    """CW's error body ``{"code", "message", "errors"}``."""
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


def invalid_ticket(message: str, field_name: str) -> web.Response:
    """400 InvalidObject for a ticket write."""
    return cw_error(400, "InvalidObject", "ticket object is invalid",
                    [{"code": "InvalidField", "message": message, "resource": "ticket", "field": field_name}])


def now_iso() -> str:
    """The current UTC time as CW writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


#: The API member autotriage's keys belong to; audit actors as (enteredBy, auditSource) (values UNCONFIRMED).
API_MEMBER = "api"
AUDIT_ACTORS = {API_MEMBER: ("AutotriageAPI", "API"), TECHNICIAN: ("jsmith", "Manage"),
                WORKFLOW: ("zWorkflow", "Workflow Rules")}


@dataclass
class BoardValue:
    """A board type, subtype or item."""

    id: int
    name: str
    inactive: bool = False
    type_ids: set[int] = field(default_factory=set)


@dataclass
class Board:
    """A service board with its types, subtypes, items and valid combinations."""

    id: int
    name: str
    types: dict[int, BoardValue] = field(default_factory=dict)
    subtypes: dict[int, BoardValue] = field(default_factory=dict)
    items: dict[int, BoardValue] = field(default_factory=dict)
    rows: dict[Triple, int] = field(default_factory=dict)

    def levels(self) -> tuple[dict[int, BoardValue], dict[int, BoardValue], dict[int, BoardValue]]:
        """Types, subtypes and items, in path order."""
        return self.types, self.subtypes, self.items

    def names(self, triple: Triple) -> tuple[str, ...]:
        """The category path of a (type, subType, item) triple."""
        return tuple(level[i].name for level, i in zip(self.levels(), triple, strict=True) if i is not None)

    def active(self, triple: Triple) -> bool:
        """Whether every value of a triple is active."""
        pairs = zip(self.levels(), triple, strict=True)
        return not any(level[i].inactive for level, i in pairs if i is not None)


@dataclass
class SimTicket:
    """A service ticket as the simulator stores it."""

    id: int
    board: int
    summary: str
    record_type: str = "ServiceTicket"
    closed: bool = False
    category: Triple = (None, None, None)
    source: str = ""
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    closed_date: str | None = None
    actual_hours: float | None = None


class ConnectWiseSimulator(Simulator):
    """One ConnectWise PSA company with one API member, one clientId and one callback signing key."""

    psa = PSAKind.CONNECTWISE

    def __init__(
        self,
        sample: SampleData | None = None,
        *,
        company: str = "acme",
        public_key: str = "sim-public-key",
        private_key: str = "sim-private-key",
        client_id: str = "00000000-0000-4000-8000-00000000c1d0",
        signing_key: str = "sim-callback-signing-key",
        seed_history: bool = True,
        key_requires_auth: bool = False,
        key_redirect: str | None = None,
        append_record_id: bool = True,
    ) -> None:
        super().__init__()
        self.company = company
        self.public_key = public_key
        self.private_key = private_key
        self.client_id = client_id
        self.signing_key = signing_key
        self.key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{company}:{signing_key}"))
        self.key_requires_auth = key_requires_auth
        self.key_redirect = key_redirect
        self.append_record_id = append_record_id
        self.boards: dict[int, Board] = {}
        self.tickets: dict[int, SimTicket] = {}
        self.ticket_notes: dict[int, list[dict[str, Any]]] = {}
        self.patches: list[tuple[str, Any]] = []
        #: AuditTrailEntry rows per ticket, as ``/system/audittrail`` serves them
        self.audit: dict[int, list[dict[str, Any]]] = {}
        self.false_200s = 0
        self.api_log: list[tuple[str, str]] = []
        self.accept_headers: set[str] = set()
        self.key_requests: list[bool] = []
        self._ticket_ids = itertools.count(5001)
        self._note_ids = itertools.count(1)
        self._value_ids = {kind: itertools.count(1) for kind in CATEGORY_FIELDS}
        self._row_ids = itertools.count(1)
        self._load(sample or load_sample(PSAKind.CONNECTWISE), seed_history)
        self._routes()

    # --- data ---------------------------------------------------------------------------------------
    def _load(self, sample: SampleData, seed_history: bool) -> None:
        for scope in sample.scopes:
            board_id = int(scope["id"])
            board = self.boards.setdefault(board_id, Board(board_id, str(scope.get("name", ""))))
            for path in scope.get("paths", []):
                self._add_row(board, tuple(path), inactive=False)
            for path in scope.get("inactive_paths", []):
                self._add_row(board, tuple(path), inactive=True)
        if seed_history:
            clock = HistoryClock(sample.history)
            for t in sample.history:
                tid = self.create_ticket(t.summary, t.details, t.scope, t.category,
                                         source=t.source, created_at=iso(clock.created(t)))
                self.close_ticket(tid, hours=clock.hours(t), closed_at=clock.closed(t))

    def _add_row(self, board: Board, path: tuple[str, ...], *, inactive: bool) -> None:
        """Add one valid combination; for an inactive path its deepest value is the inactive one."""
        names = [str(p) for p in path if p][:3]
        if not names:
            return
        ids: list[int | None] = [None, None, None]
        for depth, (kind, level) in enumerate(zip(CATEGORY_FIELDS, board.levels(), strict=True)):
            if depth < len(names):
                value = self._value(kind, level, names[depth], inactive and depth == len(names) - 1)
                ids[depth] = value.id
        if ids[1] is not None and ids[0] is not None:
            board.subtypes[ids[1]].type_ids.add(ids[0])
        triple = (ids[0], ids[1], ids[2])
        if triple not in board.rows:
            board.rows[triple] = next(self._row_ids)

    def _value(self, kind: str, level: dict[int, BoardValue], name: str, inactive: bool) -> BoardValue:
        for value in level.values():
            if value.name == name and value.inactive == inactive:
                return value
        value = BoardValue(next(self._value_ids[kind]), name, inactive)
        level[value.id] = value
        return value

    def _triple_of(self, board: Board, path: tuple[str, ...]) -> Triple:
        """The ids of a category path on a board (active combinations preferred)."""
        if not path:
            return (None, None, None)
        matches = [t for t in board.rows if board.names(t) == tuple(path)]
        if not matches:
            raise ValueError(f"{' > '.join(path)} is not a category of board {board.id} ({board.name})")
        matches.sort(key=lambda t: not board.active(t))
        return matches[0]

    def create_ticket(
        self, summary: str, details: str, scope: int, category: tuple[str, ...] | None = None, *,
        record_type: str = "ServiceTicket", closed: bool = False, source: str = "", created_at: str = "",
    ) -> str:
        """Create a ticket; non-empty ``details`` become its first note with ``detailDescriptionFlag``."""
        board = self.boards.setdefault(int(scope), Board(int(scope), f"Board {scope}"))
        ticket = SimTicket(
            id=next(self._ticket_ids), board=board.id, summary=summary[:100], record_type=record_type,
            closed=closed, category=self._triple_of(board, tuple(category or ())), source=source,
        )
        if created_at:
            ticket.created = created_at
        self.tickets[ticket.id] = ticket
        self.ticket_notes[ticket.id] = []
        if details:
            self.add_technician_note(str(ticket.id), details, detail=True)
        return str(ticket.id)

    def add_technician_note(
        self, ticket_id: str, text: str, *, detail: bool = False, internal: bool = False,
        resolution: bool = False,
    ) -> dict[str, Any]:
        """A note written in the PSA itself (not counted as an autotriage write)."""
        note = {
            "id": next(self._note_ids), "ticketId": int(ticket_id), "text": text,
            "detailDescriptionFlag": detail, "internalAnalysisFlag": internal, "resolutionFlag": resolution,
            "issueFlag": False, "internalFlag": internal, "externalFlag": detail,
            "dateCreated": now_iso(), "createdBy": "jsmith",
        }
        self.ticket_notes[int(ticket_id)].append(note)
        return note

    def category_of(self, ticket_id: str) -> tuple[str, ...]:
        ticket = self.tickets[int(ticket_id)]
        return self.boards[ticket.board].names(ticket.category)

    def set_category(self, ticket_id: str, path: tuple[str, ...], *, by: str = TECHNICIAN,
                     at: datetime | None = None) -> None:
        ticket = self.tickets[int(ticket_id)]
        triple = self._triple_of(self.boards[ticket.board], path)
        self._audit_category(ticket, triple, AUDIT_ACTORS[by], at)
        ticket.category = triple

    def _audit_category(self, ticket: SimTicket, new: Triple, actor: tuple[str, str],
                        at: datetime | None = None) -> None:
        """One AuditTrailEntry per changed category field (text grammar and subtypes made up: UNCONFIRMED)."""
        board = self.boards[ticket.board]
        for name, level, old_id, new_id in zip(CATEGORY_FIELDS, board.levels(), ticket.category, new, strict=True):
            if old_id != new_id:
                label = {"type": "Type", "subType": "SubType", "item": "Item"}[name]
                old = level[old_id].name if old_id is not None else ""
                value = level[new_id].name if new_id is not None else ""
                self._audit(ticket, f'{label} changed from "{old}" to "{value}"', label, actor, at)

    def _audit(self, ticket: SimTicket, text: str, subtype: str, actor: tuple[str, str],
               at: datetime | None = None) -> None:
        self.audit.setdefault(ticket.id, []).append({
            "text": text, "enteredDate": iso(at or datetime.now(UTC)), "enteredBy": actor[0],
            "auditType": "Ticket", "auditSubType": subtype, "auditSource": actor[1]})

    def close_ticket(self, ticket_id: str, *, hours: float = 0.5, closed_at: datetime | None = None,
                     scope: int | None = None) -> None:
        ticket = self.tickets[int(ticket_id)]
        if scope is not None and int(scope) != ticket.board:
            path = self.category_of(ticket_id)
            old_board = self.boards[ticket.board].name
            ticket.board = int(scope)
            self._audit(ticket, f'Board changed from "{old_board}" to "{self.boards[ticket.board].name}"',
                        "Board", AUDIT_ACTORS[TECHNICIAN], closed_at)
            board = self.boards[ticket.board]
            ticket.category = self._triple_of(board, path) if path in {board.names(t) for t in board.rows} \
                else (None, None, None)
        ticket.closed, ticket.closed_date = True, iso(closed_at or datetime.now(UTC))
        ticket.actual_hours = round((ticket.actual_hours or 0.0) + hours, 2)
        ticket.updated = ticket.closed_date

    def valid_paths(self, scope: int) -> set[tuple[str, ...]]:
        board = self.boards.get(int(scope))
        if board is None:
            return set()
        return {board.names(t) for t in board.rows if board.active(t)}

    # --- JSON shapes --------------------------------------------------------------------------------
    def ticket_json(self, ticket: SimTicket) -> dict[str, Any]:
        """A ticket in CW's REST shape (null references are omitted, as CW does)."""
        board = self.boards[ticket.board]
        out: dict[str, Any] = {
            "id": ticket.id, "summary": ticket.summary, "recordType": ticket.record_type,
            "board": {"id": board.id, "name": board.name},
            "status": {"id": 16, "name": "Closed"} if ticket.closed else {"id": 1, "name": "New"},
            "company": {"id": 250, "identifier": "BaysideDental", "name": "Bayside Dental"},
            "contact": {"id": 33, "name": "Jo Smith"}, "contactEmailAddress": "jo.smith@bayside.example",
            "priority": {"id": 8, "name": "Priority 3 - Normal Response", "sort": 6},
            "severity": "Medium", "impact": "Medium", "closedFlag": ticket.closed,
            "_info": {"dateEntered": ticket.created, "lastUpdated": ticket.updated, "enteredBy": "jsmith"},
        }
        if ticket.source:
            out["source"] = {"id": 2, "name": ticket.source}
        if ticket.closed_date:
            out["closedDate"], out["closedBy"] = ticket.closed_date, "jsmith"
        if ticket.actual_hours is not None:
            out["actualHours"] = ticket.actual_hours
        for name, level, value_id in zip(CATEGORY_FIELDS, board.levels(), ticket.category, strict=True):
            if value_id is not None:
                out[name] = {"id": value_id, "name": level[value_id].name}
        return out

    @staticmethod
    def value_json(board: Board, value: BoardValue, kind: str) -> dict[str, Any]:
        """A BoardType / BoardSubType / BoardItem."""
        out: dict[str, Any] = {"id": value.id, "name": value.name, "inactiveFlag": value.inactive,
                               "board": {"id": board.id, "name": board.name}}
        if kind == "types":
            out.update({"category": "Reactive", "defaultFlag": False})
        elif kind == "subtypes":
            out["typeAssociationIds"] = sorted(value.type_ids)
        return out

    @staticmethod
    def association_json(board: Board, triple: Triple, row_id: int) -> dict[str, Any]:
        """A BoardTypeSubTypeItemAssociation row (references only: no inactiveFlag)."""
        out: dict[str, Any] = {"id": row_id, "board": {"id": board.id, "name": board.name}}
        for name, level, value_id in zip(CATEGORY_FIELDS, board.levels(), triple, strict=True):
            out[name] = None if value_id is None else {"id": value_id, "name": level[value_id].name}
        return out

    # --- routes -------------------------------------------------------------------------------------
    def _routes(self) -> None:
        r = self.app.router
        r.add_get("/login/companyinfo/{company}", self._company_info, name="company_info")
        r.add_get(f"{API}/service/tickets", self._list_tickets, name="list_tickets")
        r.add_get(API + r"/service/tickets/{id:\d+}", self._get_ticket, name="get_ticket")
        r.add_patch(API + r"/service/tickets/{id:\d+}", self._patch_ticket, name="patch_ticket")
        r.add_get(API + r"/service/tickets/{id:\d+}/notes", self._list_notes, name="list_notes")
        r.add_post(API + r"/service/tickets/{id:\d+}/notes", self._post_note, name="add_note")
        r.add_get(API + r"/service/boards/{id:\d+}/typeSubTypeItemAssociations", self._associations,
                  name="associations")
        for kind in ("types", "subtypes", "items"):
            r.add_get(API + r"/service/boards/{id:\d+}/" + kind, self._values(kind), name=kind)
        r.add_get(f"{API}/system/audittrail", self._audit_trail, name="audit_trail")
        r.add_get(KEY_PATH, self._callback_key, name="callback_key")
        r.add_get(KEY_PATH.replace("/system", "//system"), self._callback_key, name="callback_key:alias")

    def operation_of(self, request: web.Request) -> str:
        route = request.match_info.route
        if route.name:
            return route.name.split(":", 1)[0]
        return f"{request.method} {request.path}"

    def fault_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return {"error": "ConnectWiseAPI", "message": RATE_LIMIT_MESSAGE}
        return {"code": "UnexpectedServerError", "message": f"Simulated HTTP {status}"}

    def _denied(self, request: web.Request) -> web.Response | None:
        """Exact Basic ``company+public:private`` and a known clientId, or CW's refusal."""
        self.api_log.append((request.method, request.path_qs))
        self.accept_headers.add(request.headers.get("Accept", ""))
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(value.strip(), validate=True) if scheme.lower() == "basic" else b""
        except (binascii.Error, ValueError):
            given = b""
        expected = f"{self.company}+{self.public_key}:{self.private_key}".encode()
        if not hmac.compare_digest(given, expected):
            return cw_error(401, "Unauthorized", "Authentication failed.")
        if request.headers.get("clientId") != self.client_id:
            return cw_error(403, "Forbidden", "A valid clientId header is required "
                            "(register one at developer.connectwise.com/ClientID).")
        return None

    def _ticket(self, request: web.Request) -> SimTicket | web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return cw_error(404, "NotFound", f"Ticket with id {request.match_info['id']} was not found.")
        return ticket

    def _board(self, request: web.Request) -> Board | web.Response:
        board = self.boards.get(int(request.match_info["id"]))
        if board is None:
            return cw_error(404, "NotFound", f"Board with id {request.match_info['id']} was not found.")
        return board

    # --- list queries (conditions, orderBy, page/pageSize, fields, Link) ---------------------------
    @staticmethod
    def _parse_value(text: str) -> Any:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
            return text[1:-1]
        return int(text)

    def _filter(self, rows: list[dict[str, Any]], conditions: str) -> list[dict[str, Any]]:
        """Apply ``conditions`` (clauses joined by ``and``); raises ValueError on what it cannot parse."""
        clauses = []
        for part in re.split(r"\s+and\s+", conditions.strip(), flags=re.IGNORECASE):
            match = CLAUSE.match(part)
            if match is None:
                raise ValueError(part)
            path, op, value = match.groups()
            clauses.append((path.split("/"), COMPARE[op], self._parse_value(value)))

        def lookup(row: dict[str, Any], path: list[str]) -> Any:
            cur: Any = row
            for key in path:
                cur = cur.get(key) if isinstance(cur, dict) else None
            return cur

        def keep(row: dict[str, Any]) -> bool:
            try:
                return all(op(lookup(row, path), value) for path, op, value in clauses)
            except TypeError:
                return False

        return [r for r in rows if keep(r)]

    def _query(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        """Answer a list endpoint the way CW does."""
        q = request.query
        try:
            if q.get("conditions"):
                rows = self._filter(rows, q["conditions"])
            page = int(q.get("page", "1"))
            size = min(int(q.get("pageSize", str(DEFAULT_PAGE_SIZE))), MAX_PAGE_SIZE)
        except ValueError as exc:
            return cw_error(400, "InvalidObject", f"Invalid query parameter: {exc}")
        if page < 1 or size < 1:
            return cw_error(400, "InvalidObject", "page and pageSize must be positive")
        field_name, _, direction = q.get("orderBy", "id asc").partition(" ")
        rows = sorted(rows, key=lambda r: (r.get(field_name) is None, r.get(field_name) or 0),
                      reverse=direction.strip().lower() == "desc")
        chunk = [self._project(r, q.get("fields", "")) for r in rows[(page - 1) * size : page * size]]
        last = max(1, math.ceil(len(rows) / size))
        links = [("first", 1), ("prev", page - 1)] if page > 1 else []
        links += [("next", page + 1), ("last", last)] if page < last else []
        link = ", ".join(f'<{request.url.update_query(page=n)}>; rel="{rel}"' for rel, n in links)
        headers = {"Link": link}
        return web.json_response(chunk, headers=headers if links else None)

    @staticmethod
    def _project(row: dict[str, Any], fields: str) -> dict[str, Any]:
        wanted = {f.strip().split("/", 1)[0] for f in fields.split(",") if f.strip()}
        return {k: v for k, v in row.items() if k in wanted} if wanted else row

    # --- handlers -----------------------------------------------------------------------------------
    async def _company_info(self, request: web.Request) -> web.Response:
        if request.match_info["company"].lower() != self.company.lower():
            return cw_error(404, "NotFound", "Company not found.")
        return web.json_response({
            "CompanyName": self.company, "Codebase": CODEBASE, "VersionCode": "v2025.1",
            "VersionNumber": "v2025.1.00112", "CompanyID": self.company, "IsCloud": True,
            "SiteUrl": request.host,
        })

    async def _list_tickets(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        return self._query(request, [self.ticket_json(t) for t in self.tickets.values()])

    async def _get_ticket(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        return web.json_response(self._project(self.ticket_json(ticket), request.query.get("fields", "")))

    async def _patch_ticket(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        try:
            ops = json.loads(await request.text())
        except ValueError:
            return cw_error(400, "InvalidObject", "The request body is not valid JSON.")
        self.patches.append((str(ticket.id), ops))
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            return cw_error(400, "InvalidObject", "PATCH expects a JSON array of patch operations.")
        if any("/" in str(op.get("path", "")).strip("/") for op in ops):
            self.false_200s += 1  # the documented trap: a sub-path answers 200 and changes nothing
            return web.json_response(self.ticket_json(ticket))
        return self._apply_patch(ticket, ops)

    def _apply_patch(self, ticket: SimTicket, ops: list[dict[str, Any]]) -> web.Response:
        board = self.boards[ticket.board]
        new = dict(zip(CATEGORY_FIELDS, ticket.category, strict=True))
        summary = ticket.summary
        for op in ops:
            name, kind = str(op.get("path", "")).strip("/"), op.get("op")
            if kind not in ("add", "replace", "remove"):
                return invalid_ticket(f"Unsupported patch operation {kind!r}.", name)
            if name == "summary" and kind != "remove" and isinstance(op.get("value"), str):
                summary = op["value"][:100]
            elif name in CATEGORY_FIELDS:
                level = board.levels()[CATEGORY_FIELDS.index(name)]
                resolved = None if kind == "remove" else self._resolve_ref(level, op.get("value"))
                if kind != "remove" and resolved is None:
                    return invalid_ticket(f"{name} {op.get('value')!r} is not on board {board.name}.", name)
                new[name] = resolved
            else:
                return invalid_ticket(f"Cannot patch field '{name}'.", name)
        triple = (new["type"], new["subType"], new["item"])
        if triple != ticket.category:
            if triple != (None, None, None) and not (triple in board.rows and board.active(triple)):
                self.rejected_writes += 1
                names = " / ".join(n or "-" for n in self._names_or_blank(board, triple))
                message = f"The Type/Subtype/Item combination '{names}' is not valid for board {board.name}."
                return invalid_ticket(message, "item")
            self._audit_category(ticket, triple, AUDIT_ACTORS[API_MEMBER])
            ticket.category = triple
            self.updates[str(ticket.id)] += 1
        ticket.summary = summary
        ticket.updated = now_iso()
        return web.json_response(self.ticket_json(ticket))

    @staticmethod
    def _names_or_blank(board: Board, triple: Triple) -> Iterator[str]:
        for level, value_id in zip(board.levels(), triple, strict=True):
            yield level[value_id].name if value_id is not None else ""

    @staticmethod
    def _resolve_ref(level: dict[int, BoardValue], ref: Any) -> int | None:
        """A reference value ``{"id": n}`` or ``{"name": s}`` resolved on one level of a board."""
        if not isinstance(ref, dict):
            return None
        if isinstance(ref.get("id"), int) and ref["id"] in level:
            return int(ref["id"])
        if isinstance(ref.get("name"), str):
            found = sorted((v for v in level.values() if v.name == ref["name"]), key=lambda v: v.inactive)
            return found[0].id if found else None
        return None

    async def _audit_trail(self, request: web.Request) -> web.Response:
        """``GET /system/audittrail?type=Ticket&id=..&page=&pageSize=``: a bare array of AuditTrailEntry."""
        if denied := self._denied(request):
            return denied
        q = request.query
        if q.get("type") not in ("Ticket", "ProjectTicket") or not q.get("id", "").isdigit():
            return cw_error(400, "InvalidObject", "type and id are required.")
        page, size = int(q.get("page", "1")), min(int(q.get("pageSize", "25")), MAX_PAGE_SIZE)
        rows = self.audit.get(int(q["id"]), [])
        return web.json_response(rows[(page - 1) * size : page * size])

    async def _list_notes(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        return self._query(request, list(self.ticket_notes[ticket.id]))

    async def _post_note(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        ticket = self._ticket(request)
        if isinstance(ticket, web.Response):
            return ticket
        try:
            body = json.loads(await request.text())
        except ValueError:
            return cw_error(400, "InvalidObject", "The request body is not valid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return cw_error(400, "InvalidObject", "serviceNote object is invalid", [
                {"code": "NullOrEmpty", "message": "text may not be empty", "resource": "serviceNote",
                 "field": "text"}
            ])
        if not any(body.get(flag) is True for flag in NOTE_FLAGS):
            return cw_error(400, "InvalidObject", "serviceNote object is invalid", [
                {"code": "InvalidObject", "message": NOTE_FLAG_MESSAGE, "resource": "serviceNote",
                 "field": "detailDescriptionFlag"}
            ])
        note = self.add_technician_note(
            str(ticket.id), body["text"], detail=body.get("detailDescriptionFlag") is True,
            internal=body.get("internalAnalysisFlag") is True, resolution=body.get("resolutionFlag") is True,
        )
        note.update(createdBy="autotriage", processNotifications=body.get("processNotifications", True))
        self.notes.setdefault(str(ticket.id), []).append(body["text"])
        return web.json_response(note, status=201)

    async def _associations(self, request: web.Request) -> web.Response:
        if denied := self._denied(request):
            return denied
        board = self._board(request)
        if isinstance(board, web.Response):
            return board
        return self._query(request, [self.association_json(board, t, rid) for t, rid in board.rows.items()])

    def _values(self, kind: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            if denied := self._denied(request):
                return denied
            board = self._board(request)
            if isinstance(board, web.Response):
                return board
            level = {"types": board.types, "subtypes": board.subtypes, "items": board.items}[kind]
            return self._query(request, [self.value_json(board, v, kind) for v in level.values()])

        return handler

    async def _callback_key(self, request: web.Request) -> web.Response:
        self.key_requests.append("Authorization" in request.headers)
        if self.key_redirect is not None:
            raise web.HTTPFound(self.key_redirect)
        q = request.query
        if q.get("companyName", "").lower() != self.company.lower() or q.get("id") != self.key_id:
            return cw_error(404, "NotFound", "Callback key not found.")
        if self.key_requires_auth and self._denied(request) is not None:
            return cw_error(401, "Unauthorized", "Authentication failed.")
        return web.json_response({"signing_key": self.signing_key})

    # --- webhooks and tenants -----------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the running simulator."""
        return urlsplit(self.base_url).netloc

    @property
    def key_url(self) -> str:
        """The callback key URL as CW puts it in ``Metadata.key_url`` (double slash included)."""
        query = f"companyName={self.company}&id={self.key_id}"
        return f"{self.base_url}/{CODEBASE}/system/callbackkey/index.rails?{query}"

    def webhook_payload(self, ticket_id: str, action: str = "added") -> dict[str, Any]:
        """CW's callback body for one ticket: ``Entity`` is the ticket as a JSON *string* (null on delete)."""
        ticket = self.tickets.get(int(ticket_id))
        entity = None if action == "deleted" or ticket is None else json.dumps(self.ticket_json(ticket))
        return {
            "MessageId": str(uuid.uuid4()), "FromUrl": self.host, "CompanyId": self.company,
            "MemberId": "apiuser", "Action": action, "Type": "ticket", "ID": int(ticket_id),
            "ProductInstanceId": "639c96cab2eb560001dd1324", "PartnerId": "61ddc2817bcddc0001c74208",
            "Entity": entity, "Metadata": {"key_url": self.key_url}, "CallbackObjectRecId": 26552,
        }

    def sign(self, body: bytes) -> str:
        """``x-content-signature``: base64(HMAC-SHA256(key=SHA256(signing_key), msg=body))."""
        key = hashlib.sha256(self.signing_key.encode()).digest()
        return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()

    async def send_created_webhook(self, ingress_url: str, tenant_id: str, ticket_ids: list[str]) -> int:
        status = 0
        for ticket_id in ticket_ids:
            body = json.dumps(self.webhook_payload(ticket_id)).encode()
            query = f"?recordId={ticket_id}" if self.append_record_id else ""
            status = await self.deliver(ingress_url, tenant_id, [body], query=query)
        return status

    async def deliver(
        self, ingress_url: str, tenant_id: str, deliveries: list[dict[str, Any] | bytes], *,
        signature: str | None = None, query: str = "",
    ) -> int:
        """POST callbacks (payload dicts or raw bodies) to ingress, signed unless ``signature`` is given;
        return the last status."""
        status = 0
        async with aiohttp.ClientSession() as session:
            for delivery in deliveries:
                body = delivery if isinstance(delivery, bytes) else json.dumps(delivery).encode()
                sig = signature if signature is not None else self.sign(body)
                headers = {"Content-Type": "application/json", "x-content-signature": sig}
                url = f"{ingress_url}/webhooks/connectwise/{tenant_id}{query}"
                async with session.post(url, data=body, headers=headers) as resp:
                    status = resp.status
        return status

    def tenant_config(self, tenant_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        prefix = tenant_id.upper().replace("-", "_")
        entry = {
            "id": tenant_id,
            "psa": {
                "kind": "connectwise", "site": self.host, "scheme": "http", "company": self.company,
                "public_key": self.public_key, "private_key": {"env": f"{prefix}_CW_PRIVATE_KEY"},
                "client_id": self.client_id, "key_url_hosts": [self.host], "allow_private_key_url": True,
            },
            "webhook": {},
        }
        return entry, {f"{prefix}_CW_PRIVATE_KEY": self.private_key}
