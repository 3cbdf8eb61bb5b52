"""Insights: what the tickets say once their categories can be trusted.

Volume and technician time per category (from the PSA's time entries), the trend against the previous period,
the best automation candidates (volume x time x repetitiveness, with example tickets) and taxonomy hygiene
(categories never used, categories technicians rarely keep, confused pairs, catch-all overuse).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from autotriage.policy.feedback import AgreementReport
from autotriage.psa.base import ClosedTicket

UNCATEGORIZED = ("(uncategorized)",)
CATCH_ALL = re.compile(r"\b(other|misc|miscellaneous|general|unknown|catch[- ]?all|uncategori[sz]ed)\b", re.I)
#: A catch-all category holding more than this share of the tickets is flagged.
CATCH_ALL_SHARE = 0.10
#: Categories with fewer tickets than this are not judged for automation or keep rate.
MIN_TICKETS = 5
EXAMPLES = 3


@dataclass
class CategoryStats:
    """One category in one period."""

    path: tuple[str, ...]
    tickets: int = 0
    hours: float = 0.0
    previous_tickets: int = 0
    previous_hours: float = 0.0
    repetitiveness: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``A > B``."""
        return " > ".join(self.path)

    @property
    def mean_hours(self) -> float:
        """Technician hours per ticket."""
        return self.hours / self.tickets if self.tickets else 0.0

    @property
    def trend(self) -> float | None:
        """Change in ticket count against the previous period (``None`` when it had none)."""
        return (self.tickets - self.previous_tickets) / self.previous_tickets if self.previous_tickets else None

    @property
    def automation_score(self) -> float:
        """Hours a year-round automation could save, weighted by how alike the tickets are."""
        return self.hours * self.repetitiveness


@dataclass
class Insights:
    """One tenant's insights for one period."""

    tenant: str
    tickets: int
    hours: float
    previous_tickets: int
    categories: list[CategoryStats]
    unused: list[tuple[str, ...]]
    rarely_kept: list[tuple[tuple[str, ...], float, int]]
    confused: list[tuple[tuple[str, ...], tuple[str, ...], int]]
    catch_all: list[tuple[tuple[str, ...], float]]

    @property
    def automation(self) -> list[CategoryStats]:
        """The best automation candidates first (categories with enough tickets)."""
        found = [c for c in self.categories if c.tickets >= MIN_TICKETS and c.path != UNCATEGORIZED]
        return sorted(found, key=lambda c: -c.automation_score)


def _repetitiveness(texts: Sequence[str]) -> tuple[float, list[int]]:
    """Mean cosine of the tickets to their centroid (TF-IDF over summaries), and the most typical ones."""
    if len(texts) < 2:
        return 0.0, list(range(len(texts)))
    try:
        x = normalize(TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts))
    except ValueError:  # no words at all
        return 0.0, []
    centroid = np.asarray(x.mean(axis=0)).ravel()
    norm = float(np.linalg.norm(centroid))
    if norm == 0:
        return 0.0, []
    similarity = np.asarray(x @ (centroid / norm)).ravel()
    return float(similarity.mean()), [int(i) for i in np.argsort(-similarity)]


def compute(tenant: str, current: Sequence[ClosedTicket], previous: Sequence[ClosedTicket],
            taxonomy: Sequence[tuple[str, ...]], report: AgreementReport | None = None) -> Insights:
    """Aggregate one period (and the one before it) of closed tickets; ``report`` adds keep rates."""
    stats: dict[tuple[str, ...], CategoryStats] = {}
    texts: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for item in current:
        path = item.ticket.category.path or UNCATEGORIZED
        row = stats.setdefault(path, CategoryStats(path))
        row.tickets += 1
        row.hours += item.hours or 0.0
        texts[path].append(item.ticket.summary)
    for item in previous:
        path = item.ticket.category.path or UNCATEGORIZED
        row = stats.setdefault(path, CategoryStats(path))
        row.previous_tickets += 1
        row.previous_hours += item.hours or 0.0
    for path, row in stats.items():
        summaries = texts.get(path, [])
        row.repetitiveness, order = _repetitiveness(summaries)
        seen: set[str] = set()
        for i in order:  # the most typical tickets, each wording once
            key = " ".join(summaries[i].casefold().split())
            if key not in seen and len(row.examples) < EXAMPLES:
                seen.add(key)
                row.examples.append(summaries[i])
    total = len(current)
    used = {p for p, row in stats.items() if row.tickets}
    unused = sorted({tuple(p) for p in taxonomy} - used)
    rarely_kept: list[tuple[tuple[str, ...], float, int]] = []
    confused: list[tuple[tuple[str, ...], tuple[str, ...], int]] = []
    if report is not None:
        for path, rate in report.by_category.items():
            if rate.total >= MIN_TICKETS and rate.ratio is not None and rate.ratio < 0.5:
                rarely_kept.append((path, rate.ratio, rate.total))
        rarely_kept.sort(key=lambda r: r[1])
        confused = [(ours, theirs, n) for (ours, theirs), n in report.confused.most_common(5)]
    catch_all = sorted(((p, row.tickets / total) for p, row in stats.items()
                        if total and p != UNCATEGORIZED and any(CATCH_ALL.search(part) for part in p)
                        and row.tickets / total > CATCH_ALL_SHARE), key=lambda r: -r[1])
    ordered = sorted(stats.values(), key=lambda c: (-c.hours, -c.tickets, c.label))
    return Insights(tenant, total, sum(r.hours for r in stats.values()), len(previous), ordered, unused,
                    rarely_kept, confused, catch_all)


def summary_lines(insights: Insights, top: int = 3) -> list[str]:
    """A few lines for a terminal (the demo's closing summary)."""
    lines = [f"{insights.tickets} tickets closed, {insights.hours:.0f} technician hours "
             f"(previous period: {insights.previous_tickets} tickets)"]
    busiest = [c for c in insights.categories if c.tickets][:top]
    lines.append("most time: " + "; ".join(f"{c.label} {c.hours:.0f} h / {c.tickets} tickets" for c in busiest))
    if insights.automation:
        best = insights.automation[0]
        lines.append(f"automate first: {best.label} ({best.tickets} tickets, {best.mean_hours:.1f} h each, "
                     f"alike {best.repetitiveness:.0%}), e.g. \"{best.examples[0] if best.examples else ''}\"")
    lines.append(f"taxonomy: {_count(len(insights.unused), 'category', 'categories')} unused, "
                 f"{_count(len(insights.catch_all), 'catch-all category', 'catch-all categories')} overused, "
                 f"{_count(len(insights.rarely_kept), 'category', 'categories')} rarely kept by technicians")
    return lines


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
