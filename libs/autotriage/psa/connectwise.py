"""ConnectWise PSA (Manage) adapter: API-member Basic auth + clientId, signed callbacks, service tickets,
board type/subtype/item associations, ticket notes.

Reference: ConnectWise PSA REST API 3.0 and its callbacks. The traps handled here: the codebase comes from
``/login/companyinfo``; callbacks carry ``Entity`` as a JSON *string* and vary in key casing; the signing
key is fetched from an attacker-controlled ``Metadata.key_url`` (allow-listed, public addresses only, no
redirects); the description is the first ``detailDescriptionFlag`` note; PATCH must replace whole objects
(a sub-path answers a false 200), so every write is confirmed by re-reading the ticket.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import socket
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from autotriage.core import egress
from autotriage.core.errors import PermanentError, TransientError, WebhookRejected
from autotriage.core.events import utcnow
from autotriage.core.models import Candidate, CategoryState, PSAKind, Taxonomy, Ticket
from autotriage.core.tenants import ConnectWiseConnection, Tenant
from autotriage.psa.base import (
    CREATED,
    DELETED,
    OTHER,
    UPDATED,
    ClosedTicket,
    HistoricalTicket,
    PSAClient,
    WebhookEvent,
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
from autotriage.psa.signing_keys import FetchGate, SigningKeys, retry_later
from autotriage.psa.webhook_auth import header

log = logging.getLogger(__name__)

PSA = "connectwise"
PAGE_SIZE = 1000
NOTES_PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 100
MAX_PAGES = 500
MAX_DESCRIPTION_PAGES = 4
CATEGORY_FIELDS = ("type", "subType", "item")
TICKET_FIELDS = (
    "id,summary,recordType,board,company,contact,contactEmailAddress,priority,source,type,subType,item,"
    "closedFlag,_info"
)
NOTE_FIELDS = "id,text,detailDescriptionFlag,internalAnalysisFlag,resolutionFlag"
VALUE_FIELDS = "id,name,inactiveFlag"
PROJECT_RECORD_TYPES = frozenset({"projectticket", "projectissue"})
ACTIONS = {"added": CREATED, "updated": UPDATED, "deleted": DELETED}
PAYLOAD_KEYS = ("messageid", "action", "type", "companyid", "memberid", "callbackobjectrecid")

CLOUD_KEY_HOST = re.compile(r"^(api-[a-z0-9-]+|na|eu|au|sandbox[a-z0-9-]*)\.myconnectwise\.net$")
STAGING_KEY_HOST = re.compile(r"^(api-[a-z0-9-]+|[a-z0-9-]*staging[a-z0-9-]*)\.connectwisedev\.com$")
KEY_URL_PATH = re.compile(r"/system/callbackkey/", re.IGNORECASE)
CODEBASE = re.compile(r"^[A-Za-z0-9_.-]{1,64}/?$")
TICKET_ID = re.compile(r"^[0-9]{1,18}$")
LINK_PART = re.compile(r"<([^>]*)>([^<]*)")
LINK_REL = re.compile(r"""rel\s*=\s*"?([^";,]+)"?""", re.IGNORECASE)

KEY_CACHE_SIZE = 256
KEY_TTL_S = 3600.0
KEY_TIMEOUT_S = 3.0
DNS_TIMEOUT_S = 2.0


# --- small pure helpers ------------------------------------------------------------------------------
#: Words of an audit entry's subtype or text that mark a category change / a move to another board
#: (UNCONFIRMED: matched by substring, see ``category_changes``).
AUDIT_CATEGORY_WORDS = ("type", "item")
AUDIT_SCOPE_WORDS = ("board",)


