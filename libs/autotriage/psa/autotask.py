"""Datto PSA / Autotask adapter (REST v1.0): zone discovery, HMAC-SHA1 webhooks, tickets, issue/sub-issue
picklists, ``PATCH /Tickets`` with the id in the body, ticket notes, ``pageDetails`` paging.

Reference: Datto/Autotask REST API v1.0 (webhooks, Tickets, TicketNotes, entityInformation). Autotask
reports validation failures as HTTP 500 with ``{"errors": [...]}``: those are final (never retried) and
their text is surfaced.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from autotriage.core import metrics
from autotriage.core.caches import SingleFlight
from autotriage.core.errors import ConfigError, PermanentError, TransientError, WebhookRejected
from autotriage.core.events import utcnow
from autotriage.core.models import Candidate, CategoryState, PSAKind, Taxonomy, Ticket
from autotriage.core.tenants import AutotaskConnection, Tenant
from autotriage.psa.base import (
    CREATED,
    DEACTIVATED,
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
from autotriage.psa.changes import (
    CategoryChange,
    by_time,
    looks_automated,
    mentions,
    parse_when,
    text_of,
    unquoted,
)
from autotriage.psa.http import PSAError, PSAHttp, Response
from autotriage.psa.webhook_auth import header

log = logging.getLogger(__name__)

API_VERSION = "v1.0/"
ZONE_TTL_S = 6 * 3600.0
FIELDS_TTL_S = 3600.0
FIELDS_REFRESH_MIN_S = 60.0
#: A contact's e-mail (the ticket's sender for the noise rules) is looked up once per contact and kept this long;
#: a failed look-up is not retried for ``CONTACT_FAILURE_TTL_S`` (the ticket goes on without a sender).
CONTACT_TTL_S = 3600.0
CONTACT_FAILURE_TTL_S = 300.0
CONTACT_CACHE_SIZE = 20_000
# The Contacts entity's e-mail fields, in the order they are tried (Autotask REST Contacts entity).
_CONTACT_EMAILS = ("emailAddress", "emailAddress2", "emailAddress3")
PAGE_SIZE = 500
THRESHOLD_STOP = 0.80
NOTE_TITLE = "autotriage categorization"
COMPLETE_STATUS_LABEL = "Complete"
COMPLETE_STATUS_DEFAULT = 5
HISTORY_FIELDS = [
    "id", "ticketNumber", "title", "description", "queueID", "companyID", "contactID", "priority", "source",
    "status", "issueType", "subIssueType", "ticketCategory", "createDate",
]
# UNCONFIRMED: Autotask's exact thread-limit message; such "errors" are left retryable (doc 2.7).
_THROTTLE_WORDS = re.compile(r"thread|concurren|too many|threshold|rate limit", re.IGNORECASE)
# The characters Autotask escapes inside JSON strings before signing (doc 2.2, n8n signature.ts).
# UNCONFIRMED: upper-case hex, and that "/" is NOT escaped (the doc lists only these and non-ASCII).
_ESCAPES = {"&": "\\u0026", "<": "\\u003C", ">": "\\u003E", "'": "\\u0027", "`": "\\u0060", "+": "\\u002B"}


# --- pure helpers ---------------------------------------------------------------------------------------
def normalise_zone(url: str) -> str:
    """``https://ws5.autotask.net//ATServicesRest/V1.0`` -> ``https://ws5.autotask.net/ATServicesRest/``."""
    parts = urlsplit(url.strip())
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    while re.search(r"/v1\.0/?$", path, re.IGNORECASE):
        path = re.sub(r"v1\.0/?$", "", path, flags=re.IGNORECASE)
    if not path.endswith("/"):
        path += "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def map_autotask_event(action: str, entity: str) -> str:
    """Map Autotask's ``Action`` on ``EntityType`` to a standard event kind (case-insensitive)."""
    act = action.strip().lower()
    if act == "deactivated":
        return DEACTIVATED
    if entity.strip().lower() not in {"ticket", "tickets"}:
        return OTHER
    return {"create": CREATED, "update": UPDATED, "delete": DELETED}.get(act, OTHER)


