"""Corporate egress: PSA, signing-key and LLM calls through a real HTTP proxy (proxy.py, its own process) to
HTTPS servers whose certificates come from a private CA (trustme), trusted only through the CA bundle.

Each call must go through the proxy (its access log shows the CONNECT), succeed with the tenant's
``ca_bundle`` or the process-wide one, fail with a certificate error without it, and go direct for a host in
``NO_PROXY``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from autotriage.core import egress
from autotriage.core.errors import TransientError, WebhookRejected
from autotriage.core.tenants import LLMSettings, Tenant
from autotriage.llm.client import make_openai_client
from autotriage.psa.connectwise import ConnectWiseClient
from autotriage.psa.halo import HaloClient
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import OpenAITestServer
from tests.support.tickets import halo_sample

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
              "ALL_PROXY", "all_proxy")


@dataclass
class Proxy:
    url: str
    log: Path

    def connects(self) -> list[str]:
        """``host:port`` of every CONNECT tunnel the proxy logged (logged when the tunnel closes)."""
        if not self.log.exists():
            return []
        return [line.split(" - CONNECT ")[1].split(" ")[0] for line in self.log.read_text().splitlines()
                if " - CONNECT " in line]

    async def wait_connect(self, target: str, timeout: float = 10.0) -> bool:
        for _ in range(int(timeout / 0.1)):
            if target in self.connects():
                return True
            await asyncio.sleep(0.1)
        return False


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("proxy")
    port_file, log = folder / "port", folder / "access.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
         "--num-acceptors", "1", "--num-workers", "1", "--log-file", str(log), "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, "proxy.py exited"
            assert time.monotonic() < deadline, "proxy.py did not start"
            time.sleep(0.1)
        port = int(port_file.read_text())
        while True:  # listening
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield Proxy(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Servers:
    ca_file: Path
    halo: HaloSimulator
    cw: ConnectWiseSimulator
    llm: OpenAITestServer


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    ca = trustme.CA(organization_name="Example Corp Private CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    halo = HaloSimulator(halo_sample(), seed_history=False)
    cw = ConnectWiseSimulator(seed_history=False)
    llm = OpenAITestServer()
    await halo.start(ssl_context=server_ctx)
    await cw.start(ssl_context=server_ctx)
    await llm.start(ssl_context=server_ctx)
    try:
        yield Servers(ca_file, halo, cw, llm)
    finally:
        egress.configure(None)
        for server in (halo, cw, llm):
            await server.stop()


@pytest.fixture
def through(proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> Proxy:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    return proxy


def halo_tenant(servers: Servers, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Tenant:
    entry, env = servers.halo.tenant_config("halo-corp")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Tenant.model_validate({**entry, **extra})


def cw_tenant(servers: Servers, monkeypatch: pytest.MonkeyPatch, *, public_keys_only: bool = False,
              **extra: Any) -> Tenant:
    entry, env = servers.cw.tenant_config("cw-corp")
    entry["psa"]["scheme"] = "https"
    entry["psa"]["allow_private_key_url"] = not public_keys_only
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Tenant.model_validate({**entry, **extra})


def port_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


async def test_psa_key_and_llm_calls_go_through_the_proxy_with_the_tenant_ca_bundle(
    servers: Servers, through: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    halo = HaloClient(halo_tenant(servers, monkeypatch, ca_bundle=str(servers.ca_file)))
    cw = ConnectWiseClient(cw_tenant(servers, monkeypatch, ca_bundle=str(servers.ca_file)))
    try:
        tid = servers.halo.create_ticket("Outlook asks for the password", "Since the update", 1)
        assert (await halo.fetch_ticket(tid)).summary == "Outlook asks for the password"
        cw_tid = servers.cw.create_ticket("Laptop will not boot", "Black screen", 12)
        body = json.dumps(servers.cw.webhook_payload(cw_tid)).encode()
        await cw.verify_webhook({"x-content-signature": servers.cw.sign(body)}, body)  # the key fetch
        assert servers.cw.requests["callback_key"] == 1
        assert (await cw.fetch_ticket(cw_tid)).summary == "Laptop will not boot"
    finally:
        await halo.close()
        await cw.close()
    for provider in ("openai", "azure"):
        settings = LLMSettings(provider=provider, base_url=f"{servers.llm.base_url}/v1" if provider == "openai"
                               else f"{servers.llm.base_url}/openai/v1/")
        client = make_openai_client(settings, servers.ca_file)
        try:
            models = await client.models.list()
            assert models.data
        finally:
            await client.close()
    azure = make_openai_client(LLMSettings(provider="azure", azure_endpoint=servers.llm.base_url,
                                           azure_deployment="gpt-4o-mini"), servers.ca_file)
    try:  # AsyncAzureOpenAI on /openai/deployments/{deployment}/chat/completions
        answer = await azure.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
    finally:
        await azure.close()
    for url in (servers.halo.base_url, servers.cw.base_url, servers.llm.base_url):
        assert await through.wait_connect(port_of(url)), (url, through.connects())


async def test_a_key_host_on_a_private_address_is_refused_through_the_proxy_too(
    servers: Servers, through: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = ConnectWiseClient(cw_tenant(servers, monkeypatch, public_keys_only=True, ca_bundle=str(servers.ca_file)))
    body = json.dumps(servers.cw.webhook_payload(servers.cw.create_ticket("Disk full", "C:", 12))).encode()
    try:
        with pytest.raises(WebhookRejected) as info:
            await cw.verify_webhook({"x-content-signature": servers.cw.sign(body)}, body)
    finally:
        await cw.close()
    assert (info.value.status, info.value.reason) == (401, "key_url_refused"), info.value.message
    assert "non-public" in info.value.message
    assert servers.cw.requests["callback_key"] == 0


async def test_process_wide_ca_bundle_applies_when_the_tenant_has_none(
    servers: Servers, through: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    egress.configure(servers.ca_file)
    halo = HaloClient(halo_tenant(servers, monkeypatch))
    try:
        tid = servers.halo.create_ticket("Printer jammed", "Tray 2", 1)
        assert (await halo.fetch_ticket(tid)).id == tid
    finally:
        await halo.close()
    client = make_openai_client(LLMSettings(base_url=f"{servers.llm.base_url}/v1"))
    try:
        assert (await client.models.list()).data
    finally:
        await client.close()


async def test_without_the_ca_bundle_the_private_ca_is_not_trusted(
    servers: Servers, through: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    halo = HaloClient(halo_tenant(servers, monkeypatch))
    halo.http._attempts = 1
    try:
        with pytest.raises(TransientError) as info:
            await halo.fetch_ticket(servers.halo.create_ticket("VPN drops", "hourly", 1))
        assert "certificate" in info.value.message.lower(), info.value.message
    finally:
        await halo.close()


async def test_no_proxy_hosts_are_reached_directly(
    servers: Servers, through: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert egress.proxy_for(servers.halo.base_url) is None
    before = through.connects().count(port_of(servers.halo.base_url))
    halo = HaloClient(halo_tenant(servers, monkeypatch, ca_bundle=str(servers.ca_file)))
    try:
        tid = servers.halo.create_ticket("Mouse broken", "left button", 1)
        assert (await halo.fetch_ticket(tid)).id == tid
    finally:
        await halo.close()
    await asyncio.sleep(0.5)
    assert through.connects().count(port_of(servers.halo.base_url)) == before


def test_no_proxy_matching() -> None:
    assert egress.bypassed("psa.corp.example", ".corp.example")
    assert egress.bypassed("psa.corp.example", "corp.example:443")
    assert egress.bypassed("anything", "*")
    assert not egress.bypassed("api.openai.com", "corp.example,localhost")
    assert not egress.bypassed("notcorp.example", "corp.example")
