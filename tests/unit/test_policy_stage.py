"""The classifier stage applies the tenant policy before any LLM call: mode, noise, PII, budget, classify once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from autotriage.classifier.stage import ClassifierStage
from autotriage.classifiers import Classifiers
from autotriage.core import metrics
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import Topics
from autotriage.core.classifier import Classifier
from autotriage.core.events import OutcomeRecorded, TicketClassified, TicketEnriched
from autotriage.core.models import Candidate, Classification, PSAKind, Taxonomy, Ticket, Usage, Verdict
from autotriage.core.runtime import REDELIVERY
from autotriage.core.tenants import Tenant, TenantsFile
from autotriage.policy.budget import BudgetLedger

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
LAPTOP = Candidate(id="1", path=("Hardware", "Laptop"))
TAXONOMY = Taxonomy(tenant="acme", psa=PSAKind.HALO, scope="1", fetched_at=NOW,
                    candidates=(LAPTOP, Candidate(id="2", path=("Network", "VPN"))))


class FakeClassifier(Classifier):
    """Records what it was shown; answers Laptop with a fixed cost."""

    def __init__(self, name: str = "gpt-4o-mini", cost: float = 0.001) -> None:
        self.name = name
        self.cost = cost
        self.seen: list[Ticket] = []

    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        self.seen.append(ticket)
        return Classification(
            verdict=Verdict.CHOSEN, candidate=LAPTOP, confidence=0.9, model=self.name,
            reasoning=f"Matches; the user is {ticket.contact_email}.",
            usage=Usage(prompt_tokens=500, completion_tokens=30, cost_usd=self.cost, calls=1),
        )


class FakeClassifiers(Classifiers):
    def __init__(self, tenants: TenantsFile, classifier: Classifier,
                 local: Callable[[Tenant], Classifier | None] | None = None) -> None:
        super().__init__(tenants)
        self.classifier = classifier
        if local is not None:
            self._load_local = local  # type: ignore[method-assign]

    def get(self, tenant_id: str) -> Classifier:
        return self.classifier


def tenants(**overrides: Any) -> TenantsFile:
    entry: dict[str, Any] = {
        "id": "acme",
        "psa": {"kind": "halo", "base_url": "http://halo.invalid", "client_id": "x", "client_secret": {"env": "S"}},
        "webhook": {"username": "halo", "password": {"env": "P"}},
        "policy": {"mode": "apply"},
    }
    for key, value in overrides.items():
        entry[key] = {**entry.get(key, {}), **value}
    return TenantsFile(tenants=[Tenant.model_validate(entry)])


def enriched(summary: str, description: str = "", ticket_id: str = "1001", **fields: Any) -> TicketEnriched:
    ticket = Ticket(id=ticket_id, scope="1", summary=summary, description=description, **fields)
    return TicketEnriched(tenant="acme", psa=PSAKind.HALO, ticket_id=ticket_id, occurred_at=NOW, ticket=ticket,
                          taxonomy=TAXONOMY)


async def run(stage: ClassifierStage, event: TicketEnriched) -> TicketClassified | None:
    """The stage's verdict (after which the runtime would confirm the output), or None when it made none."""
    outputs = await stage.handle(event)
    if not outputs or not isinstance(outputs[0].event, TicketClassified):
        return None
    await stage.acknowledged(event)
    return outputs[0].event


def sample(name: str, labels: dict[str, str]) -> float:
    return float(metrics.REGISTRY.get_sample_value(name, labels) or 0.0)


async def test_noise_is_skipped_before_any_llm_call() -> None:
    fake = FakeClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake))
    before = sample("autotriage_noise_filtered_total", {"tenant": "acme", "kind": "out_of_office"})
    out = await run(stage, enriched("Automatic reply: [#1] VPN", "I am out of the office until Monday."))
    assert out is not None
    assert (out.classification.verdict, out.classification.reason, out.mode) == (Verdict.SKIPPED,
                                                                                 "noise:out_of_office", "apply")
    assert fake.seen == []
    assert sample("autotriage_noise_filtered_total", {"tenant": "acme", "kind": "out_of_office"}) == before + 1


