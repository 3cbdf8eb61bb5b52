"""The local model standing in for a failed LLM only ever suggests."""

from __future__ import annotations

from autotriage.classifier.stage import _fallback_mode
from autotriage.core.classifier import FALLBACK_REASON
from autotriage.core.models import Classification, Verdict


def test_fallback_turns_apply_into_suggest() -> None:
    fallback = Classification(verdict=Verdict.CHOSEN, reason=FALLBACK_REASON, confidence=0.99)
    assert _fallback_mode("apply", fallback) == "suggest"
    assert _fallback_mode("shadow", fallback) == "shadow"
    assert _fallback_mode("suggest", fallback) == "suggest"


def test_a_normal_result_keeps_the_mode() -> None:
    assert _fallback_mode("apply", Classification(verdict=Verdict.CHOSEN, confidence=0.99)) == "apply"
