"""``autotriage eval``'s shortlist figures: top-k recall on the set, prompt tokens and USD of full list vs
shortlist counted on the exact requests the classifier would send."""

from __future__ import annotations

import pytest

from autotriage.commands.evaluate import DEFAULT_LLM, _eval_tenant
from autotriage.commands.shortlist_costs import ANSWER_TOKENS, measure
from autotriage.core.cost import cost_usd
from autotriage.core.tenants import DEFAULT_PRICES
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.local.dataset import LabelledTicket
from autotriage.local.provider import LocalClassifier
from autotriage.local.training import train_model
from autotriage.sandbox.openai_server import count_prompt_tokens
from tests.unit.test_local_model import VOCAB, synthetic, taxonomy

TAXONOMY = taxonomy([*VOCAB, ("General", "Other")])


@pytest.fixture(scope="module")
def local() -> LocalClassifier:
    return LocalClassifier(train_model(synthetic(label_noise=0.1), tenant="acme"))


async def test_recall_curve_tokens_and_usd(local: LocalClassifier) -> None:
    classifier = OpenAIClassifier(_eval_tenant(DEFAULT_LLM, "acme"), DEFAULT_PRICES["gpt-4o-mini"])
    printer = LabelledTicket("printer jam", "paper stuck in the tray", ("Hardware", "Printer"), "1", "p")
    vague = LabelledTicket("question", "call me back", ("Backup", "Failure"), "1", "v")
    noise = LabelledTicket("out of office", "I am away", None, "1", "n")
    items = [(printer, TAXONOMY), (vague, TAXONOMY), (noise, TAXONOMY)]
    costs = measure(local, classifier, items, k=1)
    assert costs is not None
    ranked = local.ranked(local.predict(vague.ticket(), TAXONOMY), 6)
    vague_rank = [c.path for c in ranked].index(vague.path)
    assert costs.recall[0] == (0.5 if vague_rank > 0 else 1.0)  # the printer ticket is the model's top-1
    assert costs.recall[5] == 1.0 and costs.recall == sorted(costs.recall)
    full = count_prompt_tokens(classifier.request_body(
        classifier.prepare(printer.ticket(), TAXONOMY.candidates, scope_name=TAXONOMY.scope_name)))
    assert full > 0 and costs.shortlist_tokens < costs.full_tokens
    retries = 1 - costs.in_shortlist
    assert costs.full_usd_per_1000 == pytest.approx(
        1000 * cost_usd(round(costs.full_tokens), 0, ANSWER_TOKENS, DEFAULT_PRICES["gpt-4o-mini"]))
    assert costs.shortlist_usd_per_1000 == pytest.approx(1000 * cost_usd(
        round(costs.shortlist_tokens), 0, round(ANSWER_TOKENS * (1 + retries)), DEFAULT_PRICES["gpt-4o-mini"]))
    assert measure(local, classifier, [(noise, TAXONOMY)], k=1) is None
    await classifier.close()

