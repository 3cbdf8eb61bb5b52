"""``autotriage sandbox`` + ``sandbox send`` + ``outcomes`` + ``report shadow``: a ticket per PSA goes from the
simulator's real signed webhook through all five stages (in-memory bus) to the outcomes audit file."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from autotriage.app import build_host
from autotriage.commands import outcomes as outcomes_cmd
from autotriage.commands.sandbox import PSAS, TENANT_IDS, Sandbox, read_state, send, start_sandbox, stop_sandbox
from autotriage.core.bus.topics import Topics
from autotriage.core.errors import ConfigError
from autotriage.core.service import ServiceHost
from autotriage.core.settings import Settings
from autotriage.core.tenants import load_tenants
from autotriage.outcomes_file import OutcomesFile

FREE = dict.fromkeys(PSAS, 0)


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    running, _ = await start_sandbox(tmp_path / "sandbox", ports=FREE, llm_port=0, ingress="http://127.0.0.1:9")
    yield running
    await stop_sandbox(running)


@pytest_asyncio.fixture
async def pipeline(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[tuple[ServiceHost, Path]]:
    settings = Settings(bus="memory", http_host="127.0.0.1", http_port=0, outcomes_file=tmp_path / "outcomes.jsonl")
    host = build_host(settings, load_tenants(sandbox.tenants_file), ("ingress", "normalizer", "taxonomy-cache",
                                                                      "classifier", "writer"))
    assert settings.outcomes_file is not None
    host.components.insert(0, OutcomesFile(host.bus, Topics(settings.topic_prefix), settings.outcomes_file))
    await host.start()
    yield host, settings.outcomes_file
    await host.stop()


def read_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_lines(path: Path, count: int, timeout_s: float = 30) -> list[dict[str, object]]:
    for _ in range(int(timeout_s * 10)):
        lines = read_lines(path)
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path}: fewer than {count} outcomes after {timeout_s} s")


def test_sandbox_files(sandbox: Sandbox) -> None:
    tenants = load_tenants(sandbox.tenants_file)  # every secret resolves from the written files
    assert [t.id for t in tenants.tenants] == [TENANT_IDS[p] for p in PSAS]
    state = read_state(sandbox.folder)
    for psa in PSAS:
        sim = sandbox.sims[psa]
        assert state["simulators"][psa]["url"] == sim.base_url
        assert len(sim.new_tickets) == 40
        assert all(sim.category_of(t) == () for t in sim.new_tickets)  # new tickets: open, uncategorized
        assert sim.writes_total == 0
    assert "inline" not in sandbox.tenants_file.read_text()


async def test_one_ticket_per_psa_reaches_an_outcome(sandbox: Sandbox, pipeline: tuple[ServiceHost, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    host, outcomes_file = pipeline
    ingress = f"http://127.0.0.1:{host.bound_port}"
    sent = {}
    for psa in PSAS:
        sim = sandbox.sims[psa]
        answer = await send(psa, sim.base_url, TENANT_IDS[psa], ingress)
        assert answer["status"] == 202 and answer["ticket_id"] == sim.new_tickets[0]
        sent[psa] = answer["ticket_id"]
    text = await send("halo", sandbox.sims["halo"].base_url, "bayside", ingress,
                      text="Printer offline\nThe office printer shows offline since this morning.", scope=1)
    lines = await wait_lines(outcomes_file, 4)
    by_ticket = {(line["tenant"], line["ticket_id"]): line for line in lines}
    for psa in PSAS:
        outcome = by_ticket[(TENANT_IDS[psa], sent[psa])]
        assert outcome["category"] and 0 < float(str(outcome["confidence"])) <= 1
        assert outcome["action"] in ("applied", "suggested", "shadow", "needs_triage")
    assert by_ticket[("kessler", sent["autotask"])]["action"] == "shadow"
    assert sandbox.sims["autotask"].writes_total == 0  # shadow writes nothing
    assert ("bayside", text["ticket_id"]) in by_ticket

    args = argparse.Namespace(file=outcomes_file, follow=False, json=False, tenant=None)
    settings = Settings(bus="memory")
    assert await outcomes_cmd._show(args, settings, outcomes_cmd.Console(width=80)) == 0
    table = capsys.readouterr().out
    assert all(f"{TENANT_IDS[p]}:{sent[p]}" in table for p in PSAS)
    assert max(len(line) for line in table.splitlines()) <= 80

    args.json, args.tenant = True, "cobalt"
    await outcomes_cmd._show(args, settings, outcomes_cmd.Console())
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["tenant"] for r in records] == ["cobalt"] and "latency_s" in records[0]

    report = outcomes_cmd.shadow_summary(await outcomes_cmd._collect(args, settings), "kessler")
    assert report[0] == "shadow mode for tenant kessler: 1 ticket, nothing written to the PSA"


async def test_send_names_the_fix_when_ingress_is_down(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match=r"cannot reach ingress .* `autotriage run --tenants-file"):
        await send("connectwise", sandbox.sims["connectwise"].base_url, "cobalt", "http://127.0.0.1:9")


async def test_send_names_the_fix_when_the_sandbox_is_down() -> None:
    with pytest.raises(ConfigError, match=r"not reachable .* start `autotriage sandbox` first"):
        await send("halo", "http://127.0.0.1:9", "bayside", "http://127.0.0.1:9")


async def test_send_of_an_unknown_ticket(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="does not exist in the autotask simulator"):
        await send("autotask", sandbox.sims["autotask"].base_url, "kessler", "http://127.0.0.1:9", ticket="1")


def test_send_without_a_sandbox(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="start `autotriage sandbox` first"):
        read_state(tmp_path)


@pytest.mark.kafka
async def test_outcomes_are_read_from_the_kafka_topic(kafka_bootstrap: str, topic_prefix: str) -> None:
    from datetime import UTC, datetime

    from autotriage.core.bus.kafka import KafkaBus
    from autotriage.core.bus.topics import TICKETS_OUTCOMES
    from autotriage.core.events import OutcomeRecorded, encode
    from autotriage.core.models import Action

    topics = Topics(topic_prefix)
    bus = KafkaBus(kafka_bootstrap, client_id="outcomes-test")
    await bus.start()
    try:
        await bus.ensure_topics(topics.specs(1))
        for n in range(3):
            record = OutcomeRecorded(tenant="acme" if n else "globex", psa="halo", ticket_id=str(100 + n),
                                     occurred_at=datetime.now(UTC), action=Action.APPLIED, reason="applied",
                                     category="Network > VPN", confidence=0.9)
            await (await bus.producer().send(topics.name(TICKETS_OUTCOMES), encode(record), key=record.key))
    finally:
        await bus.stop()
    settings = Settings(bus="kafka", kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    args = argparse.Namespace(file=None, follow=False, json=False, tenant="acme")
    read = [o async for o in outcomes_cmd.source_of(args, settings) if o.tenant == "acme"]
    assert [o.ticket_id for o in read] == ["101", "102"]


async def test_outcomes_file_that_cannot_be_written(tmp_path: Path) -> None:
    from autotriage.core.bus.memory import MemoryBus

    blocked = tmp_path / "file"
    blocked.write_text("")
    sink = OutcomesFile(MemoryBus(), Topics("autotriage."), blocked / "outcomes.jsonl")
    with pytest.raises(ConfigError, match="AUTOTRIAGE_OUTCOMES_FILE to a writable path"):
        await sink.start()


async def test_send_to_a_tenant_ingress_does_not_know(sandbox: Sandbox, pipeline: tuple[ServiceHost, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from autotriage.commands.sandbox import _send_command

    host, _ = pipeline
    args = argparse.Namespace(psa="halo", dir=sandbox.folder, sim_url=None, tenant="nobody", ticket=None, text=None,
                              scope=None, ingress=f"http://127.0.0.1:{host.bound_port}")
    assert await asyncio.to_thread(_send_command, args) == 1
    captured = capsys.readouterr()
    assert "REFUSED" in captured.out and "ingress does not know tenant nobody (HTTP 404)" in captured.err


@pytest.mark.parametrize("psa", ["halo", "autotask"])
async def test_send_as_a_real_tenant_uses_its_credentials(sandbox: Sandbox, pipeline: tuple[ServiceHost, Path],
                                                          psa: str) -> None:
    """``sandbox send --tenants-file``: the webhook of an existing ticket, signed with the tenant's own
    credentials, is accepted by ingress and reaches an outcome; a wrong secret is refused."""
    from autotriage.commands.sandbox import send_as_tenant

    host, outcomes_file = pipeline
    tenants = load_tenants(sandbox.tenants_file)
    tenant = tenants.get(TENANT_IDS[psa])
    assert tenant is not None
    ticket = sandbox.sims[psa].new_tickets[3]
    ingress = f"http://127.0.0.1:{host.bound_port}"
    assert await send_as_tenant(tenant, ingress, ticket) == 202
    lines = await wait_lines(outcomes_file, 1)
    assert lines[0]["ticket_id"] == ticket
    wrong = tenant.model_copy(update={"webhook": tenant.webhook.model_copy(update={
        "password": None if psa == "autotask" else _ref("wrong"), "secret": _ref("wrong") if psa == "autotask"
        else None})})
    assert await send_as_tenant(wrong, ingress, ticket) == 401


def _ref(value: str) -> object:
    from autotriage.core.secrets import SecretRef

    ref = SecretRef(env="WRONG_SECRET")
    ref.resolve({"WRONG_SECRET": value})
    return ref


async def test_send_as_a_connectwise_tenant_explains_why_not(sandbox: Sandbox) -> None:
    from autotriage.commands.sandbox import send_as_tenant

    tenant = load_tenants(sandbox.tenants_file).get("cobalt")
    assert tenant is not None
    with pytest.raises(ConfigError, match="create a ticket in ConnectWise"):
        await send_as_tenant(tenant, "http://127.0.0.1:9", "7201")
