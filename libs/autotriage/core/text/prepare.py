"""Ticket text for the prompt: cleaned once (``clean.py``), optionally redacted, then trimmed to a token budget
counted offline."""

from __future__ import annotations

from collections.abc import Callable

from autotriage.core.models import Ticket
from autotriage.core.text.clean import clean_summary, clean_ticket_text, summary_is_forward
from autotriage.core.text.tokens import CHARS_PER_TOKEN_CUT, count_tokens, head, trim_to_tokens

SUMMARY_TOKENS = 80
MIN_DESCRIPTION_TOKENS = 50
#: Characters of cleaned description redacted and sent at most, whatever the budget (about 2,000 tokens).
MAX_PROMPT_CHARS = 9_000


class PreparedTicket(Ticket):
    """A ticket whose summary and description are already what the model reads: cleaned, redacted when the
    tenant's policy says so, and trimmed to the budget. Nothing cleans it a second time."""


def prepare_ticket(ticket: Ticket, budget: int, redact: Callable[[Ticket], Ticket] | None = None) -> PreparedTicket:
    """The ticket as the model sees it: summary and description cleaned (once), ``redact``-ed, and trimmed so
    that together they fit ``budget`` tokens. A ``PreparedTicket`` is returned unchanged."""
    if isinstance(ticket, PreparedTicket):
        return ticket
    summary = clean_summary(ticket.summary)
    description = clean_ticket_text(ticket.description, forwarded=summary_is_forward(ticket.summary))
    description = head(description, min(max(budget, MIN_DESCRIPTION_TOKENS) * CHARS_PER_TOKEN_CUT, MAX_PROMPT_CHARS))
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