async def test_noise_filter_can_be_turned_off_per_tenant() -> None:
    fake = FakeClassifier()
    config = tenants(policy={"noise_filter": False})
    stage = ClassifierStage(config, FakeClassifiers(config, fake))
    out = await run(stage, enriched("Automatic reply: [#1] VPN", "I am out of the office until Monday."))
    assert out is not None and out.classification.verdict is Verdict.CHOSEN
    assert len(fake.seen) == 1


async def test_the_classifier_sees_placeholders_only() -> None:
    fake = FakeClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake))
    before = sample("autotriage_pii_redactions_total", {"tenant": "acme", "kind": "secret"})
    event = enriched("Laptop login fails for jane@bayside.example.com",
                     "password: Summer2024! does not work. Call me on +1 (555) 201-4477.",
                     contact_email="jane@bayside.example.com", headers={"From": "jane@bayside.example.com"})
    out = await run(stage, event)
    shown = fake.seen[0]
    assert shown.summary == "Laptop login fails for [EMAIL_1]"
    assert shown.description == "password: [SECRET_1] does not work. Call me on [PHONE_1]."
    assert shown.contact_email == "[EMAIL_1]" and shown.headers == {}
    assert out is not None
    assert out.ticket == event.ticket  # the event keeps the PSA's ticket: the writer needs its category and scope
    assert "jane@" not in out.classification.reasoning
    assert sample("autotriage_pii_redactions_total", {"tenant": "acme", "kind": "secret"}) == before + 1


async def test_redaction_can_be_turned_off_per_tenant() -> None:
    fake = FakeClassifier()
    config = tenants(policy={"redact_pii": False})
    stage = ClassifierStage(config, FakeClassifiers(config, fake))
    await run(stage, enriched("Laptop login fails for jane@bayside.example.com"))
    assert fake.seen[0].summary == "Laptop login fails for jane@bayside.example.com"


async def test_mode_off_and_scope_overrides() -> None:
    fake = FakeClassifier()
    config = tenants(policy={"mode": "off", "scopes": {"3": {"mode": "shadow"}}})
    stage = ClassifierStage(config, FakeClassifiers(config, fake))
    off = await run(stage, enriched("Laptop will not boot"))
    assert off is not None and (off.mode, off.classification.reason) == ("off", "mode_off")
    assert fake.seen == []
    event = enriched("Laptop will not boot", ticket_id="1002")
    shadow = await run(stage, event.model_copy(update={"ticket": event.ticket.model_copy(update={"scope": "3"})}))
    assert shadow is not None and shadow.mode == "shadow" and shadow.classification.verdict is Verdict.CHOSEN


async def test_each_ticket_is_classified_once() -> None:
    fake = FakeClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake))
    event = enriched("Laptop will not boot")
    assert await run(stage, event) is not None
    assert await run(stage, event.model_copy(update={"attempt": 1})) is None  # a redelivery
    assert await run(stage, enriched("Laptop will not boot (updated)")) is None  # a later event for the ticket
    assert len(fake.seen) == 1
    [repeat] = await stage.handle(event)
    assert isinstance(repeat.event, OutcomeRecorded)  # the duplicate is accounted for, not billed
    assert (repeat.event.reason, repeat.event.detail) == ("already_classified", REDELIVERY)


async def test_classify_once_survives_a_restart_through_the_ledger_topic() -> None:
    bus, topics = MemoryBus(), Topics("l.")
    first_fake, second_fake = FakeClassifier(), FakeClassifier()
    first = ClassifierStage(tenants(), FakeClassifiers(tenants(), first_fake), bus=bus, topics=topics)
    await first.start()
    assert await run(first, enriched("Laptop will not boot")) is not None
    await first.stop()
    second = ClassifierStage(tenants(), FakeClassifiers(tenants(), second_fake), bus=bus, topics=topics)
    await second.start()
    assert await run(second, enriched("Laptop will not boot")) is None
    assert second_fake.seen == []  # not billed twice


