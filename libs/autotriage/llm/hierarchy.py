"""Two-stage picks for taxonomies above the enum limit: one level of the category tree at a time.

At depth ``d`` the candidates are grouped by ``path[d]``: a group of several candidates becomes one option
(a pseudo-candidate ``g<n>`` whose label names a few of its children), a group of one is offered as itself,
and a candidate whose path ends above ``d`` is offered directly. After the model picks a group, only that
group's candidates are offered next (one level deeper)."""

from __future__ import annotations

from dataclasses import dataclass, field

from autotriage.core.models import Candidate

HINT_CHILDREN = 6


@dataclass
class Level:
    """The options of one stage and, for each group option, the candidates behind it."""

    options: list[Candidate] = field(default_factory=list)
    members: dict[str, list[Candidate]] = field(default_factory=dict)


def split_level(candidates: list[Candidate], depth: int) -> Level:
    """Group ``candidates`` by their path element at ``depth`` (see the module docstring)."""
    taken = {c.id for c in candidates}
    groups: dict[str, list[Candidate]] = {}
    level = Level()
    for candidate in candidates:
        if len(candidate.path) <= depth:
            level.options.append(candidate)
        else:
            groups.setdefault(candidate.path[depth], []).append(candidate)
    number = 0
    for name, members in groups.items():
        if len(members) == 1:
            level.options.append(members[0])
            continue
        number += 1
        option_id = _free_id(f"g{number}", taken)
        prefix = members[0].path[:depth]
        level.options.append(Candidate(id=option_id, path=(*prefix, f"{name}{_hint(members, depth)}")))
        level.members[option_id] = members
    return level


def deepest(candidates: list[Candidate]) -> int:
    """Length of the longest path."""
    return max((len(c.path) for c in candidates), default=0)


def _hint(members: list[Candidate], depth: int) -> str:
    children = list(dict.fromkeys(c.path[depth + 1] for c in members if len(c.path) > depth + 1))
    if not children:
        return ""
    shown = ", ".join(children[:HINT_CHILDREN])
    more = ", ..." if len(children) > HINT_CHILDREN else ""
    return f" (includes: {shown}{more})"


def _free_id(wanted: str, taken: set[str]) -> str:
    option_id = wanted
    while option_id in taken:
        option_id = f"g{option_id}"
    taken.add(option_id)
    return option_id
