"""Ingress: verify the PSA's signature/credentials on the raw bytes, size-limit, dedupe the delivery,
enqueue durably to ``webhooks.raw`` and only then answer 2xx. Never calls the PSA API or the LLM inline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from autotriage.core import metrics
from autotriage.core.bus.base import Bus
from autotriage.core.bus.topics import TICKETS_OUTCOMES, WEBHOOKS_RAW, Topics
from autotriage.core.caches import RecentKeys
from autotriage.core.errors import WebhookRejected
from autotriage.core.events import OutcomeRecorded, WebhookReceived, encode, utcnow
from autotriage.core.models import Action, PSAKind
from autotriage.core.runtime import record_outcome_metrics
from autotriage.ingress.client_address import client_address, parse_networks
from autotriage.ingress.rejections import RejectionLog
from autotriage.psa.base import CREATED, PSAClient, WebhookEvent
from autotriage.psa.registry import PSAClients

log = logging.getLogger(__name__)


class DeliveryLog:
    """Recently accepted delivery ids per tenant (bounded): a replayed delivery is acknowledged, not re-run."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: RecentKeys[str] = RecentKeys(capacity)

    def seen(self, key: str) -> bool:
        """Whether ``key`` was recorded."""
        return key in self._seen

    def record(self, key: str) -> None:
        """Record ``key``, evicting the oldest beyond capacity."""
        self._seen.add(key)


