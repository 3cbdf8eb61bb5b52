"""Shortlists: the LLM first sees only the local model's top-k candidates plus the scope's catch-all
categories, instead of the whole list; an abstention, a low confidence or a catch-all that was added only as
the "none fits" option sends the ticket once more with the full list (see ``OpenAIClassifier.classify``).

Catch-alls are the tenant's ``llm.catch_all`` (ids or ``A > B`` paths), else every candidate whose last path
element names no specific thing (``Other``, ``Misc``, ``Unknown``, ``Other Application`` ...)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from autotriage.core.models import Candidate, Classification, Taxonomy, Verdict

_CATCH_ALL = re.compile(
    r"^(other|others|misc|miscellaneous|general|unknown|unclassified|uncategori[sz]ed|not sure|none|n/?a|"
    r"triage|needs triage|to be triaged|other\b.*)$",
    re.IGNORECASE,
)
#: A shortlist is used only when it leaves out at least two thirds of the list: on a small taxonomy (8 classes)
#: the full prompt is already short and every retry would cost more than the shortlist saves.
MAX_SHARE = 1 / 3
#: ``Classification.reason`` of a pick made on the full list after the shortlist did not settle it.
FULL_LIST_REASON = "shortlist_full_list"


@dataclass(frozen=True)
class Shortlist:
    """The candidates sent first (taxonomy order), and which of them are catch-alls added as "none fits"."""

    candidates: tuple[Candidate, ...]
    added_catch_alls: frozenset[str] = frozenset()

    @property
    def ids(self) -> list[str]:
        """The ids sent."""
        return [c.id for c in self.candidates]


def _key(text: str) -> str:
    return " > ".join(" ".join(p.split()).casefold() for p in text.split(">"))


def catch_alls(taxonomy: Taxonomy, configured: Sequence[str] = ()) -> list[Candidate]:
    """The scope's catch-all candidates: the configured ids/paths when any match, else by name."""
    if configured:
        wanted = {_key(c) for c in configured} | set(configured)
        return [c for c in taxonomy.candidates if c.id in wanted or _key(c.label) in wanted]
    return [c for c in taxonomy.candidates if c.path and _CATCH_ALL.match(" ".join(c.path[-1].split()))]


def build_shortlist(taxonomy: Taxonomy, ranked: Sequence[Candidate], k: int,
                    catch_all: Sequence[str] = ()) -> Shortlist | None:
    """The top ``k`` of ``ranked`` that belong to ``taxonomy`` plus its catch-alls, in taxonomy order;
    ``None`` when that is more than ``MAX_SHARE`` of the taxonomy (the full list is sent as before)."""
    top = [c for c in ranked if taxonomy.by_id(c.id) == c][:k]
    if not top:
        return None
    chosen = {c.id for c in top}
    added = {c.id for c in catch_alls(taxonomy, catch_all) if c.id not in chosen}
    keep = chosen | added
    if len(keep) > len(taxonomy.candidates) * MAX_SHARE:
        return None
    return Shortlist(tuple(c for c in taxonomy.candidates if c.id in keep), frozenset(added))


def needs_full_list(result: Classification, shortlist: Shortlist, min_confidence: float) -> str | None:
    """Why the shortlist's answer is not kept (``None``: keep it): an abstention, a low confidence, a
    catch-all that was only offered as "none fits", or an answer that never named a listed id."""
    if result.verdict is Verdict.ABSTAINED:
        return "abstained"
    if result.verdict is Verdict.NEEDS_HUMAN:
        return "invalid_answer" if result.reason == "invalid_answer" else None
    if result.verdict is not Verdict.CHOSEN or result.candidate is None:
        return None
    if result.candidate.id in shortlist.added_catch_alls:
        return "catch_all"
    if result.confidence < min_confidence:
        return "low_confidence"
    return None
