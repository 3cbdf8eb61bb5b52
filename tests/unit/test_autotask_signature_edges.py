"""Autotask webhook edges: the escaped-JSON fallback accepts only Autotask's documented re-escaping, and only a
``Deactivated`` without an entity id is the webhook's own deactivation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from autotriage.core.errors import WebhookRejected
from autotriage.core.metrics import REGISTRY
from autotriage.core.tenants import Tenant
from autotriage.psa.autotask import AutotaskClient, signed_forms
from autotriage.psa.base import DEACTIVATED, OTHER
from autotriage.sandbox.autotask import dotnet_json

SECRET = "a-64-char-max-random-secret"
PAYLOAD = {
    "Action": "Create", "Guid": "a1da62a4-2c49-40a8-8183-69994ce5b3eb", "EntityType": "Ticket", "Id": 351181,
    "Fields": {"TicketNumber": "T20250915.0001", "Title": "Café <VPN> & 'Wi-Fi' + \"roaming\" `x`"},
    "EventTime": "2025-09-15T14:57:50Z", "SequenceNumber": 1, "PersonID": 30691780,
}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> AutotaskClient:
    monkeypatch.setenv("AT_EDGE_SECRET", SECRET)
    return AutotaskClient(Tenant.model_validate({
        "id": "edge", "psa": {"kind": "autotask", "username": "u", "secret": {"env": "AT_EDGE_SECRET"},
                              "integration_code": {"env": "AT_EDGE_SECRET"},
                              "zone_url": "http://127.0.0.1:9/atservicesrest/"},
        "webhook": {"secret": {"env": "AT_EDGE_SECRET"}},
    }))


def signature(signed: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), signed, hashlib.sha1).digest()
    return {"X-Hook-Signature": "sha1=" + base64.b64encode(digest).decode()}


async def test_raw_and_unescaped_bodies_verify(client: AutotaskClient) -> None:
    signed = dotnet_json(PAYLOAD).encode()
    await client.verify_webhook(signature(signed), signed)
    # the same body with its \uXXXX escapes decoded on the way (a proxy or framework rewrote them)
    unescaped = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    assert unescaped != signed
    await client.verify_webhook(signature(signed), unescaped)


@pytest.mark.parametrize("rewrite", [
    lambda p: json.dumps(p, ensure_ascii=False).encode(),  # whitespace added after signing
    lambda p: json.dumps(p, ensure_ascii=False, indent=2).encode(),  # pretty-printed
    lambda p: json.dumps(dict(reversed(list(p.items()))), ensure_ascii=False, separators=(",", ":")).encode(),
    lambda p: json.dumps({**p, "Id": 351181.0}, ensure_ascii=False, separators=(",", ":")).encode(),
    lambda p: json.dumps(p, separators=(",", ":")).encode(),  # Python's own \u00e9 escaping, lower-case hex
])
async def test_re_serialised_bodies_are_refused(client: AutotaskClient, rewrite: object) -> None:
    signed = dotnet_json(PAYLOAD).encode()
    body = rewrite(PAYLOAD)  # type: ignore[operator]
    assert body != signed
    with pytest.raises(WebhookRejected) as info:
        await client.verify_webhook(signature(signed), body)
    assert (info.value.status, info.value.reason) == (401, "bad_signature")


def test_signed_forms_are_the_raw_body_and_its_re_escaping_only() -> None:
    unescaped = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    assert list(signed_forms(unescaped)) == [unescaped, dotnet_json(PAYLOAD).encode()]
    escaped = dotnet_json(PAYLOAD).encode()
    assert list(signed_forms(escaped)) == [escaped]


def deactivated_total() -> float:
    return REGISTRY.get_sample_value("autotriage_webhook_deactivated_total",
                                     {"psa": "autotask", "tenant": "edge"}) or 0.0


async def test_ticket_level_deactivated_is_not_the_webhook_deactivation(client: AutotaskClient) -> None:
    before = deactivated_total()
    ticket_level = dotnet_json({**PAYLOAD, "Action": "Deactivated"}).encode()
    await client.verify_webhook(signature(ticket_level), ticket_level)
    assert deactivated_total() == before
    [event] = client.parse_webhook({}, ticket_level)
    assert event.event == OTHER and event.ticket_id == "351181"
    webhook_level = dotnet_json({"Action": "Deactivated", "Guid": PAYLOAD["Guid"], "EntityType": "Ticket",
                                 "EventTime": "2025-09-15T15:00:00Z", "SequenceNumber": 2}).encode()
    await client.verify_webhook(signature(webhook_level), webhook_level)
    assert deactivated_total() == before + 1
    [event] = client.parse_webhook({}, webhook_level)
    assert event.event == DEACTIVATED and event.ticket_id == ""
