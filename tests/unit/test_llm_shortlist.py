"""The LLM shortlist: the local model's top-k plus the catch-alls go to the LLM first; an abstention, a
"none fits" catch-all, a low confidence or an invalid answer retries once with the full list; the result
carries both calls' usage. Real ``openai`` client against the OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from autotriage.cascade import CascadeClassifier
from autotriage.core import metrics
from autotriage.core.cost import cost_usd
from autotriage.core.models import Candidate, ConfidenceSource, Ticket, Verdict
from autotriage.core.tenants import DEFAULT_PRICES
from autotriage.llm.prompt import ABSTAIN_ID
from autotriage.llm.shortlist import FULL_LIST_REASON, build_shortlist, catch_alls
from autotriage.local.provider import LocalClassifier
from autotriage.local.shortlist import choose_k, topk_recall
from autotriage.local.store import load_model, save_model
from autotriage.local.training import train_model
from autotriage.sandbox.openai_server import OpenAITestServer, Reply, analyze, render
from tests.unit.test_local_cascade import cascade
from tests.unit.test_local_model import VOCAB, synthetic, taxonomy

OTHER = ("General", "Other")
#: The categories the local model learned, a catch-all, and some it never saw (the PSA has more than history).
UNSEEN = [("Software", "Adobe"), ("Software", "Line of Business App"), ("Phones", "Desk Phone"),
          ("Phones", "Mobile"), ("Security", "Phishing"), ("Facilities", "Access Card")]
TAXONOMY = taxonomy([*VOCAB, *UNSEEN, OTHER])
TICKET = Ticket(id="77", summary="question", description="can someone call me back about the thing", scope="1")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = train_model(synthetic(label_noise=0.1), tenant="acme")
    return save_model(model, tmp_path_factory.mktemp("m") / "acme.joblib")


@pytest_asyncio.fixture
async def llm() -> AsyncIterator[OpenAITestServer]:
    async with OpenAITestServer() as server:
        yield server


def enum_of(body: dict[str, Any]) -> list[str]:
    return list(body["response_format"]["json_schema"]["schema"]["properties"]["category_id"]["enum"])


def knows(truth: Candidate, *, when_missing: str = "abstain", confidence: float = 0.93) -> Any:
    """A model that recognises ``truth`` when it is listed; otherwise answers ``when_missing``: "abstain",
    "catch_all" (the "General > Other" option) or "guess" (the first listed category, at confidence 0.3)."""

    def responder(body: dict[str, Any]) -> Reply:
        analysis = analyze(body)
        by_label = {label.strip(): ident for ident, label in analysis.labels.items()}
        if truth.label in by_label:
            choice, conf = by_label[truth.label], confidence
        elif when_missing == "catch_all":
            choice, conf = by_label[" > ".join(OTHER)], 0.6
        elif when_missing == "guess":
            choice, conf = next(i for i in enum_of(body) if i != ABSTAIN_ID), 0.3
        else:
            choice, conf = ABSTAIN_ID, 0.4
        return Reply(render(analysis, choice, conf), confidence=conf, choice=choice)

    return responder


def least_likely(classifier: CascadeClassifier) -> Candidate:
    """The category the local model ranks last for ``TICKET``: never in a short shortlist."""
    prediction = classifier.local.predict(TICKET, TAXONOMY)
    return classifier.local.ranked(prediction, len(TAXONOMY.candidates))[-1]


def shortlist_count(result: str) -> float:
    return metrics.REGISTRY.get_sample_value("autotriage_llm_shortlist_total",
                                             {"tenant": "acme", "result": result}) or 0.0


# ------------------------------------------------------------------------------------------ the retry path


@pytest.mark.parametrize(("answer", "truth_kind"), [("abstain", "ranked_last"), ("catch_all", "ranked_last"),
                                                     ("abstain", "never_in_history")])
async def test_right_category_outside_the_shortlist_is_found_by_the_full_list(
        llm: OpenAITestServer, model_path: Path, answer: str, truth_kind: str) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, shortlist_k=2)
    truth = least_likely(classifier) if truth_kind == "ranked_last" else TAXONOMY.candidates[len(VOCAB) + 1]
    llm.responder = knows(truth, when_missing=answer)
    before = shortlist_count("abstained" if answer == "abstain" else "catch_all")

    result = await classifier.classify(TICKET, TAXONOMY)

    first, second = llm.completion_requests
    sent = enum_of(first.body)
    assert len(sent) == 2 + 1 + 1  # top-2, the catch-all, abstain
    assert truth.label not in first.prompt_text and " > ".join(OTHER) in first.prompt_text
    assert "Only the likeliest categories are listed" in first.prompt_text and "likeliest" not in second.prompt_text
    shown = _shown(first.body)  # the prompt lists exactly what the enum allows
    assert len(shown) == len(sent) - 1 and truth not in shown
    assert len(enum_of(second.body)) == len(TAXONOMY.candidates) + 1
    assert len(_shown(second.body)) == len(TAXONOMY.candidates)
    assert result.verdict is Verdict.CHOSEN and result.candidate == TAXONOMY.by_id(truth.id)
    assert result.reason == FULL_LIST_REASON and result.confidence == pytest.approx(0.93, abs=1e-6)
    # both calls are paid for and recorded: the server's own token counts, priced at gpt-4o-mini
    usage = result.usage
    assert usage.calls == 2
    assert usage.prompt_tokens == llm.counters["prompt_tokens"]
    assert usage.completion_tokens == llm.counters["completion_tokens"]
    price = DEFAULT_PRICES["gpt-4o-mini"]
    assert usage.cost_usd == pytest.approx(cost_usd(llm.counters["prompt_tokens"], llm.counters["cached_tokens"],
                                                    llm.counters["completion_tokens"], price))
    assert shortlist_count("abstained" if answer == "abstain" else "catch_all") == before + 1
    await classifier.close()


def _shown(body: dict[str, Any]) -> list[Candidate]:
    """The candidates a request listed, by their labels."""
    labels = set(analyze(body).labels.values())
    return [c for c in TAXONOMY.candidates if c.label in labels]


async def test_a_confident_pick_on_the_shortlist_is_one_call(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, shortlist_k=2)
    prediction = classifier.local.predict(TICKET, TAXONOMY)
    top = classifier.local.ranked(prediction, 1)[0]
    llm.responder = knows(top)
    result = await classifier.classify(TICKET, TAXONOMY)
    assert len(llm.completion_requests) == 1
    assert result.candidate == top and result.usage.calls == 1 and result.reason == ""
    assert result.usage.prompt_tokens == llm.counters["prompt_tokens"]
    await classifier.close()


async def test_a_low_confidence_pick_retries_once_with_the_full_list(llm: OpenAITestServer,
                                                                    model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, shortlist_k=2, shortlist_min_confidence=0.5)
    truth = least_likely(classifier)
    llm.responder = knows(truth, when_missing="guess", confidence=0.45)  # the full list: still unsure
    before = shortlist_count("low_confidence")
    result = await classifier.classify(TICKET, TAXONOMY)
    assert len(llm.completion_requests) == 2  # once: the unsure full-list answer is not retried again
    assert result.candidate == truth and result.confidence == pytest.approx(0.45, abs=1e-6)
    assert result.usage.calls == 2 and shortlist_count("low_confidence") == before + 1
    # the confidence that triggered the retry came from logprobs: neither request asked for a self-rating
    assert result.confidence_source is ConfidenceSource.LOGPROBS
    assert all(list(r.body["response_format"]["json_schema"]["schema"]["properties"]) == ["category_id", "reasoning"]
               for r in llm.completion_requests)
    await classifier.close()


async def test_quota_on_the_shortlist_call_is_not_retried(llm: OpenAITestServer, model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, shortlist_k=2)
    llm.inject("insufficient_quota")
    result = await classifier.classify(TICKET, TAXONOMY)
    assert len(llm.completion_requests) == 1
    assert result.reason == "llm_fallback" and result.provider == "local"
    await classifier.close()


async def test_the_stored_k_is_used_and_shortlist_false_sends_the_full_list(llm: OpenAITestServer,
                                                                           model_path: Path) -> None:
    stored = load_model(model_path).meta
    assert stored.shortlist_k == choose_k(stored.topk_recall) and stored.shortlist_k is not None
    assert cascade(llm, model_path).shortlist_k == stored.shortlist_k
    assert cascade(llm, model_path, shortlist_k=3).shortlist_k == 3
    off = cascade(llm, model_path, cascade_threshold=1.0, shortlist=False)
    assert off.shortlist_k is None
    await off.classify(TICKET, TAXONOMY)
    assert enum_of(llm.completion_requests[-1].body) == [*(c.id for c in TAXONOMY.candidates), ABSTAIN_ID]
    await off.close()


# ------------------------------------------------------------------------------------------ building blocks


def test_shortlist_is_top_k_plus_catch_alls_in_taxonomy_order(model_path: Path) -> None:
    ranked = [TAXONOMY.candidates[4], TAXONOMY.candidates[1], TAXONOMY.candidates[0]]
    shortlist = build_shortlist(TAXONOMY, ranked, 2)
    assert shortlist is not None
    assert [c.path for c in shortlist.candidates] == [TAXONOMY.candidates[1].path, TAXONOMY.candidates[4].path,
                                                      OTHER]
    assert shortlist.added_catch_alls == {TAXONOMY.candidates[-1].id}
    # a catch-all the local model ranked itself is a genuine candidate, not an added "none fits"
    own = build_shortlist(TAXONOMY, [TAXONOMY.candidates[-1], TAXONOMY.candidates[0]], 2)
    assert own is not None and own.added_catch_alls == frozenset()
    # not shorter than the taxonomy, or nothing ranked: the full list as before
    assert build_shortlist(TAXONOMY, list(TAXONOMY.candidates), 5) is None  # 6 of 13: more than a third
    assert build_shortlist(TAXONOMY, list(TAXONOMY.candidates), 3) is not None
    assert build_shortlist(TAXONOMY, [], 3) is None
    # a ranked candidate the scope no longer has is never sent
    stale = Candidate(id="c99", path=("Retired", "Fax"))
    kept = build_shortlist(TAXONOMY, [stale, TAXONOMY.candidates[2]], 2)
    assert kept is not None and stale not in kept.candidates


def test_catch_all_detection_and_configuration() -> None:
    tax = taxonomy([("Software", "Other Application"), ("Software", "Office"), ("General", "How-To Question"),
                    ("General", "Other"), ("Misc",), ("Network", "Unknown")])
    assert [c.label for c in catch_alls(tax)] == ["Software > Other Application", "General > Other", "Misc",
                                                  "Network > Unknown"]
    assert [c.label for c in catch_alls(tax, ["general > how-to question"])] == ["General > How-To Question"]
    assert [c.id for c in catch_alls(tax, ["c2"])] == ["c2"]


def test_topk_recall_and_the_choice_of_k() -> None:
    scores = np.array([[3.0, 2.0, 1.0, 0.0], [0.0, 3.0, 2.0, 1.0], [1.0, 0.0, 3.0, 2.0], [3.0, 2.0, 1.0, 0.5]])
    truth = np.array([0, 2, 0, 3])  # ranks 0, 1, 2, 3
    assert topk_recall(scores, truth) == [0.25, 0.5, 0.75, 1.0]
    assert topk_recall(scores, truth, max_k=2) == [0.25, 0.5]
    assert choose_k([0.9, 0.97, 0.981, 0.99]) == 3  # the smallest k with >= 98 %
    # never 98 % (tickets without usable text): the knee of the plateau, not the cap
    assert choose_k([0.89, 0.927, 0.931, 0.938, 0.941, 0.943, 0.945, 0.945, 0.947, 0.95]) == 5
    assert choose_k([]) is None


def test_the_local_ranking_covers_only_the_scope(model_path: Path) -> None:
    local = LocalClassifier.load(model_path)
    narrow = taxonomy([("Network", "VPN"), ("Email", "Outlook")])
    ranked = local.ranked(local.predict(TICKET, narrow), 5)
    assert sorted(c.label for c in ranked) == ["Email > Outlook", "Network > VPN"]


async def test_a_failing_full_list_retry_keeps_the_paid_shortlist_answer(llm: OpenAITestServer,
                                                                        model_path: Path) -> None:
    classifier = cascade(llm, model_path, cascade_threshold=1.0, shortlist_k=2)
    truth = least_likely(classifier)
    knowing = knows(truth)

    def responder(body: dict[str, Any]) -> Reply:
        if len(enum_of(body)) > len(TAXONOMY.candidates):  # the full list: the provider is down now
            raise RuntimeError("upstream outage")
        return knowing(body)

    llm.responder = responder
    result = await classifier.classify(TICKET, TAXONOMY)
    first, second = llm.completion_requests
    assert (first.status, second.status) == (200, 500)
    assert result.verdict is Verdict.ABSTAINED and result.provider == "openai"
    assert result.reasoning.startswith("The full-list retry failed (llm_server_error)")
    assert result.usage.calls == 1 and result.usage.prompt_tokens == llm.counters["prompt_tokens"] > 0
    await classifier.close()
