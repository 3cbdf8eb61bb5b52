"""How well the noise filter does on labelled tickets: precision and recall of "noise or not", and per kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from autotriage.core.models import Ticket
from autotriage.policy.noise import detect_noise


@dataclass
class NoiseScore:
    """Counts of one evaluation; ``missed`` and ``false_alarms`` hold (ticket id, kind, cue or title)."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    wrong_kind: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    found_by_kind: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[str, str, str]] = field(default_factory=list)
    false_alarms: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        """Share of tickets called noise that are noise (None when nothing was called noise)."""
        called = self.true_positive + self.false_positive
        return self.true_positive / called if called else None

    @property
    def recall(self) -> float | None:
        """Share of noise tickets called noise (None when the data has no noise)."""
        noise = self.true_positive + self.false_negative
        return self.true_positive / noise if noise else None

    @property
    def total(self) -> int:
        """Tickets scored."""
        return self.true_positive + self.false_positive + self.false_negative + self.true_negative


def score_noise(labelled: Iterable[tuple[Ticket, str | None]]) -> NoiseScore:
    """Run the filter on each (ticket, labelled kind or None) and count agreement."""
    score = NoiseScore()
    for ticket, truth in labelled:
        found = detect_noise(ticket)
        if truth:
            score.by_kind[truth] += 1
        if truth and found:
            score.true_positive += 1
            score.found_by_kind[truth] += 1
            score.wrong_kind += found.kind != truth
        elif truth:
            score.false_negative += 1
            score.missed.append((ticket.id, truth, ticket.summary[:80]))
        elif found:
            score.false_positive += 1
            score.false_alarms.append((ticket.id, found.kind, found.cue))
        else:
            score.true_negative += 1
    return score
