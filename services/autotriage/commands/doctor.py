"""``autotriage doctor``: the tenants file and settings, and with ``--connect`` every outside dependency: each
tenant's PSA credentials and permissions, its LLM key and model/deployment, webhook hints and Kafka. One line
per finding; a failed finding names the fix. Exit code 1 when anything failed."""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from autotriage.core.bus.topics import Topics
from autotriage.core.errors import AutotriageError, ConfigError
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, TenantsFile, load_tenants
from autotriage.llm.client import make_openai_client, request_model
from autotriage.psa.registry import make_client

PLACEHOLDER = re.compile(r"\.\.\.|<[^>]*>|\bchangeme\b|\byour[-_ ]|\bxxx+\b|\bTODO\b", re.IGNORECASE)
HTTP_FIXES = {
    401: "the credentials are wrong or expired: check the ids and the secret the tenants file references",
    403: "the API user lacks a permission: see docs/psa/<psa>.md, 'Permissions'",
    404: "the URL, company or zone is wrong (or the object is missing): check the psa connection settings",
}


@dataclass
class Finding:
    """One line of the doctor's output."""

    ok: bool
    tenant: str
    topic: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """``ok``/``FAIL``, tenant, what, and the fix."""
        text = f"{'ok  ' if self.ok else 'FAIL'} {self.tenant:14s} {self.topic:8s} {self.message}"
        return text + (f" -> fix: {self.fix}" if self.fix else "")


def placeholders(tenant: Tenant) -> list[Finding]:
    """Connection values that are still the example's placeholders (``6b1c...``, ``<your-id>``)."""
    found = []
    plain: dict[str, Any] = tenant.psa.model_dump(mode="json", exclude_none=True)
    for key, value in plain.items():
        if isinstance(value, str) and PLACEHOLDER.search(value):
            found.append(Finding(False, tenant.id, "config", f"psa.{key} looks like a placeholder ({value!r})",
                                 f"replace it with the real value from the {tenant.psa.kind.value} admin screens"))
    return found


def static_checks(tenants: TenantsFile) -> list[Finding]:
    """What needs no network: schema (already validated), secrets (resolved), local model files, placeholders."""
    findings: list[Finding] = []
    for tenant in tenants.tenants:
        if tenant.llm.local_model_path is not None:  # a missing or foreign model fails here, not per ticket
            from autotriage.local.store import read_meta  # noqa: PLC0415 - optional extra `local`

            read_meta(tenant.llm.local_model_path)
        findings.extend(placeholders(tenant))
        findings.append(Finding(True, tenant.id, "config", f"{tenant.psa.kind.value}, llm={tenant.llm.provider}:"
                                f"{tenant.llm.model}, mode={tenant.policy.mode}, secrets resolve"))
    return findings


def _fix_for(exc: AutotriageError, psa: str) -> str:
    if "invalid_scope" in exc.message:
        return ("the Halo API application does not grant the scopes autotriage asks for (read:tickets "
                "edit:tickets): tick them in Configuration > Integrations > Halo API > your application")
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status in HTTP_FIXES:
        return HTTP_FIXES[status].replace("<psa>", psa)
    if exc.reason.startswith("psa_connection") or exc.reason.startswith("psa_timeout"):
        return "the PSA is not reachable from here: check base_url / site / zone_url, DNS, proxy and firewall"
    return "see docs/psa/" + psa + ".md, 'Troubleshooting'"


async def check_psa(tenant: Tenant) -> list[Finding]:
    """Sign in and read one closed ticket (Halo: the token also proves the edit scope); read the taxonomy of
    every scope named in ``policy.scopes``."""
    psa = tenant.psa.kind.value
    client = make_client(tenant)
    findings: list[Finding] = []
    try:
        try:
            read = 0
            async for _ in client.history(limit=1):
                read += 1
                break
            findings.append(Finding(True, tenant.id, "psa", f"signed in to {psa}, read access to tickets ok"
                                    + ("" if read else " (no closed ticket to read yet)")))
        except AutotriageError as exc:
            return [Finding(False, tenant.id, "psa", exc.message, _fix_for(exc, psa))]
        for scope in tenant.policy.scopes:
            try:
                taxonomy = await client.fetch_taxonomy(scope)
                findings.append(Finding(True, tenant.id, "psa", f"scope {scope}: {len(taxonomy.candidates)} "
                                        "active categories"))
            except AutotriageError as exc:
                findings.append(Finding(False, tenant.id, "psa", f"scope {scope}: {exc.message}",
                                        "check the scope id in policy.scopes (board / queue / ticket type id)"))
    finally:
        await client.close()
    return findings