class Ingress:
    """The webhook receiver, as a host component that adds its route to the host's HTTP app."""

    name = "ingress"

    def __init__(
        self,
        clients: PSAClients,
        bus: Bus,
        topics: Topics,
        *,
        max_body_bytes: int = 256 * 1024,
        enqueue_timeout_s: float = 4.0,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        #: ConnectWise gives up after 5 s: answer 429 (retry later) before that rather than hold the request.
        self.enqueue_timeout_s = enqueue_timeout_s
        self.clients = clients
        self.bus = bus
        self.topics = topics
        self.max_body_bytes = max_body_bytes
        self.deliveries = DeliveryLog()
        self.rejections = RejectionLog()
        #: Reverse proxies whose ``X-Forwarded-For`` names the sender (per-source limits and logs).
        self.trusted_proxies = parse_networks(trusted_proxies)
        self._started = False

    def install(self, app: web.Application) -> None:
        """Add the webhook route to an aiohttp app."""
        app.router.add_post("/webhooks/{psa}/{tenant}", self.handle)

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.clients.close()

    @property
    def ready(self) -> bool:
        return self._started

    def healthy(self) -> bool:
        return True

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /webhooks/{psa}/{tenant}``."""
        started = time.perf_counter()
        psa_name = request.match_info["psa"]
        tenant_id = request.match_info["tenant"]
        route = f"webhook_{psa_name}" if psa_name in PSAKind._value2member_map_ else "webhook_unknown"
        headers: dict[str, str] = {}
        source = client_address(
            request.remote or "", request.headers.get("X-Forwarded-For"), self.trusted_proxies
        )
        try:
            status, body = await self._handle(request, psa_name, tenant_id, source)
        except WebhookRejected as exc:
            status, body = exc.status, {"error": exc.reason, "message": exc.message}
            if exc.retry_after_s is not None:
                headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
            self.rejections.rejected(
                status, exc.reason, exc.message, tenant=tenant_id, psa=psa_name, remote=source
            )
        metrics.HTTP_REQUESTS.labels(route, str(status)).inc()
        metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)
        return web.json_response(body, status=status, headers=headers)

    async def _handle(
        self, request: web.Request, psa_name: str, tenant_id: str, source: str
    ) -> tuple[int, dict[str, Any]]:
        tenant = self.clients.tenants.get(tenant_id)
        if tenant is None or tenant.psa.kind.value != psa_name:
            raise WebhookRejected(404, "unknown_tenant", f"no tenant {tenant_id!r} with PSA {psa_name!r} is configured")
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise WebhookRejected(413, "too_large", f"body over {self.max_body_bytes} bytes")
        raw = await request.content.read(self.max_body_bytes + 1)
        if len(raw) > self.max_body_bytes:
            raise WebhookRejected(413, "too_large", f"body over {self.max_body_bytes} bytes")
        client: PSAClient = self.clients.get(tenant_id)
        headers = dict(request.headers)
        try:
            await client.verify_webhook(headers, raw, source=source)
        except WebhookRejected as exc:
            if exc.status == 401:
                metrics.SIGNATURE_FAILURES.labels(psa_name, tenant_id).inc()
            raise
        events = client.parse_webhook(headers, raw)
        try:
            accepted, duplicates, ignored = await asyncio.wait_for(
                self._enqueue(tenant_id, tenant.psa.kind, events), self.enqueue_timeout_s
            )
        except Exception as exc:  # not durable in time: let the PSA retry rather than acknowledge and lose it
            log.error("could not enqueue webhook: %r", exc, extra={"tenant": tenant_id})  # noqa: TRY400 - one line
            # 429, not 503: ConnectWise retries 404/409/419/429 only, so a 5xx would lose the event there
            raise WebhookRejected(
                429, "enqueue_failed", "could not enqueue the delivery; retry later", retry_after_s=5.0
            ) from exc
        for result, count in (("accepted", accepted), ("duplicate", duplicates), ("ignored", ignored)):
            if count:
                metrics.WEBHOOK_DELIVERIES.labels(psa_name, tenant_id, result).inc(count)
        return 202 if accepted else 200, {"accepted": accepted, "duplicates": duplicates, "ignored": ignored}

    async def _enqueue(self, tenant_id: str, psa: PSAKind, events: list[WebhookEvent]) -> tuple[int, int, int]:
        """Produce the new-ticket events and wait for the broker's acknowledgement; returns the counts
        (accepted, duplicates, ignored). Delivery ids are recorded only once the events are durable.

        An event that starts no ticket work (not a new ticket, a repeated delivery) is acknowledged too, so it
        gets an ``ignored`` outcome record naming why: every acknowledged delivery ends in an outcome."""
        received = utcnow()
        futures: list[asyncio.Future[Any]] = []
        accepted = duplicates = ignored = 0
        producer = self.bus.producer()
        pending_keys = []
        outcomes: list[OutcomeRecorded] = []
        for event in events:
            key = f"{tenant_id}:{event.delivery_id}:{event.ticket_id}"
            if event.event != CREATED:
                ignored += 1
                outcomes.append(_ignored(tenant_id, psa, event, received, f"not_new_ticket:{event.event}"))
                continue
            if self.deliveries.seen(key):
                duplicates += 1
                outcomes.append(_ignored(tenant_id, psa, event, received, "duplicate_delivery"))
                continue
            message = WebhookReceived(
                tenant=tenant_id,
                psa=psa,
                ticket_id=event.ticket_id,
                occurred_at=received,
                delivery_id=event.delivery_id,
                event=event.event,
                scope_hint=event.scope_hint,
                payload=event.payload,
            )
            futures.append(await producer.send(self.topics.name(WEBHOOKS_RAW), encode(message), key=message.key))
            pending_keys.append(key)
            accepted += 1
        outcomes_topic = self.topics.name(TICKETS_OUTCOMES)
        for outcome in outcomes:
            futures.append(await producer.send(outcomes_topic, encode(outcome), key=outcome.key))
        await asyncio.gather(*futures)
        for outcome in outcomes:
            record_outcome_metrics(outcome)
        for key in pending_keys:
            self.deliveries.record(key)
        return accepted, duplicates, ignored


def _ignored(tenant_id: str, psa: PSAKind, event: WebhookEvent, received: Any, reason: str) -> OutcomeRecorded:
    """The ``ignored`` outcome of an acknowledged event that starts no ticket work."""
    return OutcomeRecorded(
        tenant=tenant_id,
        psa=psa,
        ticket_id=event.ticket_id,
        occurred_at=received,
        action=Action.IGNORED,
        reason=reason,
        stage="ingress",
        detail=f"delivery {event.delivery_id}"[:200],
    )
