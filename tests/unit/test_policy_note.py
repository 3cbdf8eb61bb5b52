"""The PSA note: reads well for apply, suggest and needs-triage; ends with the marker; holds no ticket text."""

from __future__ import annotations

import pytest

from autotriage.core.errors import ConfigError
from autotriage.core.models import Action, Candidate, Classification, ConfidenceSource, Verdict
from autotriage.policy.note import render_note

MARKER = "[autotriage:acme:1001]"
RESULT = Classification(
    verdict=Verdict.CHOSEN, candidate=Candidate(id="7", path=("Hardware", "Laptop", "Won't boot")), confidence=0.914,
    confidence_source=ConfidenceSource.LOGPROBS, reasoning="Black screen at power-on on a laptop.", model="gpt-4o-mini",
)


def test_applied() -> None:
    note = render_note(None, action=Action.APPLIED, result=RESULT, mode="apply", marker=MARKER)
    assert note == (
        "autotriage set the category: Hardware > Laptop > Won't boot\n"
        "Confidence: 91%. If it is wrong, just set the right category; autotriage will not change it again.\n"
        "Why: Black screen at power-on on a laptop.\n"
        "Model: gpt-4o-mini | Mode: apply\n"
        f"{MARKER}"
    )


def test_suggested() -> None:
    note = render_note(None, action=Action.SUGGESTED, result=RESULT.model_copy(update={"confidence": 0.62}),
                       mode="suggest", marker=MARKER)
    assert note.splitlines()[:2] == [
        "autotriage suggests the category: Hardware > Laptop > Won't boot (not applied)",
        "Confidence: 62%. Set it on the ticket if you agree.",
    ]
    assert note.endswith(f"Model: gpt-4o-mini | Mode: suggest\n{MARKER}")


def test_needs_triage_with_and_without_a_guess() -> None:
    low = RESULT.model_copy(update={"confidence": 0.31})
    note = render_note(None, action=Action.NEEDS_TRIAGE, result=low, mode="apply", marker=MARKER)
    assert note.splitlines()[:2] == [
        "autotriage could not categorize this ticket with enough confidence; please triage it.",
        "Best guess: Hardware > Laptop > Won't boot (31% confidence).",
    ]
    abstained = Classification(verdict=Verdict.ABSTAINED, confidence=0.35, reasoning="No category fits a fax.",
                               model="gpt-4o-mini")
    note = render_note(None, action=Action.NEEDS_TRIAGE, result=abstained, mode="apply", marker=MARKER)
    assert "Best guess" not in note and "%" not in note
    assert note.splitlines()[1] == "Why: No category fits a fax."


def test_tenant_template_and_marker_always_last() -> None:
    note = render_note("{{ category }} ({{ confidence_pct }}%, {{ confidence_source }})", action=Action.APPLIED,
                       result=RESULT, mode="apply", marker=MARKER)
    assert note == f"Hardware > Laptop > Won't boot (91%, logprobs)\n{MARKER}"


@pytest.mark.parametrize("field", ["summary", "description", "ticket", "ticket.summary", "contact_email", "headers"])
def test_no_ticket_text_is_reachable_from_a_template(field: str) -> None:
    """The context has no ticket fields, so no template can echo what the ticket (or its PII) said."""
    with pytest.raises(ConfigError):
        render_note(f"{{{{ {field} }}}}", action=Action.APPLIED, result=RESULT, mode="apply", marker=MARKER)


def test_broken_template_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="note_template"):
        render_note("{% if %}", action=Action.APPLIED, result=RESULT, mode="apply", marker=MARKER)
