"""The model's answer: parsed from (possibly fenced) JSON, with a confidence from token logprobs when present."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autotriage.core.models import ConfidenceSource

_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """One pick as the model stated it."""

    category_id: str
    confidence: float
    reasoning: str


def parse_answer(content: str) -> Answer | None:
    """The answer in ``content``: bare JSON, JSON in a Markdown fence, or the first ``{...}`` object in text."""
    for text in _json_candidates(content):
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("category_id"), str):
            return Answer(str(data["category_id"]).strip(), _unit(data.get("confidence")),
                          str(data.get("reasoning") or ""))
    return None


def _json_candidates(content: str) -> list[str]:
    text = content.strip()
    found = [text]
    fenced = _FENCE.search(text)
    if fenced:
        found.append(fenced.group(1))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        found.append(text[start : end + 1])
    return found


def _unit(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    if number > 1.0 and number <= 100.0:  # a percentage
        number /= 100.0
    return min(1.0, max(0.0, number)) if math.isfinite(number) else 0.0


def logprob_confidence(category_id: str, tokens: Sequence[Any] | None) -> float | None:
    """P(the chosen id) = exp(sum of the logprobs of the tokens spelling the ``category_id`` value).

    ``tokens`` is ``choice.logprobs.content``; byte offsets are used, so ids split inside a UTF-8 character
    still line up. ``None`` when there are no logprobs or the id cannot be found after ``"category_id"``."""
    if not tokens:
        return None
    text = b""
    spans: list[tuple[int, int, float]] = []
    for token in tokens:
        raw = bytes(token.bytes) if getattr(token, "bytes", None) is not None else str(token.token).encode()
        spans.append((len(text), len(text) + len(raw), float(token.logprob)))
        text += raw
    key_at = text.find(b'"category_id"')
    if key_at < 0:
        return None
    for needle in {json.dumps(category_id).encode(), json.dumps(category_id, ensure_ascii=False).encode()}:
        at = text.find(needle, key_at + len(b'"category_id"'))
        if at >= 0:
            lo, hi = at + 1, at + len(needle) - 1
            logprob = sum(lp for start, end, lp in spans if start < hi and end > lo)
            return min(1.0, max(0.0, math.exp(logprob)))
    return None


def confidence_of(answer: Answer, choice: Any) -> tuple[float, ConfidenceSource]:
    """Logprob confidence when the response carries logprobs, else the model's own rating."""
    tokens = getattr(getattr(choice, "logprobs", None), "content", None)
    found = logprob_confidence(answer.category_id, tokens)
    if found is not None:
        return found, ConfidenceSource.LOGPROBS
    return answer.confidence, ConfidenceSource.SELF_RATED