async def test_budget_skip() -> None:
    fake = FakeClassifier(cost=0.004)
    config = tenants(budget={"usd_per_day": 0.01})
    stage = ClassifierStage(config, FakeClassifiers(config, fake), budgets=BudgetLedger(lambda: NOW))
    outs = [await run(stage, enriched("Laptop will not boot", ticket_id=str(2000 + i))) for i in range(5)]
    reasons = [o.classification.reason if o else None for o in outs]
    assert reasons == ["", "", "", "budget_exhausted", "budget_exhausted"]  # 0.004, 0.008 < 0.01 -> third admitted
    assert len(fake.seen) == 3
    assert all(o is not None and o.mode == "apply" for o in outs)


@pytest.mark.parametrize("available", [True, False])
async def test_budget_local_fallback_is_suggest_only(available: bool) -> None:
    fake, local = FakeClassifier(cost=0.02), FakeClassifier(name="local-model", cost=0.0)
    config = tenants(budget={"usd_per_day": 0.01, "on_exhausted": "local"})
    loads: list[str] = []

    def loader(tenant: Tenant) -> Classifier | None:
        loads.append(tenant.id)
        return local if available else None

    stage = ClassifierStage(config, FakeClassifiers(config, fake, loader), budgets=BudgetLedger(lambda: NOW))
    first = await run(stage, enriched("Laptop will not boot", ticket_id="3001"))
    second = await run(stage, enriched("Laptop will not boot", ticket_id="3002"))
    third = await run(stage, enriched("Laptop will not boot", ticket_id="3003"))
    assert first is not None and (first.mode, first.classification.model) == ("apply", "gpt-4o-mini")
    assert loads == ["acme"]  # loaded once per tenant
    assert len(fake.seen) == 1
    for out in (second, third):
        assert out is not None
        if available:
            assert (out.mode, out.classification.model) == ("suggest", "local-model")
        else:
            assert (out.mode, out.classification.reason) == ("apply", "budget_exhausted")
    assert len(local.seen) == (2 if available else 0)
    assert all("[EMAIL" not in t.summary for t in local.seen)


async def test_local_fallback_without_a_local_model_skips() -> None:
    """The real loader: no ``llm.local_model_path`` -> no local model -> skip."""
    fake = FakeClassifier(cost=0.02)
    config = tenants(budget={"usd_per_day": 0.01, "on_exhausted": "local"})
    stage = ClassifierStage(config, FakeClassifiers(config, fake), budgets=BudgetLedger(lambda: NOW))
    await run(stage, enriched("Laptop will not boot", ticket_id="4001"))
    out = await run(stage, enriched("Laptop will not boot", ticket_id="4002"))
    assert out is not None and out.classification.reason == "budget_exhausted"


class LabelQuotingClassifier(FakeClassifier):
    """Answers with reasoning that quotes the taxonomy label and the user's words."""

    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        result = await super().classify(ticket, taxonomy)
        return result.model_copy(update={
            "reasoning": "Access>Password/Lockout fits: the password is locked after 5 tries; PIN reset asked."})


async def test_reasoning_and_labels_are_never_redacted() -> None:
    fake = LabelQuotingClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake))
    out = await run(stage, enriched("Locked out", "My password is locked, PIN 4821 too"))
    assert out is not None
    assert out.classification.reasoning == (
        "Access>Password/Lockout fits: the password is locked after 5 tries; PIN reset asked.")
    assert fake.seen[0].description == "My password is locked, PIN [SECRET_1] too"


