"""Domain models shared by every stage: the standard ticket, the taxonomy and the classification result."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PSAKind(StrEnum):
    """The PSAs autotriage speaks to."""

    HALO = "halo"
    CONNECTWISE = "connectwise"
    AUTOTASK = "autotask"


class Frozen(BaseModel):
    """Base for immutable value models."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Candidate(Frozen):
    """One category the PSA accepts for a scope, with what is needed to write it back."""

    id: str
    path: tuple[str, ...]
    native: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """Human path, e.g. ``Hardware > Laptop > Won't boot``."""
        return " > ".join(self.path)


class Taxonomy(Frozen):
    """The candidate categories of one scope (CW board, Autotask queue, Halo ticket type)."""

    tenant: str
    psa: PSAKind
    scope: str
    scope_name: str = ""
    candidates: tuple[Candidate, ...]
    fetched_at: datetime

    @functools.cached_property
    def version(self) -> str:
        """A short content hash: changes whenever the set of candidates changes (computed once per instance:
        every ticket of the scope asks)."""
        digest = hashlib.sha256("\n".join(f"{c.id}={c.label}" for c in self.candidates).encode())
        return digest.hexdigest()[:12]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Taxonomy:
        """A copy; with ``update`` its version is computed afresh."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            copied.__dict__.pop("version", None)
        return copied

    def ref(self) -> TaxonomyRef:
        """What events carry instead of the taxonomy itself."""
        return TaxonomyRef(tenant=self.tenant, scope=self.scope, version=self.version, fetched_at=self.fetched_at,
                           candidates=len(self.candidates))

    def by_id(self, candidate_id: str) -> Candidate | None:
        """The candidate with this id, if it is part of the taxonomy."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        return None


class TaxonomyRef(Frozen):
    """A taxonomy by reference: the compacted ``taxonomies`` topic holds it under ``key`` (events stay small
    whatever the taxonomy's size)."""

    tenant: str
    scope: str
    version: str
    fetched_at: datetime
    candidates: int = 0

    @property
    def key(self) -> bytes:
        """The taxonomy's key in the compacted topic."""
        return taxonomy_key(self.tenant, self.scope)


def taxonomy_key(tenant: str, scope: str) -> bytes:
    """The key of a scope's taxonomy in the compacted ``taxonomies`` topic."""
    return f"{tenant}:{scope}".encode()


class CategoryState(Frozen):
    """The category a ticket carries in the PSA right now (PSA-native values, empty when unset)."""

    path: tuple[str, ...] = ()
    native: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_set(self) -> bool:
        """Whether any category level is filled in."""
        return any(self.path)


#: The most of a ticket's description an event carries (64 KiB of text; the prompt uses a few thousand tokens).
MAX_DESCRIPTION_CHARS = 64 * 1024


class Ticket(Frozen):
    """One PSA ticket mapped to the standard shape the pipeline works on."""

    id: str
    summary: str
    description: str = ""
    scope: str
    scope_name: str = ""
    category: CategoryState = CategoryState()
    company: str = ""
    contact_email: str = ""
    source: str = ""
    priority: str = ""
    created_at: datetime | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    native: dict[str, Any] = Field(default_factory=dict)

    def capped(self, max_chars: int = MAX_DESCRIPTION_CHARS) -> Ticket:
        """This ticket with its description cut to ``max_chars`` (marked), so an event stays small whatever the
        requester pasted; far more than the model is ever shown, and the writer re-reads the ticket anyway."""
        if len(self.description) <= max_chars:
            return self
        cut = len(self.description) - max_chars
        return self.model_copy(update={"description": f"{self.description[:max_chars]}\n[... {cut} characters cut]"})


class Usage(Frozen):
    """Tokens and cost of the LLM calls made for one ticket."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            calls=self.calls + other.calls,
        )


class ConfidenceSource(StrEnum):
    """Where a confidence figure comes from."""

    LOGPROBS = "logprobs"
    SELF_RATED = "self_rated"
    CALIBRATED = "calibrated"
    NONE = "none"


class Verdict(StrEnum):
    """What the classifier concluded."""

    CHOSEN = "chosen"
    ABSTAINED = "abstained"
    NEEDS_HUMAN = "needs_human"
    SKIPPED = "skipped"


class Classification(Frozen):
    """The classifier's result for one ticket."""

    verdict: Verdict
    candidate: Candidate | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    confidence_source: ConfidenceSource = ConfidenceSource.NONE
    reasoning: str = ""
    reason: str = ""
    provider: str = ""
    model: str = ""
    usage: Usage = Usage()
    latency_s: float = 0.0


class Mode(StrEnum):
    """A tenant's (or scope's) rollout mode: what the writer may do with a verdict."""

    OFF = "off"  # not classified at all
    SHADOW = "shadow"  # classified and recorded, nothing written to the PSA
    SUGGEST = "suggest"  # a note with the suggestion, the category untouched
    APPLY = "apply"  # the category set when confident enough


class Action(StrEnum):
    """What the writer did to the ticket."""

    APPLIED = "applied"
    SUGGESTED = "suggested"
    NEEDS_TRIAGE = "needs_triage"
    SHADOW = "shadow"
    SKIPPED = "skipped"
    FAILED = "failed"
    #: An acknowledged delivery that starts no ticket work (not a new ticket, a duplicate); reason says why.
    IGNORED = "ignored"
