"""What an OpenAI / Azure OpenAI error means for us: retry (and when), pause the tenant, or give up.

Transient: 429 rate limits (``rate_limit_exceeded``, ``slow_down``, Azure's token/request limits), 408/409,
5xx, timeouts and connection errors. Never retried: 429 quota errors (``insufficient_quota``,
``credit_balance_exhausted``, ``*_spend_limit_exceeded``), Azure's 400 ``content_filter``, other 4xx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import openai

from autotriage.core.resilience import retry_after_seconds

QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached",
                         "billing_not_active", "quota_exceeded"})
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


@dataclass(frozen=True)
class Failure:
    """One failed request: ``kind`` is a bounded metric label; ``wait`` the delay the server asked for."""

    kind: str
    retriable: bool
    wait: float | None = None


def error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    """The ``error`` object of an API error body (``{}`` for HTML or empty bodies)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return error if isinstance(error, dict) else {}


def error_code(exc: openai.APIStatusError) -> str:
    """``error.code`` (``content_filter``, ``insufficient_quota``, ``rate_limit_exceeded``...)."""
    return str(error_body(exc).get("code") or "")


def error_param(exc: openai.APIStatusError) -> str:
    """``error.param``: the request parameter the API objects to, if any."""
    return str(error_body(exc).get("param") or "")


def is_quota_error(exc: openai.APIStatusError) -> bool:
    """Whether a 429 means the account is out of credit (never retry) rather than a rate limit."""
    error = error_body(exc)
    code = str(error.get("code") or "")
    kind = str(error.get("type") or "")
    return code in QUOTA_CODES or kind in QUOTA_CODES or code.endswith("_spend_limit_exceeded")


def classify_failure(exc: Exception) -> Failure:
    """Map an SDK exception (or our own total-deadline ``TimeoutError``) to what to do about it."""
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("connection_error", True)
    if isinstance(exc, openai.RateLimitError):
        if is_quota_error(exc):
            return Failure("quota_exhausted", False)
        return Failure("rate_limited", True, server_delay(exc.response.headers))
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500 or status in (408, 409):
            return Failure("server_error", True, server_delay(exc.response.headers))
        if status == 400 and error_code(exc) == "content_filter":
            return Failure("content_filter", False)
        if status in (401, 403):
            return Failure("auth_error", False)
        if status == 404:
            return Failure("not_found", False)
        return Failure("bad_request", False)
    return Failure("unexpected", True)


def server_delay(headers: Any) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date), else
    the longest ``x-ratelimit-reset-*`` duration (``6m0s``, ``20ms``) of an exhausted limit."""
    hinted = retry_after_seconds(headers)
    if hinted is not None:
        return hinted
    delays = [
        parse_duration(headers.get(f"x-ratelimit-reset-{kind}") or "")
        for kind in ("requests", "tokens")
        if headers.get(f"x-ratelimit-remaining-{kind}") == "0"
    ]
    found = [d for d in delays if d is not None]
    return max(found) if found else None


def parse_duration(text: str) -> float | None:
    """``6m0s`` -> 360.0, ``20ms`` -> 0.02, ``1.5s`` -> 1.5; ``None`` when unparseable."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)
