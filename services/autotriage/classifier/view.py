"""What the model sees of a ticket: the noise verdict, then the text cleaned once, redacted, trimmed to the budget.

One function for the classifier stage and for ``autotriage preview``, so the preview shows exactly what would
be sent. The classifier prepares large inputs in a worker process (``text_pool.py``) so that one hostile e-mail
never stalls the event loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from autotriage.core.models import Ticket
from autotriage.core.tenants import Policy
from autotriage.core.text.clean import plain_text
from autotriage.core.text.pii import redact_ticket
from autotriage.core.text.prepare import prepare_ticket
from autotriage.policy.noise import Noise, detect_noise


@dataclass(frozen=True)
class PromptView:
    """The noise verdict (None: classify), the ticket as the model reads it, placeholders replaced by kind."""

    noise: Noise | None
    ticket: Ticket
    redactions: Counter[str] = field(default_factory=Counter)


def as_read(ticket: Ticket) -> Ticket:
    """The ticket with its description as plain text (control characters and markup removed), as the noise
    filter and the cleaning read it."""
    return ticket.model_copy(update={"description": plain_text(ticket.description)})


def prompt_view(ticket: Ticket, policy: Policy, budget: int) -> PromptView:
    """The ticket as the tenant's policy lets the model see it (noise first: noise is never prepared).

    Both steps read the description as plain text (control characters and HTML markup removed once)."""
    ticket = as_read(ticket)
    if policy.noise_filter and (noise := detect_noise(ticket)) is not None:
        return PromptView(noise, ticket)
    found: Counter[str] = Counter()

    def redact(cleaned: Ticket) -> Ticket:
        safe, counts = redact_ticket(cleaned)
        found.update(counts)
        return safe

    return PromptView(None, prepare_ticket(ticket, budget, redact if policy.redact_pii else None), found)