async def test_the_prompt_text_is_cleaned_once_per_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    from autotriage.core.text import prepare as text

    calls: list[str] = []
    real = text.clean_ticket_text

    def counting(body: str, *, forwarded: bool = False) -> str:
        calls.append(body)
        return real(body, forwarded=forwarded)

    monkeypatch.setattr(text, "clean_ticket_text", counting)
    fake = FakeClassifier()
    config = tenants(budget={"usd_per_month": 100.0})  # with caps: the estimate reads the text as well
    stage = ClassifierStage(config, FakeClassifiers(config, fake))
    body = "The VPN drops every hour since the update.\n\nOn Mon, Bob wrote:\n> old text"
    await run(stage, enriched("RE: VPN", body))
    assert len(calls) == 1
    from autotriage.core.text.prepare import prepare_ticket_text

    assert prepare_ticket_text(fake.seen[0], 1200) == (fake.seen[0].summary, fake.seen[0].description)
    assert len(calls) == 1 and fake.seen[0].description == "The VPN drops every hour since the update."


async def test_a_large_ticket_is_prepared_in_the_stages_worker_process_and_stop_ends_it() -> None:
    fake = FakeClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake))
    await stage.start()
    log = "".join(f"01:00:{i % 60:02d} backup to 10.0.0.{i % 250} failed, mail ops@acme.example\n" for i in range(400))
    try:
        out = await run(stage, enriched("Nightly backup fails", log))
        assert stage.text._pool is not None  # over the size cut: prepared in the worker
        workers = list((stage.text._pool._processes or {}).values())
    finally:
        await stage.stop()
    assert out is not None and out.classification.verdict is Verdict.CHOSEN
    [seen] = fake.seen
    assert "10.0.0." not in seen.description and "ops@acme.example" not in seen.description  # redacted there
    assert workers and not any(w.is_alive() for w in workers) and stage.text._pool is None


async def test_verdicts_are_flagged_repeat_until_the_ledger_has_caught_up_after_a_rebalance() -> None:
    """A new owner whose ledger view may miss the previous owner's marks lets the writer look for its note."""
    fake = FakeClassifier()
    stage = ClassifierStage(tenants(), FakeClassifiers(tenants(), fake), bus=MemoryBus(), topics=Topics("r."))
    await stage.start()
    gate, calls = asyncio.Event(), []

    async def catch_up(timeout_s: float) -> bool:
        calls.append(timeout_s)
        if len(calls) == 1:
            return False  # not read to its end within the rebalance
        await gate.wait()
        return True

    stage.ledger.catch_up = catch_up  # type: ignore[method-assign]
    try:
        await stage.on_assigned({0, 1})
        behind = await run(stage, enriched("Laptop will not boot", ticket_id="2001"))
        assert behind is not None and behind.repeat
        gate.set()
        assert stage._catching_up is not None
        await stage._catching_up
        caught_up = await run(stage, enriched("Laptop will not boot", ticket_id="2002"))
        assert caught_up is not None and not caught_up.repeat
        assert len(fake.seen) == 2  # flagged, not withheld: the ticket is still classified
    finally:
        await stage.stop()


async def test_a_ledger_read_to_its_end_at_assignment_flags_nothing() -> None:
    bus, topics = MemoryBus(), Topics("r2.")
    first = ClassifierStage(tenants(), FakeClassifiers(tenants(), FakeClassifier()), bus=bus, topics=topics)
    second = ClassifierStage(tenants(), FakeClassifiers(tenants(), FakeClassifier()), bus=bus, topics=topics)
    await first.start()
    await second.start()
    try:
        event = enriched("Laptop will not boot", ticket_id="3001")
        assert await run(first, event) is not None
        await second.on_assigned({0})
        assert await run(second, event) is None  # the first replica's mark counts
        fresh = await run(second, enriched("VPN drops", ticket_id="3002"))
        assert fresh is not None and not fresh.repeat
    finally:
        await first.stop()
        await second.stop()