def is_webhook_deactivation(item: Mapping[str, Any]) -> bool:
    """Whether a callout (lower-cased keys) is Autotask deactivating the webhook itself: ``Deactivated``
    with no entity id. A ``Deactivated`` naming a ticket is about that ticket, not the webhook."""
    action = item.get("action")
    if not isinstance(action, str) or action.strip().lower() != "deactivated":
        return False
    return _as_int(item.get("id", item.get("entityid"))) is None


def autotask_escape(text: str) -> str:
    """Re-apply Autotask's .NET-style escaping inside the JSON strings of ``text``: ``& < > ' ` +`` and an
    escaped quote become ``\\uXXXX``; every non-ASCII character becomes ``\\uXXXX`` (UTF-16 units)."""
    out: list[str] = []
    in_string = escaped = False
    for char in text:
        if escaped:  # the char after a backslash: only an escaped quote changes (to \u0022)
            out.append("u0022" if char == '"' else char)
            escaped = False
        elif char == "\\" and in_string:
            out.append(char)
            escaped = True
        elif char == '"':
            out.append(char)
            in_string = not in_string
        elif in_string and char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif in_string and ord(char) > 127:
            out.append(_utf16_escape(char))
        else:
            out.append(char)
    return "".join(out)


#: Words of a TicketHistory action/detail that mark a category change / a move to another queue (UNCONFIRMED).
HISTORY_CATEGORY_WORDS = ("issue type", "issuetype", "sub-issue", "subissue")
HISTORY_SCOPE_WORDS = ("queue",)
#: History reads between two looks at ThresholdInformation.
HISTORY_THRESHOLD_EVERY = 100


def _utf16_escape(char: str) -> str:
    units = char.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04X}" for i in range(0, len(units), 2))


def signed_forms(body: bytes) -> Iterator[bytes]:
    """What Autotask may have signed: the raw body, then the raw body with Autotask's documented escaping
    re-applied (for a body whose ``\\uXXXX`` escapes were decoded on the way). Nothing else: a body whose
    whitespace, key order or number format changed after signing does not verify."""
    yield body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    escaped = autotask_escape(text).encode()
    if escaped != body:
        yield escaped


def _as_int(value: Any) -> int | None:
    """An id-like value as int (int or digit string; never bool or float)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _is_digits(value.strip()):
        return int(value.strip())
    return None


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _lower_keys(item: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in item.items()}


def _label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _validation_errors(resp: Response) -> list[str]:
    """The ``errors`` strings of an Autotask error body (empty when there are none)."""
    try:
        body = resp.json()
    except orjson.JSONDecodeError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [str(e) for e in errors if e] if isinstance(errors, list) else []


def is_validation_error(resp: Response) -> bool:
    """Autotask's HTTP 500 + ``{"errors": [...]}`` answer: final unless it reads like a thread limit."""
    if resp.status != 500:
        return False
    errors = _validation_errors(resp)
    return bool(errors) and not any(_THROTTLE_WORDS.search(e) for e in errors)


# --- picklists ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PickValue:
    """One picklist value (Autotask sends ``value`` as a string; tickets carry it as an integer)."""

    value: int
    label: str
    active: bool
    parent: int | None
    sort: int


class Picklists:
    """The picklists of an entity's ``entityInformation/fields`` answer, by lower-cased field name."""

    def __init__(self, body: Any) -> None:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, list):
            raise PermanentError("psa_bad_response", "autotask entityInformation/fields: no 'fields' list")
        self.fields: dict[str, list[PickValue]] = {}
        for field in fields:
            if isinstance(field, dict) and isinstance(field.get("name"), str):
                self.fields[field["name"].lower()] = _pick_values(field.get("picklistValues"))

    def values(self, name: str) -> list[PickValue]:
        """Every value of one picklist, in ``sortOrder``."""
        return sorted(self.fields.get(name.lower(), []), key=lambda v: (v.sort, v.label.casefold()))

    def label(self, name: str, value: Any) -> str | None:
        """The label of a value (active or not), or None."""
        wanted = _as_int(value)
        return next((v.label for v in self.fields.get(name.lower(), []) if v.value == wanted), None)

    def by_label(self, name: str, label: str) -> PickValue | None:
        """The active value with this label (case and whitespace insensitive)."""
        key = _label_key(label)
        return next((v for v in self.values(name) if v.active and _label_key(v.label) == key), None)