async def check_llm(tenant: Tenant) -> list[Finding]:
    """OpenAI: the key lists models and the model is among them. Azure: a one-token request to the deployment."""
    settings = tenant.llm
    if settings.provider == "local":
        return [Finding(True, tenant.id, "llm", f"local model {settings.local_model_path} (no API)")]
    client = make_openai_client(settings)
    try:
        if settings.provider == "openai":
            models = [m.id async for m in client.models.list()]
            if settings.model not in models:
                return [Finding(False, tenant.id, "llm", f"the key works but model {settings.model!r} is not "
                                "offered", "choose a model the account has access to (llm.model)")]
            return [Finding(True, tenant.id, "llm", f"key accepted, model {settings.model} available")]
        try:
            await client.chat.completions.create(model=request_model(settings), max_completion_tokens=16,
                                                 messages=[{"role": "user", "content": "Answer with: ok"}])
        except openai.BadRequestError as exc:  # the deployment exists and the key works; the probe was refused
            return [Finding(True, tenant.id, "llm", f"deployment {request_model(settings)} answers (probe refused: "
                            f"{exc.message[:80]})")]
        return [Finding(True, tenant.id, "llm", f"deployment {request_model(settings)} answers")]
    except openai.AuthenticationError:
        return [Finding(False, tenant.id, "llm", "the API key was refused (401)",
                        f"check the key that llm.api_key references ({_describe(tenant)})")]
    except openai.NotFoundError as exc:
        return [Finding(False, tenant.id, "llm", f"not found (404): {exc.message[:120]}",
                        "check llm.azure_deployment / llm.model and the endpoint")]
    except openai.APIConnectionError as exc:
        return [Finding(False, tenant.id, "llm", f"not reachable ({exc.message})",
                        "check llm.base_url / azure_endpoint, proxy and firewall")]
    except openai.APIStatusError as exc:
        return [Finding(False, tenant.id, "llm", f"HTTP {exc.status_code}: {exc.message[:120]}",
                        "check the account's quota and the model settings")]
    finally:
        await client.close()


def _describe(tenant: Tenant) -> str:
    return tenant.llm.api_key.describe() if tenant.llm.api_key else "none set"


def webhook_hints(tenant: Tenant, public_url: str | None) -> list[Finding]:
    """Where the PSA must send its webhook and which credential it must carry."""
    psa = tenant.psa.kind.value
    url = f"{public_url.rstrip('/') if public_url else 'https://<your-host>'}/webhooks/{psa}/{tenant.id}"
    auth = {"halo": "Basic auth with webhook.username / webhook.password",
            "connectwise": "signed by ConnectWise (callback key), nothing to set",
            "autotask": "signed with webhook.secret (the webhook's secret key)"}[psa]
    return [Finding(True, tenant.id, "webhook", f"point the {psa} new-ticket webhook at {url} ({auth})")]


async def check_public_url(public_url: str) -> Finding:
    """The ingress answers ``/livez`` at the public URL the PSAs call."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                session.get(f"{public_url.rstrip('/')}/livez") as resp:
            if resp.status == 200:
                return Finding(True, "-", "webhook", f"{public_url}/livez answers 200: PSAs can reach ingress")
            return Finding(False, "-", "webhook", f"{public_url}/livez answered HTTP {resp.status}",
                           "route only /webhooks and /livez of the public host to the ingress service")
    except (OSError, aiohttp.ClientError) as exc:
        return Finding(False, "-", "webhook", f"{public_url} is not reachable from here ({exc})",
                       "check DNS, TLS and the ingress controller; the PSA must reach this URL")


async def check_kafka(settings: Settings) -> Finding:
    """The broker answers and every autotriage topic exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=8000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
    except (KafkaError, OSError) as exc:
        return Finding(False, "-", "kafka", f"{settings.kafka_bootstrap_servers} not reachable ({exc})",
                       "start the broker or set AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS / --kafka")
    finally:
        await admin.close()
    wanted = [spec.name for spec in Topics.of(settings).specs(settings.partitions)]
    missing = [name for name in wanted if name not in existing]
    if missing:
        return Finding(False, "-", "kafka", f"{len(missing)} topic(s) missing, e.g. {missing[0]}",
                       "run `autotriage topics create --partitions N` once")
    return Finding(True, "-", "kafka", f"{settings.kafka_bootstrap_servers}: all {len(wanted)} topics exist")


async def connect_checks(tenants: TenantsFile, settings: Settings, public_url: str | None) -> list[Finding]:
    """Every network check, tenants in parallel."""
    async def one(tenant: Tenant) -> list[Finding]:
        psa, llm = await asyncio.gather(check_psa(tenant), check_llm(tenant))
        return psa + llm + webhook_hints(tenant, public_url)

    findings = [f for group in await asyncio.gather(*(one(t) for t in tenants.tenants)) for f in group]
    if public_url:
        findings.append(await check_public_url(public_url))
    if settings.bus == "kafka":
        findings.append(await check_kafka(settings))
    else:
        findings.append(Finding(True, "-", "kafka", "in-memory bus (AUTOTRIAGE_BUS=memory): no broker needed"))
    return findings


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``doctor [--connect]``."""
    tenants = load_tenants(settings.tenants_file)
    if not tenants.tenants:
        raise ConfigError(f"{settings.tenants_file} lists no tenants: add one (see docs/configuration.md)")
    findings = static_checks(tenants)
    if args.connect:
        findings += asyncio.run(connect_checks(tenants, settings, args.public_url))
    for finding in findings:
        print(finding.line())
    failed = sum(not f.ok for f in findings)
    if failed:
        print(f"{failed} problem(s) found")
    return 1 if failed else 0
