"""What the writer does with a classification: one function, so the rules live in one place.

Order of the rules (first match wins):

1. mode ``off`` -> skipped ``mode_off``; a mode this build does not know -> skipped ``unknown_mode`` (never write).
2. the classifier skipped the ticket (noise, budget) -> skipped with the classifier's reason.
3. mode ``shadow`` -> ``shadow``, with the reason saying what ``apply`` would have done (``would_apply``, ...).
4. never fight the technician: the category changed between classification and the re-read just before the
   write -> skipped ``changed_by_technician`` (unless it is our own category write landing before a crash:
   then only the note is still owed, ``already_applied``).
5. thresholds: apply at or above ``apply_threshold``; suggest (note only) from ``suggest_threshold``; below it,
   or when the classifier abstained, ``needs_triage`` (a note only if ``note_below_threshold``). Mode ``suggest``
   turns an apply into a suggestion.
6. a category a person already set is kept (default), or replaced only at or above ``overwrite_threshold`` (and
   only by an apply or a suggestion, never by a needs-triage note).
"""

from __future__ import annotations

from dataclasses import dataclass

from autotriage.core.models import Action, CategoryState, Classification, Mode, Verdict
from autotriage.core.tenants import Policy

MODES = frozenset(Mode)


@dataclass(frozen=True)
class Decision:
    """The writer's plan: an action, why, and which writes it needs."""

    action: Action
    reason: str
    write_category: bool = False
    write_note: bool = False


def decide(
    policy: Policy,
    mode: Mode,
    result: Classification,
    seen: CategoryState,
    current: CategoryState,
) -> Decision:
    """Apply mode, thresholds and the never-fight-the-technician rules.

    ``seen`` is the ticket's category when it was classified, ``current`` the one re-read just before writing.
    """
    if mode == Mode.OFF:
        return Decision(Action.SKIPPED, "mode_off")
    if mode not in MODES:
        return Decision(Action.SKIPPED, "unknown_mode")
    if result.verdict is Verdict.SKIPPED:
        return Decision(Action.SKIPPED, result.reason or "skipped")
    if mode == Mode.SHADOW:
        return _shadow(_judge(policy, Mode.APPLY, result, seen, seen))
    return _judge(policy, mode, result, seen, current)


def _judge(policy: Policy, mode: Mode, result: Classification, seen: CategoryState, current: CategoryState) -> Decision:
    """Rules 4-6 for mode ``suggest`` or ``apply``."""
    chosen = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
    if current.path != seen.path:
        if mode == Mode.APPLY and chosen is not None and current.path == chosen:
            # Our own category write landed, then the process died before the note: finish the job.
            return Decision(Action.APPLIED, "already_applied", write_note=True)
        return Decision(Action.SKIPPED, "changed_by_technician")
    planned = _by_threshold(policy, mode, result, chosen)
    if not seen.is_set:
        return planned
    if chosen == seen.path or policy.overwrite_threshold is None:
        return Decision(Action.SKIPPED, "category_already_set")
    if result.confidence < policy.overwrite_threshold:
        return Decision(Action.SKIPPED, "category_already_set_below_overwrite_threshold")
    if planned.action not in (Action.APPLIED, Action.SUGGESTED):
        return Decision(Action.SKIPPED, "category_already_set")
    return planned


def _by_threshold(policy: Policy, mode: Mode, result: Classification, chosen: tuple[str, ...] | None) -> Decision:
    """Rule 5: what the confidence allows on a ticket without a category."""
    if chosen is None:
        reason = result.reason or ("abstained" if result.verdict is Verdict.ABSTAINED else "needs_human")
        return Decision(Action.NEEDS_TRIAGE, reason, write_note=policy.note_below_threshold)
    confidence = result.confidence
    if confidence < policy.suggest_threshold:
        return Decision(Action.NEEDS_TRIAGE, "below_suggest_threshold", write_note=policy.note_below_threshold)
    if mode == Mode.SUGGEST:
        return Decision(Action.SUGGESTED, "suggest_mode", write_note=True)
    if confidence < policy.apply_threshold:
        return Decision(Action.SUGGESTED, "below_apply_threshold", write_note=True)
    return Decision(Action.APPLIED, "applied", write_category=True, write_note=True)


_WOULD = {
    Action.APPLIED: "would_apply",
    Action.SUGGESTED: "would_suggest",
    Action.NEEDS_TRIAGE: "would_need_triage",
}


def _shadow(counterfactual: Decision) -> Decision:
    """A shadow outcome (no writes) whose reason tells what mode ``apply`` would have done."""
    reason = _WOULD.get(counterfactual.action, f"would_skip:{counterfactual.reason}")
    return Decision(Action.SHADOW, reason)
