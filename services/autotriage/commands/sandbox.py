"""``autotriage sandbox``: the three PSA simulators and the OpenAI test server, ready to play with by hand.

``autotriage sandbox`` starts them on fixed ports, seeds every simulator with its bundled closed history
(for ``learn``) and its bundled new, uncategorized tickets, writes a ready tenants file (secrets as files
next to it) and a state file, prints the credentials, and serves until Ctrl-C.
``autotriage sandbox send --psa P [--ticket ID | --text ...]`` asks the running simulator to fire its real,
signed new-ticket webhook at a running ingress (``autotriage run --tenants-file sandbox/tenants.yaml``).
``autotriage sandbox --psa P`` runs one simulator alone (as docker-compose does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import yaml

from autotriage.core.errors import ConfigError
from autotriage.core.models import PSAKind
from autotriage.core.settings import Settings
from autotriage.core.tenants import Tenant, load_tenants
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.common import CONTROL, Simulator, load_sample
from autotriage.sandbox.halo import HaloSimulator
from autotriage.sandbox.openai_server import OpenAITestServer
from autotriage.sandbox.registry import make_simulator

if TYPE_CHECKING:
    from autotriage.sandbox.openai_server import OpenAITestServer

PSAS = ("halo", "connectwise", "autotask")
TENANT_IDS = {"halo": "bayside", "connectwise": "cobalt", "autotask": "kessler"}
#: The policy mode of each sandbox tenant: two write, one shows what shadow mode records.
MODES = {"halo": "apply", "connectwise": "apply", "autotask": "shadow"}
PORTS = {"halo": 8081, "connectwise": 8082, "autotask": 8083}
LLM_PORT = 8089
DEFAULT_INGRESS = "http://127.0.0.1:8080"
#: Moves every sandbox port: the simulators on BASE..BASE+2, the test LLM on BASE+8 (default 8081).
PORT_ENV = "AUTOTRIAGE_SANDBOX_PORT"


def ports_from_env() -> tuple[dict[str, int], int]:
    """The simulators' ports and the test LLM's port (``AUTOTRIAGE_SANDBOX_PORT`` moves them all)."""
    raw = os.environ.get(PORT_ENV)
    if not raw:
        return dict(PORTS), LLM_PORT
    try:
        base = int(raw)
    except ValueError:
        raise ConfigError(f"{PORT_ENV}={raw!r} is not a port number: set it to e.g. 18081") from None
    return {psa: base + n for n, psa in enumerate(PSAS)}, base + 8


def default_ingress() -> str:
    """Where ``autotriage run`` listens: port ``AUTOTRIAGE_HTTP_PORT``, else 8080."""
    return f"http://127.0.0.1:{os.environ.get('AUTOTRIAGE_HTTP_PORT') or 8080}"
STATE_FILE = "state.json"


@dataclass
class Sandbox:
    """A running sandbox: simulators by PSA, the LLM test server's URL and where its files are."""

    sims: dict[str, Simulator]
    llm: OpenAITestServer
    folder: Path

    @property
    def llm_url(self) -> str:
        """Base URL of the OpenAI test server."""
        return self.llm.base_url

    @property
    def tenants_file(self) -> Path:
        """The ready tenants file."""
        return self.folder / "tenants.yaml"


def _secret_file(folder: Path, name: str, value: str) -> dict[str, str]:
    path = folder / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return {"file": str(path.resolve())}


def _as_files(value: Any, env: dict[str, str], folder: Path) -> Any:
    """Turn ``{env: NAME}`` references of a simulator's tenant entry into ``{file: ...}`` references."""
    if isinstance(value, dict):
        if set(value) == {"env"} and value["env"] in env:
            return _secret_file(folder, value["env"], env[value["env"]])
        return {k: _as_files(v, env, folder) for k, v in value.items()}
    return value


