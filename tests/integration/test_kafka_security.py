"""KafkaBus against a private broker with managed-service listeners: SASL_SSL with SCRAM-SHA-256,
SCRAM-SHA-512 and PLAIN, and SSL with a client certificate. Every client kind (admin, producer, consumer,
table reader) connects with the settings' security; a wrong password or an untrusted CA fails clearly; and
the whole pipeline runs over SASL_SSL SCRAM.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from autotriage.app import build_host
from autotriage.core.bus.base import TopicSpec
from autotriage.core.bus.kafka import KafkaBus
from autotriage.core.bus.kafka_security import KafkaSecurity, client_kwargs, kwargs_from_settings
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.events import OutcomeRecorded, decode
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.sandbox.halo import HaloSimulator
from tests.support.pipeline import environ, start_llm, tenant_entry, write_tenants
from tests.support.secure_broker import PLAIN, SCRAM_256, SCRAM_512, SecureBroker, User
from tests.support.tickets import halo_sample

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """One secure broker for the module (started once: a JVM start takes seconds)."""
    secure = SecureBroker(tmp_path_factory.mktemp("secure-broker"))
    asyncio.run(secure.start())
    try:
        yield secure
    finally:
        asyncio.run(secure.close())


def sasl(broker: SecureBroker, user: User, password: str | None = None) -> dict[str, Any]:
    return client_kwargs(KafkaSecurity(protocol="SASL_SSL", ca_file=broker.ca_file, mechanism=user.mechanism,
                                       username=user.name, password=password or user.password))


async def produce_consume_commit(bootstrap: str, security: dict[str, Any], prefix: str) -> None:
    """Admin (create topic), producer, consumer group with a manual commit, and a table read."""
    bus = KafkaBus(bootstrap, client_id=f"{prefix}client", security=security)
    await bus.start()
    topic, group = f"{prefix}events", f"{prefix}group"
    try:
        assert await bus.ensure_topics([TopicSpec(topic, 2)]) == [topic]
        futures = [await bus.producer().send(topic, json.dumps({"n": i}).encode(), key=f"k{i % 4}".encode())
                   for i in range(20)]
        await asyncio.gather(*futures)
        consumer = await bus.consumer([topic], group)
        records = []
        for _ in range(30):
            records += await consumer.getmany(1.0, max_records=100)
            if len(records) >= 20:
                break
        assert sorted(json.loads(r.value)["n"] for r in records) == list(range(20))
        offsets: dict[tuple[str, int], int] = {}
        for r in records:
            offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0), r.offset + 1)
        await consumer.commit(offsets)
        await consumer.stop()
        again = await bus.consumer([topic], group)  # the commit holds: nothing is redelivered
        assert await again.getmany(2.0, max_records=100) == []
        await again.stop()
        table = await bus.read_table(topic, settle_s=10)
        assert set(table) == {b"k0", b"k1", b"k2", b"k3"}
    finally:
        await bus.stop()


@pytest.mark.parametrize("user", [SCRAM_256, SCRAM_512, PLAIN], ids=lambda u: u.mechanism)
async def test_sasl_ssl(broker: SecureBroker, user: User, topic_prefix: str) -> None:
    await produce_consume_commit(broker.sasl_bootstrap, sasl(broker, user), topic_prefix)


async def test_oauthbearer_with_client_credentials(broker: SecureBroker, topic_prefix: str) -> None:
    """Tokens from an OAuth token endpoint (client-credentials grant) authenticate every client."""
    grants = 0

    async def token(request: web.Request) -> web.Response:
        nonlocal grants
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != ("autotriage", "oauth-secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        grants += 1
        now = int(time.time())
        claims = {"sub": "autotriage", "iat": now, "exp": now + 3600, "scope": "kafka"}
        jwt = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                       for part in ({"alg": "none"}, claims)) + "."
        return web.json_response({"access_token": jwt, "token_type": "Bearer", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/oauth2/token"
    try:
        security = client_kwargs(KafkaSecurity(protocol="SASL_SSL", ca_file=broker.ca_file, mechanism="OAUTHBEARER",
                                               oauth_token_url=url, oauth_client_id="autotriage",
                                               oauth_client_secret="oauth-secret"))
        await produce_consume_commit(broker.sasl_bootstrap, security, topic_prefix)
    finally:
        await runner.cleanup()
    assert grants == 1  # one token, cached, for every client of the bus


async def test_mutual_tls(broker: SecureBroker, topic_prefix: str) -> None:
    security = client_kwargs(KafkaSecurity(protocol="SSL", ca_file=broker.ca_file, cert_file=broker.client_cert,
                                           key_file=broker.client_key))
    await produce_consume_commit(broker.ssl_bootstrap, security, topic_prefix)


async def test_wrong_password_and_untrusted_ca_are_refused(broker: SecureBroker, tmp_path: Path) -> None:
    for security in (sasl(broker, SCRAM_256, password="not-the-password"),
                     client_kwargs(KafkaSecurity(protocol="SSL", cert_file=broker.client_cert,
                                                 key_file=broker.client_key))):  # system roots only
        producer = AIOKafkaProducer(bootstrap_servers=broker.sasl_bootstrap if "sasl_mechanism" in security
                                    else broker.ssl_bootstrap, request_timeout_ms=5000, **security)
        with pytest.raises((KafkaError, OSError)):
            await asyncio.wait_for(producer.start(), 30)
        await producer.stop()


async def test_pipeline_over_sasl_ssl_scram(broker: SecureBroker, tmp_path: Path, topic_prefix: str) -> None:
    settings = Settings(
        bus="kafka", kafka_bootstrap_servers=broker.sasl_bootstrap, topic_prefix=topic_prefix, partitions=2,
        http_host="127.0.0.1", http_port=0, kafka_security_protocol="SASL_SSL",
        kafka_ssl_ca_file=broker.ca_file, kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=SCRAM_512.name, kafka_sasl_password=SCRAM_512.password,
        retry_tiers_s=(0.5, 1.0),
    )
    admin = KafkaBus(broker.sasl_bootstrap, client_id="setup", security=kwargs_from_settings(settings))
    await admin.start()
    topics = Topics.of(settings)
    await admin.ensure_topics(topics.specs(2))
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    llm, llm_url = await start_llm()
    entry, env = tenant_entry(sim, "acme", llm_url)
    try:
        with environ(env):
            tenants = load_tenants(write_tenants(tmp_path / "tenants.yaml", [entry]))
            host = build_host(settings, tenants, ["ingress", "normalizer", "taxonomy-cache", "classifier", "writer"])
            await host.start()
            try:
                ids = [sim.create_ticket(f"Outlook crashes on start {i}", "Since the update", 1) for i in range(5)]
                ingress = f"http://127.0.0.1:{host.bound_port}"
                for ticket_id in ids:
                    assert await sim.send_created_webhook(ingress, "acme", [ticket_id]) == 202
                reader = await admin.consumer([topics.name(TICKETS_OUTCOMES)], f"{topic_prefix}reader")
                outcomes: list[OutcomeRecorded] = []
                for _ in range(90):
                    outcomes += [decode(r.value, OutcomeRecorded) for r in await reader.getmany(1.0, 100)]
                    if len(outcomes) >= len(ids):
                        break
                await reader.stop()
            finally:
                await host.stop()
    finally:
        await admin.stop()
        await sim.stop()
        await llm.stop()
    print(f"outcomes over SASL_SSL SCRAM-SHA-512: {[o.action.value for o in outcomes]}")
    assert sorted(o.ticket_id for o in outcomes) == sorted(ids)
    assert all(o.action.value == "applied" for o in outcomes)