def lower_keys(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JSON object with lower-cased keys (CW clients disagree on ``MessageId``/``MessageID``)."""
    return {str(k).lower(): v for k, v in obj.items()}


def next_link(value: str | None) -> str | None:
    """The ``rel="next"`` URL of an RFC 5988 ``Link`` header, if any."""
    for url, params in LINK_PART.findall(value or ""):
        for rel in LINK_REL.findall(params):
            if "next" in rel.lower().split():
                return str(url).strip()
    return None


def signature_of(signing_key: str, body: bytes) -> str:
    """CW's callback signature: base64(HMAC-SHA256(key=SHA256(signing_key), msg=body))."""
    key = hashlib.sha256(signing_key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def candidate_id(type_id: int, sub_id: int | None, item_id: int | None) -> str:
    """A short, stable candidate id such as ``t3-s9-i14``."""
    parts = [f"t{type_id}"]
    if sub_id is not None:
        parts.append(f"s{sub_id}")
    if item_id is not None:
        parts.append(f"i{item_id}")
    return "-".join(parts)


def ref_id(value: Any) -> int | None:
    """The integer ``id`` of a CW reference object (``{"id": 3, "name": ...}``), else None."""
    if isinstance(value, dict):
        ident = value.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            return ident
    return None


def ref_name(value: Any) -> str:
    """The ``name`` of a CW reference object, or ''."""
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def is_public_address(address: str) -> bool:
    """Whether an IP address is publicly routable (not private, loopback, link-local, reserved, multicast)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    blocked = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
    return ip.is_global and not blocked and not ip.is_unspecified


def describe_cw_error(body: bytes) -> str:
    """CW's error body ``{"code","message","errors":[...]}`` as one readable line."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return body[:300].decode("utf-8", "replace")
    head = ": ".join(str(data[k]) for k in ("code", "error", "message") if data.get(k))
    details = [
        " ".join(str(e[k]) for k in ("field", "message") if e.get(k))
        for e in data.get("errors") or [] if isinstance(e, dict)
    ]
    return head + (f" ({'; '.join(details)})" if details else "")


def parse_ticket_id(value: Any) -> str | None:
    """A CW record id as a digit string, or None (ids end up in URL paths, so nothing else passes)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    return text if TICKET_ID.fullmatch(text) else None


def decode_entity(value: Any) -> dict[str, Any]:
    """``Entity`` is a JSON-encoded string (sometimes already an object, null on delete)."""
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return lower_keys(value) if isinstance(value, dict) else {}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _require_id(value: str, what: str) -> str:
    if parse_ticket_id(value) is None:
        raise PermanentError("psa_bad_id", f"{PSA}: {what} {value!r} is not a numeric ConnectWise id")
    return value


class _PublicOnlyResolver(ThreadedResolver):
    """Resolves like aiohttp's default resolver but drops non-public addresses (DNS-rebinding guard); the
    operator's proxy (``HTTPS_PROXY``) is exempt, as the key host is then resolved by the proxy."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await super().resolve(host, port, family)
        if host.lower() in egress.proxy_hosts():
            return resolved
        hosts = [h for h in resolved if is_public_address(h["host"])]
        if not hosts:
            raise OSError(f"{host} resolves only to non-public addresses")
        return hosts


class _KeyHttp(PSAHttp):
    """PSAHttp for the callback-key fetch: short timeout, one attempt, optionally public addresses only."""

    def __init__(self, public_only: bool, ca_bundle: Path | None = None) -> None:
        super().__init__(
            PSA, max_concurrency=4, total_timeout_s=KEY_TIMEOUT_S, connect_timeout_s=2.0, attempts=1,
            ca_bundle=ca_bundle,
        )
        self._public_only = public_only

    def session(self) -> aiohttp.ClientSession:
        if not self._public_only:
            return super().session()
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=_PublicOnlyResolver(), ssl=self.ssl)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session


class ConnectWiseClient(PSAClient):
    """One ConnectWise PSA tenant (cloud or on-prem)."""

    kind = PSAKind.CONNECTWISE

    def __init__(self, tenant: Tenant, *, key_fetch_gate: FetchGate | None = None) -> None:
        if not isinstance(tenant.psa, ConnectWiseConnection):
            raise TypeError("ConnectWiseClient needs a ConnectWise connection")
        self.tenant = tenant
        self.conn: ConnectWiseConnection = tenant.psa
        site = self.conn.site.strip().rstrip("/")
        self.site = urllib.parse.urlsplit(site).netloc if "://" in site else site
        self.origin = f"{self.conn.scheme}://{self.site}"
        self.http = PSAHttp(PSA, max_concurrency=self.conn.max_concurrency, ca_bundle=tenant.ca_bundle)
        self.key_http = _KeyHttp(public_only=not self.conn.allow_private_key_url, ca_bundle=tenant.ca_bundle)
        self._base: str | None = None
        self._base_lock = asyncio.Lock()
        self.signing_keys = SigningKeys(
            self._resolve_and_fetch_key,
            gate=key_fetch_gate or FetchGate(),
            timeout_s=KEY_TIMEOUT_S,  # resolution and fetch together: ConnectWise waits 5 s in all
            ttl_s=KEY_TTL_S,
            capacity=KEY_CACHE_SIZE,
        )
        hosts = (self.conn.on_prem_host, *self.conn.key_url_hosts)
        self._key_hosts = [self._host_port(h) for h in hosts if h]

    # --- auth and plumbing --------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """The headers every API call carries (Basic company+public:private, clientId, pinned version)."""
        creds = f"{self.conn.company}+{self.conn.public_key}:{self.conn.private_key.get()}"
        return {
            "Authorization": "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii"),
            "clientId": self.conn.client_id,
            "Accept": f"application/vnd.connectwise.com+json; version={self.conn.api_version}",
        }

    async def base_url(self) -> str:
        """``{scheme}://{site}/{codebase}apis/3.0/``; the codebase is discovered once unless configured."""
        if self._base is None:
            async with self._base_lock:
                if self._base is None:
                    codebase = self.conn.codebase or await self._discover_codebase()
                    if not CODEBASE.fullmatch(codebase.strip("/") + "/"):
                        raise PermanentError("psa_bad_codebase", f"{PSA}: unusable codebase {codebase!r}")
                    self._base = f"{self.origin}/{codebase.strip('/')}/apis/3.0/"
        return self._base

    async def _discover_codebase(self) -> str:
        company = urllib.parse.quote(self.conn.company, safe="")
        url = f"{self.origin}/login/companyinfo/{company}"
        resp = await self._send("GET", url, "company_info", headers={"Accept": "application/json"})
        try:
            info = resp.json()
        except orjson.JSONDecodeError:
            info = None
        codebase = lower_keys(info).get("codebase") if isinstance(info, dict) else None
        if not isinstance(codebase, str) or not codebase.strip("/"):
            raise PermanentError(
                "psa_codebase_unknown",
                f"{PSA}: {url} did not return a Codebase; check 'site' and 'company', or set 'codebase'",
            )
        return codebase

    async def _send(self, method: str, url: str, operation: str, **kwargs: Any) -> Response:
        """One PSA request; CW error bodies (code, message, errors[]) end up in the raised message."""
        try:
            return await self.http.request(method, url, operation, **kwargs)
        except PSAError as exc:
            detail = describe_cw_error(exc.body)
            message = f"{PSA} {operation} answered HTTP {exc.status}: {detail}"
            raise PSAError(exc.reason, message, exc.status, exc.body) from exc

    async def _api(self, method: str, path: str, operation: str, **kwargs: Any) -> Response:
        url = await self.base_url() + path
        return await self._send(method, url, operation, headers=self.auth_headers(), **kwargs)

    @staticmethod
    def _json(resp: Response, operation: str) -> Any:
        try:
            return resp.json()
        except orjson.JSONDecodeError as exc:
            raise PermanentError("psa_bad_response", f"{PSA} {operation}: response is not JSON") from exc

    async def _get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Any:
        return self._json(await self._api("GET", path, operation, params=params), operation)

    async def _pages(
        self, path: str, operation: str, params: Mapping[str, str], max_pages: int = MAX_PAGES
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Yield each page of a list endpoint, following ``Link: rel="next"`` until it is absent."""
        url = await self.base_url() + path
        query: Mapping[str, str] | None = params
        for _ in range(max_pages):
            resp = await self._send("GET", url, operation, headers=self.auth_headers(), params=query)
            rows = self._json(resp, operation) if resp.body else []
            if not isinstance(rows, list):
                raise PermanentError("psa_bad_response", f"{PSA} {operation}: expected a JSON array")
            yield [r for r in rows if isinstance(r, dict)]
            following = self._same_origin(next_link(resp.headers.get("Link")))
            if following is None:
                return
            url, query = following, None
        raise PermanentError("psa_too_many_pages", f"{PSA} {operation}: more than {max_pages} pages")

    def _same_origin(self, url: str | None) -> str | None:
        """Follow a next link only to the tenant's own site (credentials never go elsewhere)."""
        if url is None:
            return None
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != (self.conn.scheme, self.site.lower()):
            raise PermanentError("psa_bad_link", f"{PSA}: pagination link leaves {self.site}: {url[:200]}")
        return url

    # --- webhooks: verification ---------------------------------------------------------------------
    async def verify_webhook(self, headers: Mapping[str, str], body: bytes, source: str = "") -> None:
        signature = (header(headers, "x-content-signature") or "").strip()
        if not signature:
            raise WebhookRejected(401, "missing_signature", "missing x-content-signature header")
        key_url = self._key_url_of(body)
        self.check_key_url(key_url)
        expected = signature_of(await self.signing_keys.get(key_url, source), body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise WebhookRejected(401, "bad_signature", "x-content-signature does not match the body")

    def _key_url_of(self, body: bytes) -> str:
        """``Metadata.key_url`` of a callback whose ``CompanyId`` (if any) is this tenant's company."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(401, "unverifiable", "body is not JSON: no Metadata.key_url") from exc
        item = lower_keys(data) if isinstance(data, dict) else {}
        company = item.get("companyid")
        if isinstance(company, str) and company.strip().lower() != self.conn.company.lower():
            raise WebhookRejected(401, "wrong_company", "callback CompanyId is not this tenant's company")
        metadata = item.get("metadata")
        if isinstance(metadata, str):
            metadata = decode_entity(metadata)
        key_url = lower_keys(metadata).get("key_url") if isinstance(metadata, dict) else None
        if not isinstance(key_url, str) or not key_url:
            raise WebhookRejected(401, "unverifiable", "body has no Metadata.key_url (signing key location)")
        return key_url

    @staticmethod
    def _host_port(entry: str) -> tuple[str, int | None]:
        parts = urllib.parse.urlsplit(entry if "://" in entry else f"//{entry}")
        return (parts.hostname or "").lower(), parts.port

    def check_key_url(self, key_url: str) -> tuple[str, int]:
        """Refuse a key_url unless it is https (http only for an http tenant), on an allow-listed host and
        for this tenant's ``companyName`` (so another CW company's valid key cannot sign for this tenant).

        Returns the host and port to resolve. Raises WebhookRejected(401) naming the reason."""
        try:
            parts = urllib.parse.urlsplit(key_url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError as exc:
            raise WebhookRejected(401, "key_url_refused", "Metadata.key_url is not a valid URL") from exc
        allowed_schemes = {"https", "http"} if self.conn.scheme == "http" else {"https"}
        if parts.scheme.lower() not in allowed_schemes:
            raise WebhookRejected(401, "key_url_refused", f"key_url scheme is not https: {key_url[:100]}")
        if parts.username is not None or parts.password is not None or not host:
            raise WebhookRejected(401, "key_url_refused", "Metadata.key_url has credentials or no host")
        default = 443 if parts.scheme.lower() == "https" else 80
        effective = port or default
        vendor = bool(CLOUD_KEY_HOST.fullmatch(host) or STAGING_KEY_HOST.fullmatch(host))
        cloud = vendor and effective == default
        listed = any(h == host and (p or default) == effective for h, p in self._key_hosts)
        if not (cloud or listed):
            raise WebhookRejected(
                401, "key_url_refused",
                f"Metadata.key_url host {host}:{effective} is not a ConnectWise host nor the tenant's "
                "on_prem_host/key_url_hosts",
            )
        query = {k.lower(): v for k, v in urllib.parse.parse_qsl(parts.query)}
        if query.get("companyname", "").strip().lower() != self.conn.company.lower():
            raise WebhookRejected(
                401, "key_url_refused", "Metadata.key_url companyName is missing or not this tenant's company"
            )
        return host, effective

    async def _check_key_addresses(self, host: str, port: int, *, via_proxy: bool = False) -> None:
        """Resolve the key host and refuse non-public addresses unless the tenant allows them.

        A host that does not resolve (now) is "retry later", as when the fetch itself cannot connect; unless
        the fetch goes through a proxy, which resolves it (behind a corporate proxy, local DNS often knows
        only internal names). A host that does resolve here must resolve to public addresses either way."""
        if self.conn.allow_private_key_url:
            return
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), DNS_TIMEOUT_S
            )
        except UnicodeError as exc:  # not a host name at all: no retry makes it one
            raise WebhookRejected(401, "key_url_refused", f"key_url host {host[:100]!r} is not a valid name") from exc
        except (OSError, TimeoutError) as exc:
            if via_proxy:
                return
            raise retry_later("key_fetch_unavailable", f"key_url host {host} does not resolve", 10.0) from exc
        addresses = {str(info[4][0]) for info in infos}
        private = sorted(a for a in addresses if not is_public_address(a))
        if private or not addresses:
            raise WebhookRejected(
                401, "key_url_refused",
                f"Metadata.key_url host {host} resolves to a non-public address ({', '.join(private)})",
            )

    async def _resolve_and_fetch_key(self, key_url: str) -> str:
        """Check the key host's addresses, then fetch the key (run once per key URL by ``signing_keys``)."""
        host, port = self.check_key_url(key_url)
        await self._check_key_addresses(host, port, via_proxy=egress.proxy_for(key_url) is not None)
        return await self._fetch_signing_key(key_url)

    async def _fetch_signing_key(self, key_url: str) -> str:
        """GET key_url without auth, then once with the tenant's auth on 401/403; no redirects.

        The key's location is unconfirmed to need auth (reference 1.2), hence the two attempts."""
        resp: Response | None = None
        attempts = [{"Accept": "application/json"}]
        if KEY_URL_PATH.search(urllib.parse.urlsplit(key_url).path):
            attempts.append(self.auth_headers())  # credentials only ever go to the callback-key endpoint
        try:
            for index, headers in enumerate(attempts, start=1):
                try:
                    resp = await self.key_http.request(
                        "GET", key_url, "callback_key", headers=headers, ok=(200,)
                    )
                    break
                except PSAError as exc:
                    if exc.status not in (401, 403) or index == len(attempts):
                        raise
        except PSAError as exc:
            reason = "redirect refused" if 300 <= exc.status < 400 else f"HTTP {exc.status}"
            raise WebhookRejected(401, "key_fetch_failed", f"fetching the signing key: {reason}") from exc
        except TransientError as exc:
            raise retry_later("key_fetch_unavailable", f"signing key: {exc.message}", 10.0) from exc
        if resp is None:  # every attempt either answered or raised: not reached
            raise retry_later("key_fetch_unavailable", "signing key: no answer", 10.0)
        try:
            data = resp.json()
        except orjson.JSONDecodeError:
            data = None
        key = lower_keys(data).get("signing_key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key:
            raise WebhookRejected(401, "key_fetch_failed", "the key_url response has no signing_key")
        return key

    # --- webhooks: parsing --------------------------------------------------------------------------
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(400, "malformed_json", f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise WebhookRejected(400, "bad_payload", "body is not a JSON object")
        item = lower_keys(data)
        entity = decode_entity(item.get("entity"))
        ticket_id = parse_ticket_id(item.get("id")) or parse_ticket_id(entity.get("id"))
        if ticket_id is None:
            raise WebhookRejected(400, "bad_payload", "callback has no numeric record id (ID or Entity.id)")
        message_id = item.get("messageid")
        delivery = message_id.strip()[:200] if isinstance(message_id, str) and message_id.strip() else ""
        board = entity.get("board")
        scope = ref_id(lower_keys(board)) if isinstance(board, dict) else None
        return [
            WebhookEvent(
                ticket_id=ticket_id,
                event=self._event_kind(item, entity),
                delivery_id=delivery or hashlib.sha256(body).hexdigest()[:32],
                scope_hint="" if scope is None else str(scope),
                payload={k: v for k in PAYLOAD_KEYS if _scalar(v := item.get(k))},
            )
        ]

    @staticmethod
    def _event_kind(item: Mapping[str, Any], entity: Mapping[str, Any]) -> str:
        kind, action = item.get("type"), item.get("action")
        if not isinstance(kind, str) or kind.strip().lower() != "ticket" or not isinstance(action, str):
            return OTHER
        record_type = entity.get("recordtype")
        if isinstance(record_type, str) and record_type.strip().lower() in PROJECT_RECORD_TYPES:
            return OTHER
        return ACTIONS.get(action.strip().lower(), OTHER)

    # --- tickets ------------------------------------------------------------------------------------
    def _to_ticket(self, raw: dict[str, Any], description: str) -> Ticket:
        board = raw.get("board")
        refs = {name: raw.get(name) for name in CATEGORY_FIELDS}
        path = tuple(n for n in (ref_name(refs[name]) for name in CATEGORY_FIELDS) if n)
        native = {
            name: {"id": ref_id(ref), "name": ref_name(ref)} if ref_id(ref) is not None else None
            for name, ref in refs.items()
        }
        info = raw.get("_info")
        info = info if isinstance(info, dict) else {}
        company = raw.get("company")
        company = company if isinstance(company, dict) else {}
        return Ticket(
            id=str(raw["id"]),
            summary=str(raw.get("summary") or ""),
            description=description,
            scope="" if ref_id(board) is None else str(ref_id(board)),
            scope_name=ref_name(board),
            category=CategoryState(path=path, native=native if path else {}),
            company=str(company.get("name") or company.get("identifier") or ""),
            contact_email=str(raw.get("contactEmailAddress") or ""),
            source=ref_name(raw.get("source")),
            priority=ref_name(raw.get("priority")),
            created_at=self._parse_date(info.get("dateEntered")),
            native={"board": ref_id(board), "recordType": raw.get("recordType")},
        )

    @staticmethod
    def _parse_date(value: Any) -> datetime | None:
        if not isinstance(value, str):
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None

    async def _raw_ticket(self, ticket_id: str, fields: str = TICKET_FIELDS) -> dict[str, Any]:
        raw = await self._get(f"service/tickets/{ticket_id}", "get_ticket", {"fields": fields})
        if not isinstance(raw, dict) or "id" not in raw:
            raise PermanentError("psa_bad_response", f"{PSA}: ticket {ticket_id} response has no id")
        return raw

    async def _description(self, ticket_id: str, max_pages: int = MAX_DESCRIPTION_PAGES) -> str:
        """The text of the ticket's first ``detailDescriptionFlag`` note ('' when there is none)."""
        params = {"orderBy": "id asc", "pageSize": str(NOTES_PAGE_SIZE), "fields": NOTE_FIELDS}
        pages = self._pages(f"service/tickets/{ticket_id}/notes", "list_notes", params, max_pages=max_pages)
        try:
            async for notes in pages:
                for note in notes:
                    if note.get("detailDescriptionFlag") is True:
                        return str(note.get("text") or "")
        except PermanentError as exc:
            if exc.reason != "psa_too_many_pages":
                raise
        finally:
            await pages.aclose()
        return ""

    async def fetch_ticket(self, ticket_id: str) -> Ticket:
        _require_id(ticket_id, "ticket id")
        raw = await self._raw_ticket(ticket_id)
        return self._to_ticket(raw, await self._description(ticket_id))

    async def fetch_current(self, ticket_id: str) -> Ticket:
        _require_id(ticket_id, "ticket id")
        return self._to_ticket(await self._raw_ticket(ticket_id), "")

    # --- taxonomy -----------------------------------------------------------------------------------
    async def _inactive_ids(self, board: str, kind: str) -> set[int]:
        params = {"pageSize": str(PAGE_SIZE), "fields": VALUE_FIELDS}
        inactive: set[int] = set()
        async for rows in self._pages(f"service/boards/{board}/{kind}", kind, params):
            inactive.update(i for r in rows if r.get("inactiveFlag") is True and (i := ref_id(r)) is not None)
        return inactive

    async def fetch_taxonomy(self, scope: str) -> Taxonomy:
        board = _require_id(scope, "board id")
        params = {"pageSize": str(PAGE_SIZE), "orderBy": "id asc"}
        rows: list[dict[str, Any]] = []
        path = f"service/boards/{board}/typeSubTypeItemAssociations"
        async for page in self._pages(path, "associations", params):
            rows.extend(page)
        kinds = ("types", "subtypes", "items")
        inactive = await asyncio.gather(*(self._inactive_ids(board, k) for k in kinds))
        candidates: list[Candidate] = []
        seen: set[tuple[str, ...]] = set()
        scope_name = ""
        for row in rows:
            candidate = self._candidate(row, *inactive)
            scope_name = scope_name or ref_name(row.get("board"))
            if candidate is not None and candidate.path not in seen:
                seen.add(candidate.path)
                candidates.append(candidate)
        return Taxonomy(
            tenant=self.tenant.id, psa=self.kind, scope=board, scope_name=scope_name,
            candidates=tuple(candidates), fetched_at=utcnow(),
        )

    @staticmethod
    def _candidate(
        row: dict[str, Any], types: set[int], subtypes: set[int], items: set[int]
    ) -> Candidate | None:
        """One association row as a candidate, or None if it references an inactive or missing value."""
        type_ref, sub_ref, item_ref = row.get("type"), row.get("subType"), row.get("item")
        type_id, sub_id, item_id = ref_id(type_ref), ref_id(sub_ref), ref_id(item_ref)
        if type_id is None or not ref_name(type_ref) or type_id in types:
            return None
        if (sub_id is not None and sub_id in subtypes) or (item_id is not None and item_id in items):
            return None
        path = tuple(n for n in (ref_name(type_ref), ref_name(sub_ref), ref_name(item_ref)) if n)
        return Candidate(
            id=candidate_id(type_id, sub_id, item_id),
            path=path,
            native={
                "type": {"id": type_id},
                "subType": None if sub_id is None else {"id": sub_id},
                "item": None if item_id is None else {"id": item_id},
            },
        )

    # --- writes -------------------------------------------------------------------------------------
    @staticmethod
    def _target(candidate: Candidate) -> dict[str, int | None]:
        target = {name: ref_id(candidate.native.get(name)) for name in CATEGORY_FIELDS}
        if target["type"] is None:
            raise PermanentError("psa_bad_candidate", f"{PSA}: candidate {candidate.id} has no type id")
        return target

    @staticmethod
    def patch_ops(ticket: Ticket, target: Mapping[str, int | None]) -> list[dict[str, Any]]:
        """JSON-Patch replacing whole reference objects (never sub-paths such as ``type/id``)."""
        ops: list[dict[str, Any]] = []
        for name in CATEGORY_FIELDS:
            value = target.get(name)
            if value is not None:
                ops.append({"op": "replace", "path": name, "value": {"id": value}})
            elif ticket.category.native.get(name):
                ops.append({"op": "remove", "path": name})
        return ops

    async def write_category(self, ticket: Ticket, candidate: Candidate) -> None:
        _require_id(ticket.id, "ticket id")
        target = self._target(candidate)
        ops = self.patch_ops(ticket, target)
        await self._api("PATCH", f"service/tickets/{ticket.id}", "patch_ticket", json=ops)
        saved = await self._raw_ticket(ticket.id, "id,type,subType,item")
        actual = {name: ref_id(saved.get(name)) for name in CATEGORY_FIELDS}
        if actual != target:
            raise PermanentError(
                "psa_write_not_applied",
                f"{PSA}: ticket {ticket.id} still has type/subType/item {actual} after PATCH to {target} "
                "(ConnectWise answered 200 without applying it)",
            )

    async def add_note(self, ticket_id: str, text: str) -> None:
        _require_id(ticket_id, "ticket id")
        note = {
            "text": text,
            "detailDescriptionFlag": False,
            "internalAnalysisFlag": True,
            "resolutionFlag": False,
            "processNotifications": False,
        }
        await self._api("POST", f"service/tickets/{ticket_id}/notes", "add_note", json=note)

    async def has_note_with(self, ticket_id: str, marker: str) -> bool:
        _require_id(ticket_id, "ticket id")
        params = {"orderBy": "id desc", "pageSize": str(PAGE_SIZE), "fields": "id,text"}
        pages = self._pages(f"service/tickets/{ticket_id}/notes", "list_notes", params)
        try:
            async for notes in pages:
                if any(marker in str(n.get("text") or "") for n in notes):
                    return True
        finally:
            await pages.aclose()
        return False

    # --- history ------------------------------------------------------------------------------------
    async def _history_description(self, ticket_id: str) -> str:
        try:
            return await self._description(ticket_id, max_pages=1)
        except PermanentError as exc:
            log.info("%s: no description for history ticket %s (%s)", PSA, ticket_id, exc.reason)
            return ""

    async def history(self, limit: int | None = None) -> AsyncIterator[HistoricalTicket]:
        params = {
            "conditions": "closedFlag=true and type/id>0", "orderBy": "id asc",
            "pageSize": str(HISTORY_PAGE_SIZE), "fields": TICKET_FIELDS,
        }
        seen = 0
        pages = self._pages("service/tickets", "list_tickets", params)
        try:
            async for rows in pages:
                batch = [r for r in rows if parse_ticket_id(r.get("id")) and ref_id(r.get("type"))]
                if limit is not None:
                    batch = batch[: max(0, limit - seen)]
                texts = await asyncio.gather(*(self._history_description(str(r["id"])) for r in batch))
                for raw, text in zip(batch, texts, strict=True):
                    ticket = self._to_ticket(raw, text)
                    yield HistoricalTicket(ticket, ticket.category.path)
                    seen += 1
                if limit is not None and seen >= limit:
                    return
        finally:
            await pages.aclose()

    async def closed_since(
        self, since: datetime, until: datetime, *, with_text: bool = False
    ) -> AsyncIterator[ClosedTicket]:
        """``closedDate`` in the window, ordered by it, 1,000 a page; the final category is in every row and the
        ticket's ``actualHours`` is the technician time (no extra call). Offset pages shift as tickets close, so
        rows are de-duplicated by id."""
        params = {
            "conditions": f"closedFlag=true and closedDate>=[{iso_z(since)}] and closedDate<[{iso_z(until)}]",
            "orderBy": "closedDate asc", "pageSize": str(PAGE_SIZE),
            "fields": TICKET_FIELDS + ",closedDate,actualHours",
        }
        seen: set[str] = set()
        pages = self._pages("service/tickets", "list_closed_tickets", params)
        try:
            async for rows in pages:
                batch = [r for r in rows if parse_ticket_id(r.get("id")) and str(r["id"]) not in seen]
                seen.update(str(r["id"]) for r in batch)
                texts = (await asyncio.gather(*(self._history_description(str(r["id"])) for r in batch))
                         if with_text else [""] * len(batch))
                for raw, text in zip(batch, texts, strict=True):
                    hours = raw.get("actualHours")
                    yield ClosedTicket(self._to_ticket(raw, text), self._parse_date(raw.get("closedDate")),
                                       float(hours) if isinstance(hours, int | float) else None)
        finally:
            await pages.aclose()

    async def category_changes(self, ticket_id: str) -> list[CategoryChange]:
        """``GET /system/audittrail?type=Ticket&id=..`` (a bare array of AuditTrailEntry: text, enteredDate,
        enteredBy, auditType, auditSubType, auditSource; no old/new values). UNCONFIRMED: which auditType /
        auditSubType a board or type/subType/item change gets, the text's grammar, the values of auditSource and
        whether enteredBy is always a member identifier; so an entry counts when its subtype or text names a
        category field, as a move when it names the board, and as automated when its source or author is
        named like an API member / workflow (``psa.changes.looks_automated``)."""
        _require_id(ticket_id, "ticket id")
        rows = await self._get("system/audittrail", "audit_trail",
                               {"type": "Ticket", "id": ticket_id, "page": "1", "pageSize": str(PAGE_SIZE)})
        changes = []
        for row in rows if isinstance(rows, list) else []:
            entry = lower_keys(row) if isinstance(row, dict) else {}
            text = text_of(entry.get("text"))
            kind = f"{text_of(entry.get('audittype'))} {text_of(entry.get('auditsubtype'))} {unquoted(text)}"
            scope = mentions(kind, AUDIT_SCOPE_WORDS)
            if not scope and not mentions(kind, AUDIT_CATEGORY_WORDS):
                continue
            actor, source = text_of(entry.get("enteredby")), text_of(entry.get("auditsource"))
            automated = looks_automated(actor, source) if actor or source else None
            changes.append(CategoryChange(parse_when(entry.get("entereddate")), actor, automated, scope, text))
        return by_time(changes)

    async def close(self) -> None:
        await self.http.close()
        await self.key_http.close()
