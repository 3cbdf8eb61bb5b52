"""``autotriage doctor --connect`` against the PSA simulators, the OpenAI test server and the real broker: one
finding per check, and a failed check names the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from autotriage.commands.doctor import Finding, check_kafka, connect_checks, placeholders
from autotriage.core.settings import Settings
from autotriage.core.tenants import TenantsFile
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.common import Simulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import OpenAITestServer

MEMORY = Settings(bus="memory")


@pytest_asyncio.fixture
async def llm() -> AsyncIterator[OpenAITestServer]:
    server = OpenAITestServer(api_keys={"sk-good"})
    await server.start()
    yield server
    await server.stop()


async def findings_for(sim: Simulator, llm: OpenAITestServer, secrets: dict[str, str] | None = None,
                       key: str = "sk-good", model: str = "gpt-4o-mini", **psa: Any) -> list[Finding]:
    await sim.start()
    try:
        entry, env = sim.tenant_config("acme")
        entry["psa"].update(psa)
        entry["llm"] = {"provider": "openai", "model": model, "base_url": f"{llm.base_url}/v1",
                        "api_key": {"env": "DOCTOR_KEY"}}
        tenants = TenantsFile.model_validate({"tenants": [entry]})
        tenants.resolve_secrets({**env, **(secrets or {}), "DOCTOR_KEY": key})
        return await connect_checks(tenants, MEMORY, None)
    finally:
        await sim.stop()


def by_topic(findings: list[Finding]) -> dict[str, Finding]:
    return {f.topic: f for f in findings}


@pytest.mark.parametrize("sim", [HaloSimulator, ConnectWiseSimulator, AutotaskSimulator])
async def test_a_good_tenant_passes_every_check(sim: type[Simulator], llm: OpenAITestServer) -> None:
    found = by_topic(await findings_for(sim(), llm))
    assert all(f.ok for f in found.values()), [f.line() for f in found.values()]
    assert "read access to tickets ok" in found["psa"].message
    assert f"/webhooks/{sim.psa.value}/acme" in found["webhook"].message


@pytest.mark.parametrize(("sim", "secret"), [
    (HaloSimulator, "ACME_HALO_CLIENT_SECRET"),
    (ConnectWiseSimulator, "ACME_CW_PRIVATE_KEY"),
    (AutotaskSimulator, "ACME_AUTOTASK_SECRET"),
])
async def test_wrong_psa_credentials(sim: type[Simulator], secret: str, llm: OpenAITestServer) -> None:
    psa = by_topic(await findings_for(sim(), llm, {secret: "wrong"}))["psa"]
    assert not psa.ok and "credentials are wrong" in psa.fix, psa.line()


async def test_halo_application_without_the_edit_scope(llm: OpenAITestServer) -> None:
    psa = by_topic(await findings_for(HaloSimulator(granted_scopes="read:tickets"), llm))["psa"]
    assert not psa.ok and "edit:tickets" in psa.fix


async def test_unreachable_psa(llm: OpenAITestServer) -> None:
    psa = by_topic(await findings_for(HaloSimulator(), llm, base_url="http://127.0.0.1:9"))["psa"]
    assert not psa.ok and "not reachable" in psa.fix


async def test_llm_key_refused_and_unknown_model(llm: OpenAITestServer) -> None:
    refused = by_topic(await findings_for(HaloSimulator(), llm, key="sk-wrong"))["llm"]
    assert not refused.ok and "env var DOCTOR_KEY" in refused.fix
    unknown = by_topic(await findings_for(HaloSimulator(), llm, model="gpt-9-imaginary"))["llm"]
    assert not unknown.ok and "llm.model" in unknown.fix


def test_placeholder_ids_are_flagged() -> None:
    tenants = TenantsFile.model_validate({"tenants": [{
        "id": "acme", "psa": {"kind": "halo", "base_url": "https://acme.halopsa.com", "client_id": "6b1c...",
                              "client_secret": {"env": "X"}},
        "webhook": {"username": "u", "password": {"env": "X"}}}]})
    found = placeholders(tenants.tenants[0])
    assert len(found) == 1 and "psa.client_id" in found[0].message and not found[0].ok


@pytest.mark.kafka
async def test_kafka_topics_missing_then_present(kafka_bootstrap: str, topic_prefix: str) -> None:
    from autotriage.core.bus.kafka import KafkaBus
    from autotriage.core.bus.topics import Topics

    settings = Settings(bus="kafka", kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix,
                        partitions=1)
    missing = await check_kafka(settings)
    assert not missing.ok and "autotriage topics create" in missing.fix
    bus = KafkaBus(kafka_bootstrap, client_id="doctor-test")
    await bus.start()
    try:
        await bus.ensure_topics(Topics(topic_prefix).specs(1))
    finally:
        await bus.stop()
    assert (await check_kafka(settings)).ok
    down = await check_kafka(Settings(bus="kafka", kafka_bootstrap_servers="127.0.0.1:1"))
    assert not down.ok and "AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS" in down.fix


async def test_azure_deployment_found_and_missing() -> None:
    server = OpenAITestServer(azure_deployments={"triage-prod": "gpt-4o-mini"})
    await server.start()
    try:
        async def llm_finding(deployment: str) -> Finding:
            from autotriage.commands.doctor import check_llm

            tenants = TenantsFile.model_validate({"tenants": [{
                "id": "acme", "psa": {"kind": "halo", "base_url": "http://127.0.0.1:9", "client_id": "app",
                                      "client_secret": {"env": "K"}},
                "webhook": {"username": "u", "password": {"env": "K"}},
                "llm": {"provider": "azure", "model": "gpt-4o-mini", "azure_endpoint": server.base_url,
                        "azure_deployment": deployment, "api_key": {"env": "K"}}}]})
            tenants.resolve_secrets({"K": "azure-key"})
            (finding,) = await check_llm(tenants.tenants[0])
            return finding

        found = await llm_finding("triage-prod")
        assert found.ok and "deployment triage-prod answers" in found.message
        missing = await llm_finding("triage-typo")
        assert not missing.ok and "azure_deployment" in missing.fix
    finally:
        await server.stop()