def _pick_values(raw: Any) -> list[PickValue]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        value = _as_int(item.get("value"))
        if value is None:
            continue
        sort = item.get("sortOrder")
        out.append(
            PickValue(
                value=value, label=str(item.get("label") or value),
                active=item.get("isActive", True) is not False,
                parent=_as_int(item.get("parentValue")), sort=sort if isinstance(sort, int) else 0,
            )
        )
    return out


def build_candidates(fields: Picklists) -> tuple[Candidate, ...]:
    """Active sub-issue types of active issue types, plus active issue types with no active sub-issue."""
    subs: dict[int, list[PickValue]] = {}
    for sub in fields.values("subIssueType"):
        if sub.active and sub.parent is not None:
            subs.setdefault(sub.parent, []).append(sub)
    out: list[Candidate] = []
    seen: set[tuple[str, ...]] = set()
    for issue in fields.values("issueType"):
        if not issue.active:
            continue
        rows: list[tuple[str, tuple[str, ...], int | None]] = [
            (f"i{issue.value}-s{s.value}", (issue.label, s.label), s.value) for s in subs.get(issue.value, [])
        ] or [(f"i{issue.value}", (issue.label,), None)]
        for cid, path, sub_value in rows:
            if path not in seen:
                seen.add(path)
                native = {"issueType": issue.value, "subIssueType": sub_value}
                out.append(Candidate(id=cid, path=path, native=native))
    return tuple(out)