def write_files(sandbox: Sandbox, ingress: str) -> dict[str, dict[str, str]]:
    """Write ``tenants.yaml``, ``secrets/*`` and ``state.json``; return the credentials to print by PSA."""
    entries = []
    credentials: dict[str, dict[str, str]] = {}
    api_key = _secret_file(sandbox.folder, "SANDBOX_OPENAI_API_KEY", "sk-sandbox")
    for psa, sim in sandbox.sims.items():
        tenant = TENANT_IDS[psa]
        entry, env = sim.tenant_config(tenant)
        entry = _as_files(entry, env, sandbox.folder)
        entry["name"] = f"{tenant} (simulated {psa})"
        entry["llm"] = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{sandbox.llm_url}/v1",
                        "api_key": dict(api_key), "max_retries": 1, "timeout_s": 10}
        entry["policy"] = {"mode": MODES[psa], "apply_threshold": 0.7, "suggest_threshold": 0.5}
        entries.append(entry)
        plain = {f"{block}.{key}": str(value) for block in ("psa", "webhook")
                 for key, value in entry.get(block, {}).items()
                 if key in ("client_id", "company", "public_key", "username")}
        credentials[psa] = {"tenant": tenant, "api": sim.base_url, "webhook url": f"{ingress}/webhooks/{psa}/{tenant}",
                            **plain, **env}
    header = ("# Written by `autotriage sandbox`: tenants pointing at the PSA simulators and the OpenAI test "
              "server.\n# Secrets are files under secrets/ next to this file. Validate: autotriage doctor "
              "--tenants-file <this file>\n")
    sandbox.tenants_file.write_text(header + yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
    state = {
        "ingress": ingress,
        "llm": sandbox.llm_url,
        "tenants_file": str(sandbox.tenants_file.resolve()),
        "simulators": {psa: {"url": sim.base_url, "tenant": TENANT_IDS[psa], "new_tickets": sim.new_tickets,
                             "scope": int(load_sample(psa).scopes[0]["id"])}
                       for psa, sim in sandbox.sims.items()},
    }
    (sandbox.folder / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    return credentials


def _make_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)


async def start_sandbox(folder: Path, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
                        llm_port: int = LLM_PORT, ingress: str = DEFAULT_INGRESS
                        ) -> tuple[Sandbox, dict[str, dict[str, str]]]:
    """Start the three simulators (seeded with history and new tickets) and the OpenAI test server."""
    ports = PORTS if ports is None else ports
    _make_folder(folder)
    llm = OpenAITestServer()
    sims: dict[str, Simulator] = {}
    try:
        await llm.start(host, llm_port)
        for psa in PSAS:
            sim = make_simulator(psa)
            sims[psa] = sim
            await sim.start(host, ports[psa])
            sim.seed_new(load_sample(psa).new)
    except BaseException:
        for sim in sims.values():
            await sim.stop()
        await llm.stop()
        raise
    sandbox = Sandbox(sims, llm, folder)
    return sandbox, write_files(sandbox, ingress)


async def stop_sandbox(sandbox: Sandbox) -> None:
    """Stop every server of the sandbox."""
    for sim in sandbox.sims.values():
        await sim.stop()
    await sandbox.llm.stop()


def describe(sandbox: Sandbox, credentials: dict[str, dict[str, str]], ingress: str) -> str:
    """What the user needs: URLs, credentials, the tenants file and the next commands."""
    lines = [f"autotriage sandbox: simulated PSAs and a test LLM (for try-outs, never production); files in "
             f"{sandbox.folder}/", f"  OpenAI test server  {sandbox.llm_url}/v1  (any API key)"]
    for psa, creds in credentials.items():
        sim = sandbox.sims[psa]
        lines.append(f"  {psa:11s} {creds['api']}  tenant {creds['tenant']} (mode {MODES[psa]}), "
                     f"{len(sim.new_tickets)} new tickets {sim.new_tickets[0]}..{sim.new_tickets[-1]}")
        lines.append(f"{'':14s}webhook -> {creds['webhook url']}")
        for name, value in creds.items():
            if name not in ("tenant", "api", "webhook url"):
                lines.append(f"{'':14s}{name}={value}")
    lines += [
        f"  tenants file        {sandbox.tenants_file}",
        "next, in another terminal (same directory):",
        f"  autotriage run --tenants-file {sandbox.tenants_file}",
        "  autotriage sandbox send --psa halo        # then: autotriage outcomes",
        "Ctrl-C stops the sandbox.",
    ]
    return "\n".join(lines)


async def _serve_all(args: argparse.Namespace) -> int:
    ports, llm_port = ports_from_env()
    ingress = (args.ingress or default_ingress()).rstrip("/")
    sandbox, credentials = await start_sandbox(args.dir, args.host, ports, llm_port, ingress)
    print(describe(sandbox, credentials, ingress), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await stop_sandbox(sandbox)
    return 0


async def _serve_one(psa: str, host: str, port: int) -> int:
    sim = make_simulator(psa)
    url = await sim.start(host, port)
    sim.seed_new(load_sample(psa).new)
    print(f"{psa} simulator on {url} (simulated PSA: demo and tests only); {len(sim.new_tickets)} new tickets "
          f"{sim.new_tickets[0]}..{sim.new_tickets[-1]}", flush=True)
    await asyncio.Event().wait()
    return 0


# --- sandbox send ----------------------------------------------------------------------------------------
def read_state(folder: Path) -> dict[str, Any]:
    """The state file of a running sandbox."""
    path = folder / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no sandbox state in {path}: start `autotriage sandbox` first (or pass --dir, or "
                          "--sim-url and --tenant)") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not a sandbox state file ({exc}): restart `autotriage sandbox`") from exc
    return state


async def send(psa: str, sim_url: str, tenant: str, ingress: str, *, ticket: str | None = None,
               text: str | None = None, scope: int | None = None) -> dict[str, Any]:
    """Create the ticket (``text``) or pick it (``ticket``, else the next seeded one) in the running simulator
    and have the simulator fire its signed new-ticket webhook at ``ingress``; return the simulator's answer."""
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if text is not None:
                summary, _, details = text.strip().partition("\n")
                body = {"summary": summary[:200] or "(no subject)", "details": details or text, "scope": scope}
                async with session.post(f"{sim_url}{CONTROL}/tickets", json=body) as resp:
                    ticket = str((await resp.json())["id"])
            payload = {"ingress": ingress, "tenant": tenant, "ticket_id": ticket}
            async with session.post(f"{sim_url}{CONTROL}/webhooks", json=payload) as resp:
                answer: dict[str, Any] = await resp.json()
                if resp.status == 502:
                    raise ConfigError(f"{answer['error']}: start the pipeline with `autotriage run --tenants-file "
                                      "sandbox/tenants.yaml` (or pass --ingress URL)")
                if resp.status >= 400:
                    raise ConfigError(str(answer.get("error", f"the simulator answered HTTP {resp.status}")))
                return answer
    except aiohttp.ClientConnectionError as exc:
        raise ConfigError(f"the {psa} simulator at {sim_url} is not reachable ({exc}): start `autotriage "
                          "sandbox` first") from exc


async def send_as_tenant(tenant: Tenant, ingress: str, ticket_id: str) -> int:
    """Fire a new-ticket webhook for an existing ticket of a *real* tenant, signed with that tenant's webhook
    credentials from its tenants file, at ``ingress``: checks ingress, the URL and the credentials before the
    PSA's own webhook is configured. ConnectWise signs callbacks with a key only ConnectWise serves, so it
    cannot be imitated: create a ticket in ConnectWise instead."""
    if tenant.psa.kind is PSAKind.HALO:
        if tenant.webhook.username is None or tenant.webhook.password is None:
            raise ConfigError(f"tenant {tenant.id} has no webhook.username/password")
        halo = HaloSimulator(webhook_user=tenant.webhook.username, webhook_password=tenant.webhook.password.get(),
                             seed_history=False)
        return await halo.deliver(ingress, tenant.id, [halo.webhook_payload(ticket_id, "event")])
    if tenant.psa.kind is PSAKind.AUTOTASK:
        if tenant.webhook.secret is None:
            raise ConfigError(f"tenant {tenant.id} has no webhook.secret")
        autotask = AutotaskSimulator(webhook_secret=tenant.webhook.secret.get(), seed_history=False)
        autotask.tickets[int(ticket_id)] = {"id": int(ticket_id), "ticketNumber": "", "queueID": None, "title": ""}
        delivery = autotask.signed_delivery(autotask.webhook_payload(ticket_id))
        return await autotask.deliver(ingress, tenant.id, [delivery])
    raise ConfigError("a ConnectWise callback is signed with a key only ConnectWise serves, so it cannot be sent "
                      "from here: create a ticket in ConnectWise and watch `autotriage outcomes`")


def _send_as_tenant_command(args: argparse.Namespace) -> int:
    tenant = load_tenants(args.tenants_file).get(args.tenant or "")
    if tenant is None or tenant.psa.kind.value != args.psa:
        raise ConfigError(f"--tenant must name a {args.psa} tenant of {args.tenants_file}")
    if not args.ticket or not args.ingress:
        raise ConfigError("with --tenants-file, pass --ticket <id of a ticket in the PSA> and --ingress <URL>")
    ingress = args.ingress.rstrip("/")
    try:
        status = asyncio.run(send_as_tenant(tenant, ingress, args.ticket))
    except aiohttp.ClientConnectionError as exc:
        raise ConfigError(f"cannot reach ingress at {ingress} ({exc}): check the URL, DNS and TLS") from exc
    print(f"{args.psa} ticket {args.ticket} of tenant {tenant.id}: webhook {ingress}/webhooks/{args.psa}/{tenant.id} "
          f"-> HTTP {status} ({'accepted' if status < 300 else 'REFUSED'})")
    return 0 if status < 300 else 1


def _send_command(args: argparse.Namespace) -> int:
    if getattr(args, "tenants_file", None) is not None:
        return _send_as_tenant_command(args)
    state: dict[str, Any] = {}
    if args.sim_url is None or args.tenant is None:
        state = read_state(args.dir)
    sim_state = state.get("simulators", {}).get(args.psa, {})
    sim_url = args.sim_url or sim_state.get("url")
    tenant = args.tenant or sim_state.get("tenant")
    if not sim_url or not tenant:
        raise ConfigError(f"the sandbox in {args.dir} runs no {args.psa} simulator: restart `autotriage sandbox`")
    ingress = (args.ingress or state.get("ingress") or default_ingress()).rstrip("/")
    scope = args.scope if args.scope is not None else sim_state.get("scope", 1)
    answer = asyncio.run(send(args.psa, sim_url, tenant, ingress, ticket=args.ticket, text=args.text, scope=scope))
    status = int(answer["status"])
    verdict = "accepted" if status < 300 else "REFUSED"
    print(f"{args.psa} ticket {answer['ticket_id']} \"{answer.get('summary', '')}\": webhook "
          f"{ingress}/webhooks/{args.psa}/{tenant} -> HTTP {status} ({verdict})")
    if status >= 300:
        tenants_file = state.get("tenants_file", "the sandbox's tenants file")
        cause = {404: f"ingress does not know tenant {tenant}", 401: "ingress refused the webhook's credentials",
                 403: "ingress refused the webhook's signature"}.get(status, "ingress refused the webhook")
        print(f"autotriage: {cause} (HTTP {status}): run ingress with {tenants_file} "
              f"(`autotriage run --tenants-file {tenants_file}`)", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``sandbox`` and ``sandbox send``."""
    if getattr(args, "sandbox_action", None) == "send":
        return _send_command(args)
    if args.psa is not None:
        return asyncio.run(_serve_one(args.psa, args.host, args.sim_port or ports_from_env()[0][args.psa]))
    return asyncio.run(_serve_all(args))
