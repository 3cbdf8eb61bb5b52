"""One retry policy for PSA and LLM calls: Retry-After in all its forms, capped back-off, the POST rule."""

from __future__ import annotations

import email.utils
import time

import pytest

from autotriage.core.resilience import RetryPolicy, may_retry_in_place, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the finer OpenAI/Azure header wins
        ({"Retry-After": "12"}, 12.0),
        ({"RETRY-AFTER": "3"}, 3.0),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: go now
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_http_date_in_the_future() -> None:
    hinted = retry_after_seconds({"Retry-After": email.utils.formatdate(time.time() + 30, usegmt=True)})
    assert hinted is not None and 25 < hinted <= 30


def test_delay_honours_the_hint_and_gives_up_past_the_inline_limit() -> None:
    policy = RetryPolicy(max_retries=2, backoff_base_s=0.5, backoff_cap_s=8, max_inline_wait_s=10)
    assert all(0.25 <= (policy.delay(1) or 0) <= 0.5 for _ in range(50))
    assert policy.delay(1, hinted=4.0) == 4.0
    assert policy.delay(1, hinted=11.0) is None  # longer than we sleep in place: the retry tiers take it
    assert policy.delay(3) is None  # retries spent
    assert all(4 <= RetryPolicy(backoff_cap_s=8).backoff(10) <= 8 for _ in range(50))


def test_only_a_post_the_server_did_not_process_is_resent_in_place() -> None:
    assert may_retry_in_place("GET", not_processed=False)
    assert may_retry_in_place("patch", not_processed=False)
    assert may_retry_in_place("POST", not_processed=True)  # 429: not processed
    assert not may_retry_in_place("post", not_processed=False)  # 5xx/timeout: it may have landed
