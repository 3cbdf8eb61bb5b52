"""Ticket text for the local model: the same cleaning the LLM prompt gets (quoted replies, signatures and
disclaimers dropped) and the same PII redaction, so the model file never holds personal data or secrets."""

from __future__ import annotations

import re

from autotriage.core.text.clean import clean_summary, clean_ticket_text, collapse_whitespace
from autotriage.core.text.pii import Redactor

#: Characters of description kept for features (long alert dumps add nothing after this).
MAX_DESCRIPTION_CHARS = 3000
#: Characters of a past ticket shown as a few-shot example.
EXAMPLE_CHARS = 220

_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|IP|CARD|SECRET)_\d+\]")


def redacted(summary: str, description: str) -> tuple[str, str]:
    """Summary and description, cleaned and with personal data replaced by placeholders."""
    redactor = Redactor()
    return (clean_summary(redactor.redact(summary)),
            clean_ticket_text(redactor.redact(description[: MAX_DESCRIPTION_CHARS * 2])))


def _features(short: str, body: str) -> str:
    return _PLACEHOLDER.sub(" ", f"{short}\n{short}\n{body[:MAX_DESCRIPTION_CHARS]}")


def _example(short: str, body: str) -> str:
    text = collapse_whitespace(f"{short}: {body}" if body else short).replace("\n", " ")
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1].rstrip() + "…"


def feature_text(summary: str, description: str) -> str:
    """What the vectorizers read: summary (twice: it is the densest signal) and description, without
    placeholders (their numbering carries no meaning)."""
    return _features(*redacted(summary, description))


def prepared_feature_text(summary: str, description: str) -> str:
    """``feature_text`` of a summary and description that are already cleaned and redacted."""
    return _features(summary, description)


def example_text(summary: str, description: str) -> str:
    """A short, redacted one-line rendering of a past ticket for the LLM prompt."""
    return _example(*redacted(summary, description))


def training_texts(summary: str, description: str) -> tuple[str, str]:
    """``feature_text`` and ``example_text`` of one ticket, cleaned and redacted once."""
    short, body = redacted(summary, description)
    return _features(short, body), _example(short, body)
