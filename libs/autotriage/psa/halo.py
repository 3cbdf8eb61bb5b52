"""HaloPSA adapter: OAuth2 client credentials, Basic-auth webhooks, tickets, ticket types, categories, actions.

Reference: HaloPSA API (``/auth/token``, ``/api/Tickets``, ``/api/TicketType``, ``/api/Category``,
``/api/Actions``). Categories are written back as their exact ``value`` strings (``Parent>Child``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from autotriage.core.errors import ConfigError, PermanentError, WebhookRejected
from autotriage.core.events import utcnow
from autotriage.core.models import Candidate, CategoryState, PSAKind, Taxonomy, Ticket
from autotriage.core.tenants import HaloConnection, Tenant
from autotriage.psa.base import (
    CREATED,
    DELETED,
    OTHER,
    UPDATED,
    ClosedTicket,
    HistoricalTicket,
    PSAClient,
    WebhookEvent,
    email_address,
    iso_z,
)
from autotriage.psa.changes import CategoryChange, by_time, looks_automated, mentions, parse_when, text_of
from autotriage.psa.http import PSAError, PSAHttp
from autotriage.psa.webhook_auth import check_basic_auth

SEPARATOR = ">"
PAGE_SIZE = 100


def map_halo_event(name: str) -> str:
    """Map Halo's event name (casing and wording vary) to a standard event kind."""
    lowered = name.strip().lower()
    if "new ticket" in lowered or "ticket logged" in lowered or lowered in {"ticket created", "created", "new"}:
        return CREATED
    if "delete" in lowered:
        return DELETED
    if "update" in lowered or "status" in lowered or "change" in lowered:
        return UPDATED
    return OTHER


#: Words of an audit row's field / table name that mark a category change / a ticket type change (UNCONFIRMED).
AUDIT_CATEGORY_WORDS = ("category",)
AUDIT_SCOPE_WORDS = ("tickettype", "ticket type", "ticket_type")