# --- the client -----------------------------------------------------------------------------------------
class AutotaskClient(PSAClient):
    """One Datto PSA / Autotask tenant (one API user and tracking identifier)."""

    kind = PSAKind.AUTOTASK

    def __init__(self, tenant: Tenant) -> None:
        if not isinstance(tenant.psa, AutotaskConnection):
            raise TypeError("AutotaskClient needs an Autotask connection")
        self.tenant = tenant
        self.conn: AutotaskConnection = tenant.psa
        self.http = PSAHttp("autotask", max_concurrency=self.conn.max_concurrency, ca_bundle=tenant.ca_bundle)
        self._configured_zone = normalise_zone(str(self.conn.zone_url)) if self.conn.zone_url else None
        #: history reads so far, and the budget stop that ends them for this client (see ``category_changes``)
        self._history_calls = 0
        self._history_check: asyncio.Task[float] | None = None
        self._history_stop: TransientError | None = None
        self._zone: str | None = self._configured_zone
        self._zone_at = 0.0
        self._zone_lock = asyncio.Lock()
        self._fields: Picklists | None = None
        self._fields_at = 0.0
        self._fields_lock = asyncio.Lock()
        self._note_codes: tuple[int, int] | None = None
        self._contacts: SingleFlight[int, str] = SingleFlight(CONTACT_TTL_S, maxsize=CONTACT_CACHE_SIZE)

    # --- transport ----------------------------------------------------------------------------------
    async def zone(self) -> str:
        """The zone base URL (``.../ATServicesRest/``): configured, or discovered and cached for hours."""
        if self._configured_zone:
            return self._configured_zone
        async with self._zone_lock:
            if self._zone is None or time.monotonic() - self._zone_at > ZONE_TTL_S:
                self._zone = await self._discover_zone()
                self._zone_at = time.monotonic()
            return self._zone

    async def _discover_zone(self) -> str:
        url = f"{normalise_zone(str(self.conn.discovery_url))}{API_VERSION}zoneInformation"
        resp = await self.http.request("GET", url, "zone_information", params={"user": self.conn.username})
        body = resp.json()
        zone = body.get("url") if isinstance(body, dict) else None
        if not isinstance(zone, str) or not zone.startswith(("http://", "https://")):
            raise PermanentError(
                "psa_zone_unknown",
                f"autotask: no zone for API user {self.conn.username!r}: check psa.username (API-only user)",
            )
        return normalise_zone(zone)

    def _headers(self) -> dict[str, str]:
        return {
            "ApiIntegrationCode": self.conn.integration_code.get(),
            "UserName": self.conn.username,
            "Secret": self.conn.secret.get(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    async def _api(self, method: str, path: str, operation: str, **kwargs: Any) -> Any:
        """Call ``{zone}v1.0/{path}`` (or a ``nextPageUrl`` on the zone host); return the JSON body."""
        zone = await self.zone()
        url = path if path.startswith(("http://", "https://")) else f"{zone}{API_VERSION}{path}"
        if urlsplit(url).netloc.lower() != urlsplit(zone).netloc.lower():
            raise PermanentError("psa_bad_response", f"autotask {operation}: refusing {url} (not the zone)")
        try:
            resp = await self.http.request(
                method, url, operation, headers=self._headers(), permanent=is_validation_error, **kwargs
            )
        except PSAError as exc:
            raise self._explain(exc, operation) from exc
        return resp.json()

    def _explain(self, exc: PSAError, operation: str) -> PSAError:
        """A clearer error: credentials for 401, Autotask's own ``errors`` text otherwise."""
        if exc.status == 401:
            return PSAError(
                "psa_unauthorized",
                f"autotask {operation}: credentials refused (HTTP 401): check psa.username, psa.secret and "
                f"psa.integration_code of tenant {self.tenant.id}, and that the API user is active",
                exc.status, exc.body,
            )
        errors = _validation_errors(Response(exc.status, {}, exc.body))
        if errors:
            text = "; ".join(errors)
            return PSAError("psa_rejected", f"autotask {operation} refused: {text}", exc.status, exc.body)
        return exc

    # --- webhooks -----------------------------------------------------------------------------------
    async def verify_webhook(self, headers: Mapping[str, str], body: bytes, source: str = "") -> None:
        secret = self.tenant.webhook.secret
        if secret is None:  # the tenants file requires one; a config built in code may not
            raise ConfigError(f"tenant {self.tenant.id!r}: webhook.secret is not set")
        given = _signature_bytes(header(headers, "X-Hook-Signature"))
        key = secret.get().encode()
        digests = (hmac.new(key, form, hashlib.sha1).digest() for form in signed_forms(body))
        if not any(hmac.compare_digest(digest, given) for digest in digests):
            raise WebhookRejected(
                401, "bad_signature",
                "X-Hook-Signature does not match the body: webhook.secret must equal the webhook's SecretKey",
            )
        self._note_deactivation(body)

    def _note_deactivation(self, body: bytes) -> None:
        """A signed ``Deactivated`` callout: warn and count it (it starts no ticket work)."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict) and is_webhook_deactivation(_lower_keys(item)):
                log.warning(
                    "autotask deactivated the webhook of tenant %s (guid %s): re-activate it in Autotask",
                    self.tenant.id, _lower_keys(item).get("guid"),
                )
                metrics.WEBHOOK_DEACTIVATED.labels("autotask", self.tenant.id).inc()

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(400, "malformed_json", f"body is not JSON: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        if not items:
            raise WebhookRejected(400, "bad_payload", "empty delivery")
        return [_parse_item(index, item) for index, item in enumerate(items)]

    # --- tickets ------------------------------------------------------------------------------------
    async def _ticket_fields(self, *, force: bool = False, unknown: bool = False) -> Picklists:
        """The Tickets picklists, cached; refetched when forced, stale, or (at most once a minute) unknown."""
        async with self._fields_lock:
            age = time.monotonic() - self._fields_at
            stale = age > FIELDS_TTL_S or (unknown and age > FIELDS_REFRESH_MIN_S)
            if self._fields is None or force or stale:
                body = await self._api("GET", "Tickets/entityInformation/fields", "ticket_fields")
                self._fields = Picklists(body)
                self._fields_at = time.monotonic()
            return self._fields

    def _to_ticket(self, raw: dict[str, Any], fields: Picklists) -> Ticket:
        issue, sub = _as_int(raw.get("issueType")), _as_int(raw.get("subIssueType"))
        path: tuple[str, ...] = ()
        if issue is not None:
            path = (fields.label("issueType", issue) or str(issue),)
            if sub is not None:
                path += (fields.label("subIssueType", sub) or str(sub),)
        queue = raw.get("queueID")
        return Ticket(
            id=str(raw["id"]),
            summary=str(raw.get("title") or ""),
            description=str(raw.get("description") or ""),
            scope="" if queue is None else str(queue),
            scope_name=fields.label("queueID", queue) or "",
            category=CategoryState(
                path=path, native={"issueType": issue, "subIssueType": sub} if issue is not None else {}
            ),
            company="" if raw.get("companyID") is None else str(raw["companyID"]),
            source=fields.label("source", raw.get("source")) or "",
            priority=fields.label("priority", raw.get("priority")) or "",
            created_at=_parse_time(raw.get("createDate")),
            native={k: raw.get(k) for k in ("ticketNumber", "queueID", "companyID", "contactID", "status")},
        )

    def _has_unknown(self, raw: dict[str, Any], fields: Picklists) -> bool:
        return any(
            raw.get(name) is not None and fields.label(name, raw.get(name)) is None
            for name in ("issueType", "subIssueType")
        )

    async def fetch_ticket(self, ticket_id: str) -> Ticket:
        _check_id(ticket_id)
        body = await self._api("GET", f"Tickets/{ticket_id}", "get_ticket")
        raw = body.get("item") if isinstance(body, dict) else None
        if not isinstance(raw, dict) or raw.get("id") is None:
            raise PermanentError("psa_ticket_not_found", f"autotask: ticket {ticket_id} not found")
        fields = await self._ticket_fields()
        if self._has_unknown(raw, fields):
            fields = await self._ticket_fields(unknown=True)
        ticket = self._to_ticket(raw, fields)
        email = await self.contact_email(raw.get("contactID"))
        return ticket.model_copy(update={"contact_email": email}) if email else ticket

    async def contact_email(self, contact_id: Any) -> str:
        """The e-mail address of a ticket's contact (``GET Contacts/{id}``, cached per contact), or "" when the
        ticket has no contact, the contact has no address, or the look-up fails: the sender only helps the noise
        rules, so it never costs a ticket."""
        cid = _as_int(contact_id)
        if cid is None or cid <= 0:
            return ""
        try:
            email, _ = await self._contacts.get(cid, lambda: self._load_contact_email(cid))
        except Exception as exc:  # noqa: BLE001 - any failure: no sender, the ticket goes on
            log.warning("autotask: contact %s of tenant %s not read (%s): the ticket goes on without a sender",
                        cid, self.tenant.id, exc)
            self._contacts.put(cid, "", ttl_s=CONTACT_FAILURE_TTL_S)
            return ""
        return email

    async def _load_contact_email(self, contact_id: int) -> str:
        body = await self._api("GET", f"Contacts/{contact_id}", "get_contact")
        contact = body.get("item") if isinstance(body, dict) else None
        if not isinstance(contact, dict):
            return ""  # unknown or deleted contact: remembered as "no sender"
        return next((email for name in _CONTACT_EMAILS if (email := email_address(contact.get(name)))), "")

    # --- taxonomy -----------------------------------------------------------------------------------
    async def fetch_taxonomy(self, scope: str) -> Taxonomy:
        """Issue/sub-issue types are global picklists; ``scope`` (a queue id) only names the taxonomy."""
        fields = await self._ticket_fields(force=True)
        return Taxonomy(
            tenant=self.tenant.id, psa=self.kind, scope=scope,
            scope_name=fields.label("queueID", scope) or "",
            candidates=build_candidates(fields), fetched_at=utcnow(),
        )

    # --- writes -------------------------------------------------------------------------------------
    async def write_category(self, ticket: Ticket, candidate: Candidate) -> None:
        _check_id(ticket.id)
        issue = _as_int(candidate.native.get("issueType"))
        if issue is None:
            raise PermanentError("bad_candidate", f"autotask: candidate {candidate.id} has no issueType")
        # Both together (a sub-issue of another parent is refused). UNCONFIRMED: null clears subIssueType.
        sub = _as_int(candidate.native.get("subIssueType"))
        body = {"id": int(ticket.id), "issueType": issue, "subIssueType": sub}
        saved = await self._api("PATCH", "Tickets", "update_ticket", json=body)
        item_id = saved.get("itemId") if isinstance(saved, dict) else None
        if item_id is not None and _as_int(item_id) != int(ticket.id):
            raise PermanentError("psa_write_not_applied", f"autotask updated item {item_id}, not {ticket.id}")

    async def _note_values(self) -> tuple[int, int]:
        """The tenant's ``noteType`` and ``publish`` values, looked up by label and cached."""
        if self._note_codes is None:
            fields = Picklists(await self._api("GET", "TicketNotes/entityInformation/fields", "note_fields"))
            self._note_codes = (
                self._by_label(fields, "noteType", self.conn.note_type, "note_type"),
                self._by_label(fields, "publish", self.conn.note_publish, "note_publish"),
            )
        return self._note_codes

    def _by_label(self, fields: Picklists, name: str, label: str, setting: str) -> int:
        found = fields.by_label(name, label)
        if found is None:
            available = ", ".join(repr(v.label) for v in fields.values(name) if v.active) or "none"
            raise PermanentError(
                "config_note_label",
                f"autotask tenant {self.tenant.id}: psa.{setting} {label!r} is not an active TicketNotes "
                f"{name} label; available: {available}. Fix psa.{setting} in the tenants file",
            )
        return found.value

    async def add_note(self, ticket_id: str, text: str) -> None:
        _check_id(ticket_id)
        note_type, publish = await self._note_values()
        note = {
            "ticketID": int(ticket_id), "title": NOTE_TITLE, "description": text,
            "noteType": note_type, "publish": publish,
        }
        await self._api("POST", f"Tickets/{ticket_id}/Notes", "add_note", json=note)

    async def has_note_with(self, ticket_id: str, marker: str) -> bool:
        _check_id(ticket_id)
        async for note in self._pages("GET", f"Tickets/{ticket_id}/Notes", "list_notes"):
            if marker in str(note.get("description") or ""):
                return True
        return False

    # --- paging and history -------------------------------------------------------------------------
    async def _pages(
        self, method: str, path: str, operation: str, json: Any = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a list/query answer, following ``pageDetails.nextPageUrl`` (a full URL, GET)."""
        body = await self._api(method, path, operation, json=json)
        while True:
            items = body.get("items") if isinstance(body, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    yield item
            details = body.get("pageDetails") if isinstance(body, dict) else None
            next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not isinstance(next_url, str) or not next_url:
                return
            body = await self._api("GET", next_url, operation)

    async def check_threshold(self) -> float:
        """Share of the hourly request limit used (0..1); TransientError above ``THRESHOLD_STOP``."""
        try:
            body = await self._api("GET", "ThresholdInformation", "threshold_information")
        except PSAError as exc:
            log.warning("autotask tenant %s: no ThresholdInformation: %s", self.tenant.id, exc.message)
            return 0.0
        limit = body.get("externalRequestThreshold") if isinstance(body, dict) else None
        used = body.get("currentTimeframeRequestCount") if isinstance(body, dict) else None
        if not isinstance(limit, int | float) or not isinstance(used, int | float) or limit <= 0:
            return 0.0
        share = float(used) / float(limit)
        if share >= THRESHOLD_STOP:
            raise TransientError(
                "psa_threshold",
                f"autotask tenant {self.tenant.id} has used {share:.0%} of its hourly API limit "
                f"({int(used)}/{int(limit)}); reading history stopped to leave room for live tickets",
                retry_after_s=600.0,
            )
        return share

    async def history(self, limit: int | None = None) -> AsyncIterator[HistoricalTicket]:
        await self.check_threshold()
        fields = await self._ticket_fields()
        complete = fields.by_label("status", COMPLETE_STATUS_LABEL)
        status = complete.value if complete else COMPLETE_STATUS_DEFAULT
        query = {
            "filter": [
                {"op": "eq", "field": "status", "value": status},
                {"op": "exist", "field": "issueType"},
            ],
            "IncludeFields": HISTORY_FIELDS,
            "MaxRecords": PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit)),
        }
        seen = 0
        async for raw in self._pages("POST", "Tickets/query", "query_tickets", json=query):
            if raw.get("id") is None:
                continue
            ticket = self._to_ticket(raw, fields)
            if ticket.category.is_set:
                yield HistoricalTicket(ticket, ticket.category.path)
                seen += 1
                if limit is not None and seen >= limit:
                    return

    async def closed_since(
        self, since: datetime, until: datetime, *, with_text: bool = False
    ) -> AsyncIterator[ClosedTicket]:
        """``completedDate`` in the window (500 a page; the API has no sort, so each page is sorted by it), then
        ``TimeEntries`` (``hoursWorked``) for the page's tickets in one query. Stops with a TransientError when
        the hourly API budget is nearly used (see ``check_threshold``)."""
        await self.check_threshold()
        fields = await self._ticket_fields()
        query = {
            "filter": [
                {"op": "gte", "field": "completedDate", "value": iso_z(since)},
                {"op": "lt", "field": "completedDate", "value": iso_z(until)},
            ],
            "IncludeFields": [*HISTORY_FIELDS, "completedDate"],
            "MaxRecords": PAGE_SIZE,
        }
        page: list[dict[str, Any]] = []
        async for raw in self._pages("POST", "Tickets/query", "query_closed_tickets", json=query):
            if raw.get("id") is not None:
                page.append(raw)
            if len(page) >= PAGE_SIZE:
                for closed in await self._with_hours(page, fields):
                    yield closed
                page = []
        for closed in await self._with_hours(page, fields):
            yield closed

    async def _with_hours(self, rows: list[dict[str, Any]], fields: Picklists) -> list[ClosedTicket]:
        """The rows as closed tickets with their summed ``hoursWorked``, sorted by ``completedDate``."""
        if not rows:
            return []
        hours: dict[int, float] = {}
        query = {"filter": [{"op": "in", "field": "ticketID", "value": [int(r["id"]) for r in rows]}],
                 "IncludeFields": ["id", "ticketID", "hoursWorked"], "MaxRecords": PAGE_SIZE}
        async for entry in self._pages("POST", "TimeEntries/query", "query_time_entries", json=query):
            ticket, worked = _as_int(entry.get("ticketID")), entry.get("hoursWorked")
            if ticket is not None and isinstance(worked, int | float):
                hours[ticket] = hours.get(ticket, 0.0) + float(worked)
        out = [ClosedTicket(self._to_ticket(r, fields), _parse_time(r.get("completedDate")), hours.get(int(r["id"])))
               for r in rows]
        return sorted(out, key=lambda c: c.closed_at or datetime.min.replace(tzinfo=UTC))

    async def category_changes(self, ticket_id: str) -> list[CategoryChange]:
        """``POST TicketHistory/query`` with exactly one ``ticketID eq`` filter (no other filter is allowed;
        one page, as history paging is reported unusable). Entries: id, ticketID, resourceID, date, action,
        detail. UNCONFIRMED: whether issue type / sub-issue type / queue changes get their own ``action`` labels
        (the help also lists a generic "Edited") and the grammar of ``detail``; so an entry counts when its
        action or detail names those fields, and is automated when it names a workflow rule or an API user
        (otherwise, with a resourceID, a person: an API user not named in the text is counted as one).
        Initial values set at creation are not recorded. Each call counts against the hourly API budget: it is
        checked before the first read and every ``HISTORY_THRESHOLD_EVERY`` reads, and once it is nearly used
        every further read fails at once (TransientError) without a call."""
        _check_id(ticket_id)
        if self._history_stop is not None:
            raise self._history_stop
        calls, self._history_calls = self._history_calls, self._history_calls + 1
        if calls % HISTORY_THRESHOLD_EVERY == 0 or self._history_check is None:
            self._history_check = asyncio.ensure_future(self.check_threshold())
        try:
            await self._history_check  # concurrent reads wait for the same look at the budget
        except TransientError as exc:
            self._history_stop = exc
            raise
        query = {"filter": [{"op": "eq", "field": "ticketID", "value": int(ticket_id)}]}
        body = await self._api("POST", "TicketHistory/query", "query_ticket_history", json=query)
        items = body.get("items") if isinstance(body, dict) else None
        changes = []
        for item in items if isinstance(items, list) else []:
            entry = _lower_keys(item) if isinstance(item, dict) else {}
            action, detail = text_of(entry.get("action")), text_of(entry.get("detail"))
            words = f"{action} {unquoted(detail)}"
            scope = mentions(words, HISTORY_SCOPE_WORDS)
            if not scope and not mentions(words, HISTORY_CATEGORY_WORDS):
                continue
            actor = text_of(entry.get("resourceid"))
            automated = True if looks_automated(words) else (False if actor else None)
            changes.append(CategoryChange(parse_when(entry.get("date")), actor, automated, scope,
                                          f"{action}: {detail}" if detail else action))
        return by_time(changes)

    async def close(self) -> None:
        await self.http.close()


# --- webhook parsing ------------------------------------------------------------------------------------
def _signature_bytes(value: str | None) -> bytes:
    """The 20 HMAC bytes of ``sha1=<base64>``; WebhookRejected(401) when missing or malformed."""
    if not value:
        raise WebhookRejected(401, "missing_signature", "missing X-Hook-Signature header (sha1=<base64>)")
    text = value.strip()
    if text.lower().startswith("sha1="):
        text = text[5:]
    try:
        given = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRejected(401, "bad_signature", "X-Hook-Signature is not base64") from exc
    if len(given) != hashlib.sha1().digest_size:  # noqa: S324 - Autotask signs webhooks with HMAC-SHA1
        raise WebhookRejected(401, "bad_signature", "X-Hook-Signature is not an HMAC-SHA1")
    return given


_PAYLOAD_KEYS = ("Action", "EntityType", "Id", "Guid", "SequenceNumber", "EventTime", "PersonID")


def _parse_item(index: int, item: Any) -> WebhookEvent:
    """One callout: ``Action``/``EntityType``/``Id``/``Guid``/``SequenceNumber`` (keys case-insensitive)."""
    if not isinstance(item, dict):
        raise WebhookRejected(400, "bad_payload", f"item {index} is not a JSON object")
    data = _lower_keys(item)
    action, entity = data.get("action"), data.get("entitytype", "")
    if not isinstance(action, str) or not isinstance(entity, str):
        raise WebhookRejected(400, "bad_payload", f"item {index} has no Action/EntityType strings")
    event = map_autotask_event(action, entity)
    entity_id = _as_int(data.get("id", data.get("entityid")))
    if event == DEACTIVATED and not is_webhook_deactivation(data):
        event = OTHER  # a ticket-level "Deactivated": no ticket work, and not the webhook's deactivation
    if entity_id is None and event != DEACTIVATED:
        raise WebhookRejected(400, "bad_payload", f"item {index} carries no entity Id")
    return WebhookEvent(
        ticket_id="" if entity_id is None else str(entity_id),
        event=event,
        delivery_id=_delivery_id(data, item),
        scope_hint=_queue_hint(data.get("fields")),
        payload={k: data[k.lower()] for k in _PAYLOAD_KEYS if _is_scalar(data.get(k.lower()))},
    )


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _delivery_id(data: dict[str, Any], item: dict[str, Any]) -> str:
    """``{Guid}:{SequenceNumber}`` (webhook GUID + its event counter), else a hash of the callout."""
    guid, seq = data.get("guid"), data.get("sequencenumber")
    if isinstance(guid, str) and guid and _is_scalar(seq) and not isinstance(seq, bool):
        return f"{guid}:{seq}"
    try:
        raw = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # nested deeper than orjson writes
        raw = repr(sorted(data)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _queue_hint(fields: Any) -> str:
    """The queue id, if the webhook's ``Fields`` carry one (field naming there is UNCONFIRMED)."""
    if not isinstance(fields, dict):
        return ""
    lowered = _lower_keys(fields)
    value = _as_int(lowered.get("queueid", lowered.get("queue_id")))
    return "" if value is None else str(value)


def _check_id(ticket_id: str) -> None:
    if not _is_digits(ticket_id):
        raise PermanentError("bad_ticket_id", f"autotask ticket ids are integers, got {ticket_id!r}")
