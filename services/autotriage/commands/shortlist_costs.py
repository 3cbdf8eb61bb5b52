"""What the LLM shortlist saves on a labelled set: the local model's top-k recall curve, and prompt tokens and
USD per 1,000 tickets for the full list vs the shortlist.

Prompt tokens are counted on the exact requests the classifier would send (tenant template, strict schema,
cleaned ticket; the offline cl100k tokenizer of the OpenAI test server). The shortlist's cost adds one
full-list request for every ticket whose right category is outside the shortlist (the LLM should abstain
there); answers are estimated at ``ANSWER_TOKENS`` completion tokens. Nothing is sent to an LLM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autotriage.core.cost import cost_usd
from autotriage.core.models import Candidate, Taxonomy, Ticket
from autotriage.core.tenants import Price, Tenant
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.llm.shortlist import build_shortlist
from autotriage.local.dataset import LabelledTicket
from autotriage.local.provider import LocalClassifier
from autotriage.local.shortlist import MAX_K
from autotriage.sandbox.openai_server import count_prompt_tokens

ANSWER_TOKENS = 35
CURVE_POINTS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)


@dataclass(frozen=True)
class ShortlistCosts:
    """Top-k recall on the set and the per-ticket prompt tokens and USD of both ways."""

    recall: list[float]
    k: int
    in_shortlist: float
    full_tokens: float
    shortlist_tokens: float
    full_usd_per_1000: float
    shortlist_usd_per_1000: float


def measure(local: LocalClassifier, classifier: OpenAIClassifier, items: Sequence[tuple[LabelledTicket, Taxonomy]],
            k: int, catch_all: Sequence[str] = ()) -> ShortlistCosts | None:
    """The figures for the labelled ``items`` (``None`` when none is labelled)."""
    labelled = [(e, t) for e, t in items if e.path]
    if not labelled:
        return None
    hits = [0] * MAX_K
    in_list = 0
    full_total = short_total = 0
    for example, taxonomy in labelled:
        ticket = example.ticket()
        prediction = local.predict(ticket, taxonomy)
        ranked = local.ranked(prediction, MAX_K)
        rank = next((n for n, c in enumerate(ranked) if c.path == example.path), None)
        for n in range(MAX_K):
            hits[n] += rank is not None and rank <= n
        full = _tokens(classifier, ticket, taxonomy, list(taxonomy.candidates), short_ids=None)
        full_total += full
        shortlist = build_shortlist(taxonomy, ranked, k, catch_all)
        if shortlist is None:
            short_total += full
            in_list += 1
            continue
        found = any(c.path == example.path for c in shortlist.candidates)
        in_list += found
        short_total += _tokens(classifier, ticket, taxonomy, list(shortlist.candidates), short_ids=True,
                               shortlisted=True)
        if not found:  # the LLM abstains, the full list is sent once more
            short_total += _tokens(classifier, ticket, taxonomy, list(taxonomy.candidates), short_ids=True)
    n = len(labelled)
    price = classifier.price
    calls_short = short_total / n
    return ShortlistCosts(
        recall=[h / n for h in hits], k=k, in_shortlist=in_list / n,
        full_tokens=full_total / n, shortlist_tokens=calls_short,
        full_usd_per_1000=_usd(full_total / n, 1.0, price),
        shortlist_usd_per_1000=_usd(calls_short, 1.0 + (1 - in_list / n), price),
    )


def _tokens(classifier: OpenAIClassifier, ticket: Ticket, taxonomy: Taxonomy, candidates: list[Candidate], *,
            short_ids: bool | None, shortlisted: bool = False) -> int:
    pick = classifier.prepare(ticket, candidates, scope_name=taxonomy.scope_name, short_ids=short_ids,
                              shortlisted=shortlisted)
    return count_prompt_tokens(classifier.request_body(pick))


def _usd(prompt_tokens: float, calls: float, price: Price | None) -> float:
    """USD per 1,000 tickets with every prompt token at the full input price (no cache hits)."""
    return 1000 * cost_usd(round(prompt_tokens), 0, round(ANSWER_TOKENS * calls), price)


def facts(costs: ShortlistCosts, model: str) -> dict[str, str]:
    """Report lines (``autotriage eval``)."""
    curve = ", ".join(f"{k}: {costs.recall[k - 1]:.1%}" for k in CURVE_POINTS if k <= len(costs.recall))
    return {
        "local top-k recall (this set)": f"{curve}; shortlist k = {costs.k} + catch-alls holds the right category "
                                         f"for {costs.in_shortlist:.1%}",
        "prompt tokens / ticket, full list vs shortlist": (
            f"{costs.full_tokens:,.0f} vs {costs.shortlist_tokens:,.0f} "
            f"({costs.shortlist_tokens / costs.full_tokens:.0%}; a full-list retry counted for every ticket whose "
            "category is outside the shortlist)"),
        f"USD / 1,000 tickets @ {model}, full list vs shortlist": (
            f"{costs.full_usd_per_1000:.4f} vs {costs.shortlist_usd_per_1000:.4f} (no cache hits, answers "
            f"estimated at {ANSWER_TOKENS} tokens)"),
    }


async def costs_for(tenant: Tenant, price: Price | None, local: LocalClassifier,
              items: Sequence[tuple[LabelledTicket, Taxonomy]]) -> dict[str, str]:
    """``facts`` for a tenant's LLM settings (``{}`` without a measured or configured k)."""
    k = tenant.llm.shortlist_k or local.meta.shortlist_k
    if k is None:
        return {}
    classifier = OpenAIClassifier(tenant, price)
    try:
        result = measure(local, classifier, items, k, tenant.llm.catch_all)
    finally:
        await classifier.close()
    return facts(result, tenant.llm.model) if result is not None else {}