def _ticket_id(value: Any) -> str | None:
    """A Halo record id (an integer, or its digits as a string) as a digit string, else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return text if text.isascii() and text.isdigit() and len(text) <= 18 else None


class HaloClient(PSAClient):
    """One HaloPSA tenant."""

    kind = PSAKind.HALO

    def __init__(self, tenant: Tenant) -> None:
        if not isinstance(tenant.psa, HaloConnection):
            raise TypeError("HaloClient needs a Halo connection")
        self.tenant = tenant
        self.conn: HaloConnection = tenant.psa
        self.base = str(self.conn.base_url).rstrip("/")
        self.auth_url = str(self.conn.auth_url).rstrip("/") if self.conn.auth_url else f"{self.base}/auth"
        self.http = PSAHttp("halo", max_concurrency=self.conn.max_concurrency, ca_bundle=tenant.ca_bundle)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.field = f"category_{self.conn.category_field}"

    # --- auth ---------------------------------------------------------------------------------------
    async def _bearer(self, force: bool = False) -> str:
        async with self._token_lock:
            if force or self._token is None or time.monotonic() >= self._token_expires:
                params = {"tenant": self.conn.tenant} if self.conn.tenant else None
                form = {
                    "grant_type": "client_credentials",
                    "client_id": self.conn.client_id,
                    "client_secret": self.conn.client_secret.get(),
                    "scope": self.conn.scope,
                }
                try:
                    resp = await self.http.request("POST", f"{self.auth_url}/token", "token", data=form, params=params)
                except PSAError as exc:
                    if exc.status not in (400, 401, 403):
                        raise
                    raise PSAError(
                        exc.reason,
                        f"halo tenant {self.tenant.id}: the token request was refused ({exc.message}): check "
                        f"psa.client_id, psa.client_secret ({self.conn.client_secret.describe()}) and psa.scope "
                        "against the Halo API application (Configuration > Integrations > Halo API)",
                        exc.status,
                        exc.body,
                    ) from exc
                body = resp.json()
                self._token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 3600))
                self._token_expires = time.monotonic() + max(10.0, lifetime - 60.0)
            return self._token

    async def _api(self, method: str, path: str, operation: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            token = await self._bearer(force=attempt == 2)
            try:
                resp = await self.http.request(
                    method,
                    f"{self.base}/api/{path}",
                    operation,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    **kwargs,
                )
            except PSAError as exc:
                if exc.status == 401 and attempt == 1:
                    continue  # token expired or revoked early: fetch a new one once
                raise
            return resp.json()
        raise AssertionError("unreachable")

    # --- webhooks -----------------------------------------------------------------------------------
    async def verify_webhook(self, headers: Mapping[str, str], body: bytes, source: str = "") -> None:
        username = self.tenant.webhook.username
        password = self.tenant.webhook.password
        if username is None or password is None:  # the tenants file requires both; a config built in code may not
            raise ConfigError(f"tenant {self.tenant.id!r}: webhook.username and webhook.password must be set")
        check_basic_auth(headers, username, password.get())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(400, "malformed_json", f"body is not JSON: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        events = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise WebhookRejected(400, "bad_payload", f"item {index} is not a JSON object")
            ticket = item.get("ticket")
            if not isinstance(ticket, dict):
                ticket = {}
            ticket_id = _ticket_id(item.get("object_id") or ticket.get("id"))
            if ticket_id is None:  # ids end up in API paths: integers only
                raise WebhookRejected(
                    400, "bad_payload", f"item {index} carries no numeric ticket id (object_id/ticket.id)"
                )
            delivery = item.get("id")
            if not isinstance(delivery, str) or not delivery:
                try:
                    canonical = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
                except TypeError:  # nested deeper than orjson writes (it reads deeper than it writes)
                    canonical = f"{index}:".encode() + body
                delivery = hashlib.sha256(canonical).hexdigest()[:32]
            event_name = item.get("event")
            scope = _ticket_id(ticket.get("tickettype_id"))
            events.append(
                WebhookEvent(
                    ticket_id=ticket_id,
                    event=map_halo_event(event_name) if isinstance(event_name, str) else OTHER,
                    delivery_id=delivery,
                    scope_hint=scope or "",
                    payload={
                        k: v for k in ("id", "event", "object_id", "webhook_id", "timestamp")
                        if isinstance(v := item.get(k), str | int | float | bool)
                    },
                )
            )
        return events

    # --- tickets ------------------------------------------------------------------------------------
    def _to_ticket(self, raw: dict[str, Any]) -> Ticket:
        value = raw.get(self.field) or ""
        path = tuple(p.strip() for p in str(value).split(SEPARATOR)) if value else ()
        return Ticket(
            id=str(raw["id"]),
            summary=str(raw.get("summary") or ""),
            description=str(raw.get("details") or ""),
            scope=str(raw.get("tickettype_id") or ""),
            scope_name=str(raw.get("tickettype_name") or ""),
            category=CategoryState(path=path, native={self.field: value} if value else {}),
            company=str(raw.get("client_name") or ""),
            # UNCONFIRMED: the reference documents only user_id / user_name; these names are what Halo instances
            # are seen to return. Anything else (missing, not an address) is no sender. No mail headers exist.
            contact_email=email_address(raw.get("user_emailaddress")) or email_address(raw.get("emailaddress")),
            source=str(raw.get("source") or ""),
            priority=str(raw.get("priority_id") or ""),
            native={"tickettype_id": raw.get("tickettype_id")},
        )

    async def fetch_ticket(self, ticket_id: str) -> Ticket:
        raw = await self._api("GET", f"Tickets/{ticket_id}", "get_ticket", params={"includedetails": "true"})
        if not isinstance(raw, dict) or "id" not in raw:
            raise PermanentError("psa_bad_response", f"halo: ticket {ticket_id} response has no id")
        return self._to_ticket(raw)

    # --- taxonomy -----------------------------------------------------------------------------------
    async def fetch_taxonomy(self, scope: str) -> Taxonomy:
        n = self.conn.category_field
        ttype = await self._api("GET", f"TicketType/{scope}", "get_ticket_type", params={"includedetails": "true"})
        if not isinstance(ttype, dict):
            raise PermanentError("psa_bad_response", f"halo: ticket type {scope} response is not an object")
        rows = await self._api("GET", "Category", "list_categories", params={"type_id": str(n)})
        rows = rows if isinstance(rows, list) else rows.get("categories", [])
        rows = [r for r in rows if int(r.get("type_id", n)) == n]
        if ttype.get(f"allowall_category{n}", True):
            values = [(int(r["id"]), str(r["value"])) for r in rows if r.get("value") and not r.get("inactive", False)]
        else:
            # the per-type list does not say whether a category was deactivated since: Halo refuses to write those
            inactive = {str(r.get("value")) for r in rows if r.get("inactive", False)}
            values = [
                (int(r["category_id"]), str(r["category_value"]))
                for r in ttype.get(f"allowed_category{n}") or []
                if r.get("category_value") and str(r["category_value"]) not in inactive
            ]
        seen: set[str] = set()
        candidates = []
        for cat_id, value in values:
            if value in seen:
                continue
            seen.add(value)
            path = tuple(p.strip() for p in value.split(SEPARATOR))
            candidates.append(Candidate(id=f"c{cat_id}", path=path, native={self.field: value}))
        return Taxonomy(
            tenant=self.tenant.id,
            psa=self.kind,
            scope=scope,
            scope_name=str(ttype.get("name") or ""),
            candidates=tuple(candidates),
            fetched_at=utcnow(),
        )

    # --- writes -------------------------------------------------------------------------------------
    async def write_category(self, ticket: Ticket, candidate: Candidate) -> None:
        value = candidate.native[self.field]
        saved = await self._api("POST", "Tickets", "update_ticket", json=[{"id": int(ticket.id), self.field: value}])
        saved = saved[0] if isinstance(saved, list) and saved else saved
        if isinstance(saved, dict) and saved.get(self.field) not in (None, value):
            raise PermanentError("psa_write_not_applied", f"halo kept {self.field}={saved.get(self.field)!r}")

    async def add_note(self, ticket_id: str, text: str) -> None:
        action: dict[str, Any] = {
            "ticket_id": int(ticket_id),
            "note": text,
            "hiddenfromuser": True,
            "sendemail": False,
        }
        if self.conn.note_outcome_id is not None:
            action["outcome_id"] = self.conn.note_outcome_id
        if self.conn.note_outcome:
            action["outcome"] = self.conn.note_outcome
        await self._api("POST", "Actions", "add_note", json=[action])

    async def has_note_with(self, ticket_id: str, marker: str) -> bool:
        body = await self._api("GET", "Actions", "list_notes", params={"ticket_id": ticket_id, "excludesys": "true"})
        actions = body.get("actions", []) if isinstance(body, dict) else body or []
        return any(marker in str(a.get("note") or "") or marker in str(a.get("note_html") or "") for a in actions)

    async def history(self, limit: int | None = None) -> AsyncIterator[HistoricalTicket]:
        page, seen = 1, 0
        while True:
            body = await self._api(
                "GET",
                "Tickets",
                "list_tickets",
                params={
                    "pageinate": "true",
                    "page_size": str(PAGE_SIZE),
                    "page_no": str(page),
                    "closed_only": "true",
                    "includedetails": "true",
                },
            )
            rows = body.get("tickets", []) if isinstance(body, dict) else []
            for raw in rows:
                ticket = self._to_ticket(raw)
                if ticket.category.is_set:
                    yield HistoricalTicket(ticket, ticket.category.path)
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
            total = int(body.get("record_count", 0)) if isinstance(body, dict) else 0
            if not rows or page * PAGE_SIZE >= total:
                return
            page += 1

    async def closed_since(
        self, since: datetime, until: datetime, *, with_text: bool = False
    ) -> AsyncIterator[ClosedTicket]:
        """``datesearch=dateclosed`` in the window, ordered by it, 100 a page (Halo's maximum), with the ticket's
        ``timetaken`` (hours, ``includetimetaken``); re-filtered client-side and de-duplicated by id."""
        page, seen = 1, set()
        while True:
            body = await self._api("GET", "Tickets", "list_closed_tickets", params={
                "closed_only": "true", "datesearch": "dateclosed", "startdate": iso_z(since),
                "enddate": iso_z(until), "order": "dateclosed", "orderdesc": "false", "pageinate": "true",
                "page_size": str(PAGE_SIZE), "page_no": str(page), "includetimetaken": "true",
            })
            rows = body.get("tickets", []) if isinstance(body, dict) else []
            for raw in rows:
                closed_at = _parse_time(raw.get("dateclosed"))
                if raw.get("id") is None or raw["id"] in seen or closed_at is None or not since <= closed_at < until:
                    continue
                seen.add(raw["id"])
                hours = raw.get("timetaken")
                yield ClosedTicket(self._to_ticket(raw), closed_at,
                                   float(hours) if isinstance(hours, int | float) else None)
            total = int(body.get("record_count", 0)) if isinstance(body, dict) else 0
            if not rows or page * PAGE_SIZE >= total:
                return
            page += 1

    async def category_changes(self, ticket_id: str) -> list[CategoryChange]:
        """``GET Tickets/{id}?include_auditing=true`` -> ``audit_log`` (Audit: agent_id, user_id, username,
        date, table_name, value, from, to). UNCONFIRMED: whether type/category edits create rows and how
        ``value``/``from``/``to`` encode them (no public code reads them); so a row counts when its field name
        (``value`` / ``table_name``) names a category or the ticket type, and is automated when the username
        reads like an integration / API agent or a workflow."""
        raw = await self._api("GET", f"Tickets/{int(ticket_id)}", "get_ticket_audit",
                              params={"include_auditing": "true", "includedetails": "false"})
        rows = raw.get("audit_log") if isinstance(raw, dict) else None
        changes = []
        for row in rows if isinstance(rows, list) else []:
            entry = row if isinstance(row, dict) else {}
            named = f"{text_of(entry.get('value'))} {text_of(entry.get('table_name'))}"
            scope = mentions(named, AUDIT_SCOPE_WORDS)
            if not scope and not mentions(named, AUDIT_CATEGORY_WORDS):
                continue
            name = text_of(entry.get("username"))
            actor = name or text_of(entry.get("agent_id"))
            automated = looks_automated(name) if name else None
            text = f"{text_of(entry.get('value'))}: {text_of(entry.get('from'))} -> {text_of(entry.get('to'))}"
            changes.append(CategoryChange(parse_when(entry.get("date")), actor, automated, scope, text))
        return by_time(changes)

    async def close(self) -> None:
        await self.http.close()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
