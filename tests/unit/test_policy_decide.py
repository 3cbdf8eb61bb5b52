"""The writer's decision table: modes x thresholds x category already set x changed before the write."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotriage.core.models import Action, Candidate, CategoryState, Classification, Verdict
from autotriage.core.tenants import Policy
from autotriage.policy.decide import MODES, decide

LAPTOP = ("Hardware", "Laptop")
VPN = ("Network", "VPN")
UNSET = CategoryState()
TECH_VPN = CategoryState(path=VPN, native={"category_1": "Network>VPN"})
OURS = CategoryState(path=LAPTOP, native={"category_1": "Hardware>Laptop"})
POLICY = Policy(mode="apply", apply_threshold=0.8, suggest_threshold=0.5)


def chosen(confidence: float) -> Classification:
    return Classification(verdict=Verdict.CHOSEN, candidate=Candidate(id="1", path=LAPTOP), confidence=confidence)


ABSTAINED = Classification(verdict=Verdict.ABSTAINED, confidence=0.35, reason="abstained")
FILTERED = Classification(verdict=Verdict.NEEDS_HUMAN, reason="content_filter")
NOISE = Classification(verdict=Verdict.SKIPPED, reason="noise:out_of_office")
BUDGET = Classification(verdict=Verdict.SKIPPED, reason="budget_exhausted")

# mode, result, seen (at classification), current (re-read before the write), policy changes,
# expected (action, reason, write_category, write_note)
Expected = tuple[Action, str, bool, bool]
TABLE: list[tuple[str, str, Classification, CategoryState, CategoryState, dict[str, Any], Expected]] = [
    # modes
    ("off", "off", chosen(0.99), UNSET, UNSET, {}, (Action.SKIPPED, "mode_off", False, False)),
    ("unknown mode never writes", "aply", chosen(0.99), UNSET, UNSET, {},
     (Action.SKIPPED, "unknown_mode", False, False)),
    ("shadow, confident", "shadow", chosen(0.95), UNSET, UNSET, {}, (Action.SHADOW, "would_apply", False, False)),
    ("shadow, between", "shadow", chosen(0.6), UNSET, UNSET, {}, (Action.SHADOW, "would_suggest", False, False)),
    ("shadow, low", "shadow", chosen(0.2), UNSET, UNSET, {}, (Action.SHADOW, "would_need_triage", False, False)),
    ("shadow, abstained", "shadow", ABSTAINED, UNSET, UNSET, {}, (Action.SHADOW, "would_need_triage", False, False)),
    ("shadow, set", "shadow", chosen(0.95), TECH_VPN, TECH_VPN, {},
     (Action.SHADOW, "would_skip:category_already_set", False, False)),
    ("shadow, low + note", "shadow", chosen(0.2), UNSET, UNSET, {"note_below_threshold": True},
     (Action.SHADOW, "would_need_triage", False, False)),
    # the classifier skipped it
    ("noise", "apply", NOISE, UNSET, UNSET, {}, (Action.SKIPPED, "noise:out_of_office", False, False)),
    ("budget", "suggest", BUDGET, UNSET, UNSET, {}, (Action.SKIPPED, "budget_exhausted", False, False)),
    ("noise in shadow", "shadow", NOISE, UNSET, UNSET, {}, (Action.SKIPPED, "noise:out_of_office", False, False)),
    # thresholds, mode apply
    ("apply", "apply", chosen(0.95), UNSET, UNSET, {}, (Action.APPLIED, "applied", True, True)),
    ("apply at A", "apply", chosen(0.8), UNSET, UNSET, {}, (Action.APPLIED, "applied", True, True)),
    ("just below A", "apply", chosen(0.79), UNSET, UNSET, {}, (Action.SUGGESTED, "below_apply_threshold", False, True)),
    ("at B", "apply", chosen(0.5), UNSET, UNSET, {}, (Action.SUGGESTED, "below_apply_threshold", False, True)),
    ("below B", "apply", chosen(0.49), UNSET, UNSET, {},
     (Action.NEEDS_TRIAGE, "below_suggest_threshold", False, False)),
    ("below B + note", "apply", chosen(0.49), UNSET, UNSET, {"note_below_threshold": True},
     (Action.NEEDS_TRIAGE, "below_suggest_threshold", False, True)),
    ("abstained", "apply", ABSTAINED, UNSET, UNSET, {}, (Action.NEEDS_TRIAGE, "abstained", False, False)),
    ("needs human", "apply", FILTERED, UNSET, UNSET, {"note_below_threshold": True},
     (Action.NEEDS_TRIAGE, "content_filter", False, True)),
    # mode suggest never writes a category
    ("suggest", "suggest", chosen(0.99), UNSET, UNSET, {}, (Action.SUGGESTED, "suggest_mode", False, True)),
    ("suggest, low", "suggest", chosen(0.3), UNSET, UNSET, {},
     (Action.NEEDS_TRIAGE, "below_suggest_threshold", False, False)),
    # a category a person set before classification
    ("set, never overwrite", "apply", chosen(0.99), TECH_VPN, TECH_VPN, {},
     (Action.SKIPPED, "category_already_set", False, False)),
    ("set, same category", "apply", chosen(0.99), OURS, OURS, {"overwrite_threshold": 0.9},
     (Action.SKIPPED, "category_already_set", False, False)),
    ("set, below overwrite", "apply", chosen(0.93), TECH_VPN, TECH_VPN, {"overwrite_threshold": 0.95},
     (Action.SKIPPED, "category_already_set_below_overwrite_threshold", False, False)),
    ("set, above overwrite", "apply", chosen(0.97), TECH_VPN, TECH_VPN, {"overwrite_threshold": 0.95},
     (Action.APPLIED, "applied", True, True)),
    ("set, above overwrite, suggest", "suggest", chosen(0.97), TECH_VPN, TECH_VPN, {"overwrite_threshold": 0.95},
     (Action.SUGGESTED, "suggest_mode", False, True)),
    ("set, lax overwrite never triage-notes", "apply", chosen(0.4), TECH_VPN, TECH_VPN,
     {"overwrite_threshold": 0.3, "note_below_threshold": True},
     (Action.SKIPPED, "category_already_set", False, False)),
    ("set, abstained", "apply", ABSTAINED, TECH_VPN, TECH_VPN, {"note_below_threshold": True},
     (Action.SKIPPED, "category_already_set", False, False)),
    # changed between classification and the write
    ("tech set it meanwhile", "apply", chosen(0.99), UNSET, TECH_VPN, {},
     (Action.SKIPPED, "changed_by_technician", False, False)),
    ("tech set it meanwhile, suggest", "suggest", chosen(0.99), UNSET, TECH_VPN, {},
     (Action.SKIPPED, "changed_by_technician", False, False)),
    ("tech set it meanwhile, low", "apply", chosen(0.2), UNSET, TECH_VPN, {"note_below_threshold": True},
     (Action.SKIPPED, "changed_by_technician", False, False)),
    ("tech cleared it", "apply", chosen(0.99), TECH_VPN, UNSET, {"overwrite_threshold": 0.5},
     (Action.SKIPPED, "changed_by_technician", False, False)),
    ("tech set our pick, suggest", "suggest", chosen(0.99), UNSET, OURS, {},
     (Action.SKIPPED, "changed_by_technician", False, False)),
    ("our write landed, note owed", "apply", chosen(0.99), UNSET, OURS, {},
     (Action.APPLIED, "already_applied", False, True)),
    ("our overwrite landed, note owed", "apply", chosen(0.99), TECH_VPN, OURS, {"overwrite_threshold": 0.95},
     (Action.APPLIED, "already_applied", False, True)),
]


@pytest.mark.parametrize(("name", "mode", "result", "seen", "current", "changes", "expected"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_decision_table(
    name: str, mode: str, result: Classification, seen: CategoryState, current: CategoryState,
    changes: dict[str, Any], expected: Expected,
) -> None:
    policy = POLICY.model_copy(update=changes)
    decision = decide(policy, mode, result, seen, current)
    assert (decision.action, decision.reason, decision.write_category, decision.write_note) == expected


def test_scope_override_changes_mode_and_thresholds() -> None:
    policy = Policy.model_validate({"mode": "shadow", "scopes": {"25": {"mode": "apply", "apply_threshold": 0.9}}})
    assert decide(policy.for_scope("1"), policy.for_scope("1").mode, chosen(0.95), UNSET, UNSET).action is Action.SHADOW
    board = policy.for_scope("25")
    assert (board.mode, board.apply_threshold, board.suggest_threshold) == ("apply", 0.9, 0.5)
    assert decide(board, board.mode, chosen(0.95), UNSET, UNSET).action is Action.APPLIED
    assert decide(board, board.mode, chosen(0.85), UNSET, UNSET).action is Action.SUGGESTED


_paths = st.sampled_from([(), LAPTOP, VPN])


@given(
    mode=st.sampled_from([*sorted(MODES), "bogus"]),
    verdict=st.sampled_from(list(Verdict)),
    confidence=st.floats(0, 1),
    seen=_paths,
    current=_paths,
    overwrite=st.one_of(st.none(), st.floats(0, 1)),
    note_below=st.booleans(),
)
def test_invariants(
    mode: str, verdict: Verdict, confidence: float, seen: tuple[str, ...], current: tuple[str, ...],
    overwrite: float | None, note_below: bool,
) -> None:
    """Whatever the input: no write outside suggest/apply, never a category in suggest, never a write over a
    change made after classification, a category only at or above the thresholds."""
    candidate = Candidate(id="1", path=LAPTOP) if verdict is Verdict.CHOSEN else None
    result = Classification(verdict=verdict, candidate=candidate, confidence=confidence)
    policy = POLICY.model_copy(update={"overwrite_threshold": overwrite, "note_below_threshold": note_below})
    d = decide(policy, mode, result, CategoryState(path=seen), CategoryState(path=current))
    writes = d.write_category or d.write_note
    if mode not in ("suggest", "apply") or verdict is Verdict.SKIPPED:
        assert not writes
    if d.write_category:
        assert mode == "apply" and confidence >= policy.apply_threshold and current == seen
        assert not seen or (overwrite is not None and confidence >= overwrite)
    if current != seen:
        assert not writes or (mode == "apply" and current == LAPTOP and not d.write_category)
    if seen and current == seen and d.write_note:
        assert d.action in (Action.APPLIED, Action.SUGGESTED)
