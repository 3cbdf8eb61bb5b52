"""What the writer does with a classification: one function, so the rules live in one place."""

from __future__ import annotations

from dataclasses import dataclass

from autotriage.core.models import Action, CategoryState, Classification, Verdict
from autotriage.core.tenants import Policy


@dataclass(frozen=True)
class Decision:
    """The writer's plan: an action, why, and which writes it needs."""

    action: Action
    reason: str
    write_category: bool = False
    write_note: bool = False


def decide(
    policy: Policy,
    mode: str,
    result: Classification,
    seen: CategoryState,
    current: CategoryState,
) -> Decision:
    """Apply mode, thresholds and the never-fight-the-technician rules.

    ``seen`` is the ticket's category when it was classified, ``current`` the one re-read just before writing.
    """
    chosen = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
    if mode == "off":
        return Decision(Action.SKIPPED, "mode_off")
    if current.path != seen.path and current.path != chosen:
        return Decision(Action.SKIPPED, "changed_by_technician")
    if result.verdict is Verdict.SKIPPED:
        return Decision(Action.SKIPPED, result.reason or "skipped")
    if mode == "shadow":
        return Decision(Action.SHADOW, "shadow_mode")
    if chosen is None:
        reason = result.reason or ("abstained" if result.verdict is Verdict.ABSTAINED else "needs_human")
        return Decision(Action.NEEDS_TRIAGE, reason, write_note=policy.note_below_threshold)
    confidence = result.confidence
    if current.path == chosen:
        return Decision(Action.APPLIED, "already_applied", write_note=True)
    already_set = seen.is_set
    if already_set:
        if policy.overwrite_threshold is None:
            return Decision(Action.SKIPPED, "category_already_set")
        if confidence < policy.overwrite_threshold:
            return Decision(Action.SKIPPED, "category_already_set_below_overwrite_threshold")
    if confidence < policy.suggest_threshold:
        return Decision(Action.NEEDS_TRIAGE, "below_suggest_threshold", write_note=policy.note_below_threshold)
    if mode == "suggest" or confidence < policy.apply_threshold:
        reason = "suggest_mode" if mode == "suggest" else "below_apply_threshold"
        return Decision(Action.SUGGESTED, reason, write_note=True)
    return Decision(Action.APPLIED, "applied", write_category=True, write_note=True)
