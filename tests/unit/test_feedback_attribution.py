"""Who changed autotriage's category, from each PSA's history as the simulators record it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from autotriage.core.tenants import TenantsFile
from autotriage.feedback.attribution import ChangedBy, attribute, changed_by
from autotriage.feedback.closed import join
from autotriage.policy.feedback import Decision, Judged, Verdict, judge
from autotriage.psa.base import PSAClient
from autotriage.psa.changes import CategoryChange
from autotriage.psa.registry import make_client
from autotriage.sandbox.common import TECHNICIAN, WORKFLOW, Simulator
from autotriage.sandbox.registry import make_simulator
from tests.support.closing import SCOPES

#: The history operation of each simulator (for counting and failing it).
HISTORY_OP = {"connectwise": "audit_trail", "autotask": "query_ticket_history", "halo": "get_ticket_audit"}


def _client(sim: Simulator) -> PSAClient:
    entry, env = sim.tenant_config("acme")
    tenants = TenantsFile.model_validate({"tenants": [entry]})
    tenants.resolve_secrets(env)
    return make_client(tenants.tenants[0])


async def _autotriage_writes(sim: Simulator, client: PSAClient, scope: int, path: tuple[str, ...]) -> tuple[str,
                                                                                                          Decision]:
    """An open ticket categorized by autotriage through the adapter (the PSA records it as the API user's)."""
    tid = sim.create_ticket("printer on floor 2 jams", "paper jam every morning", scope)
    taxonomy = await client.fetch_taxonomy(str(scope))
    candidate = next(c for c in taxonomy.candidates if c.path == path)
    await client.write_category(await client.fetch_ticket(tid), candidate)
    decision = Decision(tenant="acme", ticket_id=tid, psa=sim.psa.value, scope=str(scope), action="applied",
                        mode="apply", path=path, confidence=0.9, decided_at=datetime.now(UTC))
    return tid, decision


async def _corrected(sim: Simulator, client: PSAClient, modes: list[str]) -> list[Judged]:
    """One ticket per mode, categorized by autotriage and changed by a technician ten minutes later, judged."""
    scope, _ = SCOPES[sim.psa.value]
    paths = sorted(sim.valid_paths(scope))
    items = []
    for mode in modes:
        tid, decision = await _autotriage_writes(sim, client, scope, paths[0])
        sim.set_category(tid, paths[1], at=datetime.now(UTC) + timedelta(minutes=10))
        items.append(judge(decision.model_copy(update={"mode": mode}), sim.category_of(tid), str(scope)))
    return items


@pytest.mark.parametrize("psa", ["connectwise", "autotask", "halo"])
async def test_each_disagreement_lands_in_its_bucket_and_only_corrections_cost_a_call(psa: str) -> None:
    sim = make_simulator(psa)
    await sim.start()
    client = _client(sim)
    try:
        scope, other = SCOPES[psa]
        paths = sorted(sim.valid_paths(scope))
        ours, theirs = paths[0], paths[1]
        names = ("kept", "technician", "workflow", "rescoped", "quick_fix", "twice")
        made = {name: await _autotriage_writes(sim, client, scope, ours) for name in names}
        later = datetime.now(UTC) + timedelta(minutes=10)
        ids = {name: tid for name, (tid, _) in made.items()}
        sim.set_category(ids["technician"], theirs, by=TECHNICIAN, at=later)
        sim.set_category(ids["workflow"], theirs, by=WORKFLOW, at=later)
        # a technician changed it, then a workflow rule changed it again: the last change counts
        sim.set_category(ids["twice"], paths[2], by=TECHNICIAN, at=later)
        sim.set_category(ids["twice"], theirs, by=WORKFLOW, at=later + timedelta(minutes=5))
        # changed within the slack after autotriage's own write: cannot be told from autotriage's write
        sim.set_category(ids["quick_fix"], theirs, by=TECHNICIAN, at=made["quick_fix"][1].decided_at)
        for name, tid in ids.items():
            sim.close_ticket(tid, scope=other if name == "rescoped" else None)
        now = datetime.now(UTC)
        closed = [c async for c in client.closed_since(now - timedelta(hours=1), now + timedelta(minutes=1))]
        judged = join(closed, {tid: d for tid, d in made.values()})
        assert {j.decision.ticket_id: j.verdict for j in judged}[ids["rescoped"]] is Verdict.RESCOPED
        sim.inject(429, times=1, retry_after=0, operations={HISTORY_OP[psa]})  # throttled once: waits, goes on
        before = sim.requests[HISTORY_OP[psa]]
        result = await attribute(client, judged)
        calls = sim.requests[HISTORY_OP[psa]] - before
    finally:
        await client.close()
        await sim.stop()
    assert result.by_ticket == {
        ids["technician"]: ChangedBy.TECHNICIAN, ids["workflow"]: ChangedBy.AUTOMATION,
        ids["twice"]: ChangedBy.AUTOMATION, ids["rescoped"]: ChangedBy.RESCOPED,
        ids["quick_fix"]: ChangedBy.UNKNOWN}
    # the kept and the re-scoped tickets cost nothing: 4 corrected tickets, one call each (+ the throttled one)
    assert result.calls == 4 and calls == 5


@pytest.mark.parametrize("psa", ["connectwise", "autotask", "halo"])
@pytest.mark.parametrize("failure", ["forbidden", "odd_shape", "over_limit"])
async def test_unreadable_history_is_unknown_and_never_fails(psa: str, failure: str) -> None:
    sim = make_simulator(psa)
    await sim.start()
    client = _client(sim)
    try:
        scope, _ = SCOPES[psa]
        paths = sorted(sim.valid_paths(scope))
        tid, decision = await _autotriage_writes(sim, client, scope, paths[0])
        sim.set_category(tid, paths[1], at=datetime.now(UTC) + timedelta(minutes=10))
        item = judge(decision, sim.category_of(tid), str(scope))
        if failure == "forbidden":  # the API user may not read the audit trail / history
            sim.inject(403, times=1, operations={HISTORY_OP[psa]})
        elif failure == "odd_shape":  # an answer of another shape than documented: parsed to nothing
            sim.inject(200, times=1, operations={HISTORY_OP[psa]}, body={"unexpected": [1, 2]})
        result = await attribute(client, [item], limit=0 if failure == "over_limit" else 200)
        sim.clear_faults()
        readable = await attribute(client, [item])  # the same ticket once the PSA answers: a technician
    finally:
        await client.close()
        await sim.stop()
    assert result.by_ticket == {tid: ChangedBy.UNKNOWN}
    assert result.calls == (0 if failure == "over_limit" else 1)
    assert readable.by_ticket == {tid: ChangedBy.TECHNICIAN}


def test_a_move_and_back_is_a_rescope_and_entries_of_unknown_actors_are_unknown() -> None:
    decided = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    decision = Decision(tenant="acme", ticket_id="7", scope="12", action="applied", mode="apply",
                        path=("Hardware", "Printer"), decided_at=decided)
    item = judge(decision, ("Hardware", "Laptop"), "12")
    assert item.verdict is Verdict.CHANGED
    hour = timedelta(hours=1)
    own = CategoryChange(decided, "AutotriageAPI", True, False)
    moved = CategoryChange(decided + hour, "jsmith", False, True)
    person = CategoryChange(decided + 2 * hour, "jsmith", False, False)
    anonymous = CategoryChange(decided + 3 * hour, "", None, False)
    assert changed_by(item, [own]) is ChangedBy.UNKNOWN  # only autotriage's own write: nothing to attribute
    assert changed_by(item, [own, person]) is ChangedBy.TECHNICIAN
    assert changed_by(item, [own, moved, person]) is ChangedBy.RESCOPED
    assert changed_by(item, [own, person, anonymous]) is ChangedBy.UNKNOWN
    assert changed_by(item, [CategoryChange(None, "jsmith", False, False)]) is ChangedBy.UNKNOWN  # undated
    assert changed_by(item, None) is ChangedBy.UNKNOWN


async def test_autotask_history_stops_when_the_hourly_budget_is_nearly_used() -> None:
    sim = make_simulator("autotask")
    await sim.start()
    client = _client(sim)
    try:
        items = await _corrected(sim, client, ["apply"] * 3)
        sim.threshold_used = 9_000  # type: ignore[attr-defined]  # 90 % of the 10,000 an hour
        result = await attribute(client, items)
    finally:
        await client.close()
        await sim.stop()
    assert set(result.by_ticket.values()) == {ChangedBy.UNKNOWN} and len(result.by_ticket) == 3
    assert sim.requests[HISTORY_OP["autotask"]] == 0 and sim.requests["threshold_information"] == 1


async def test_within_the_limit_applied_categories_are_read_first() -> None:
    sim = make_simulator("halo")
    await sim.start()
    client = _client(sim)
    try:
        items = await _corrected(sim, client, ["suggest", "shadow", "apply"])
        result = await attribute(client, items, limit=1)
    finally:
        await client.close()
        await sim.stop()
    modes = {j.decision.ticket_id: j.decision.mode for j in items}
    assert {modes[t]: cause for t, cause in result.by_ticket.items()} == {
        "apply": ChangedBy.TECHNICIAN, "suggest": ChangedBy.UNKNOWN, "shadow": ChangedBy.UNKNOWN}
    assert result.calls == 1


async def test_history_calls_are_paced() -> None:
    sim = make_simulator("halo")
    await sim.start()
    client = _client(sim)
    try:
        items = await _corrected(sim, client, ["apply"] * 4)
        started = time.perf_counter()
        result = await attribute(client, items, rate=20.0)  # 4 calls at 20 a second: the last starts at 0.15 s
        took = time.perf_counter() - started
    finally:
        await client.close()
        await sim.stop()
    assert set(result.by_ticket.values()) == {ChangedBy.TECHNICIAN} and result.calls == 4
    assert took >= 0.15
