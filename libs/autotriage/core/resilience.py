"""Retries of outbound calls (PSA APIs and LLM providers), in one place: how long the server asks us to wait
(``Retry-After``), exponential back-off with jitter, how many retries are made in place, and which requests
may be resent at all.

A wait longer than ``RetryPolicy.max_inline_wait_s`` is never slept in place: the caller raises
``TransientError(retry_after_s=...)`` and the runtime's retry tiers take the record, so no handler slot is held.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

#: Statuses that mean "try again later" from any HTTP API.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods whose repetition can create a second effect (a second note); see ``may_retry_in_place``.
NOT_IDEMPOTENT = frozenset({"POST"})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_retries`` after the first attempt, exponential back-off with jitter, and at
    least the delay the server named."""

    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    max_inline_wait_s: float = 20.0

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1-based): ``min(cap, base * 2^(n-1))`` with 50-100 % jitter."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (retry - 1))
        return float(ceiling * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not a secret

    def delay(self, retry: int, hinted: float | None = None) -> float | None:
        """Seconds to sleep before retry number ``retry``, or ``None`` when it must not be made in place (the
        retries are spent or the wait is longer than ``max_inline_wait_s``)."""
        wait = max(hinted or 0.0, self.backoff(retry))
        if retry > self.max_retries or wait > self.max_inline_wait_s:
            return None
        return wait


def may_retry_in_place(method: str, *, not_processed: bool) -> bool:
    """Whether a failed request may be resent at once. An idempotent one always; a POST only when the answer
    says it was not processed (429): after a timeout or 5xx it may have landed, and the caller's retry path
    (which checks for the earlier write first) decides instead."""
    return method.upper() not in NOT_IDEMPOTENT or not_processed


def retry_after_seconds(headers: Mapping[str, str], default: float | None = None) -> float | None:
    """The wait a server asks for: ``retry-after-ms`` (OpenAI, Azure), else ``Retry-After`` as seconds or an
    HTTP date; ``default`` when absent or unreadable (negative waits count as 0)."""
    millis = _header(headers, "retry-after-ms")
    if millis:
        seconds = _number(millis)
        if seconds is not None:
            return max(0.0, seconds / 1000)
    value = _header(headers, "retry-after")
    if not value:
        return default
    seconds = _number(value)
    if seconds is None:
        seconds = _http_date_from_now(value)
    return default if seconds is None else max(0.0, seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the mapping's case handling."""
    return headers.get(name) or headers.get(name.title()) or headers.get(name.upper())


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _http_date_from_now(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):  # neither a number nor an HTTP date: ignore the hint
        return None
    if parsed.tzinfo is None:  # HTTP dates are GMT
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() - time.time()
