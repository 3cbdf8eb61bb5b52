"""Token accounting and USD cost from the configured price table."""

from __future__ import annotations

from typing import Any

from autotriage.core.models import Usage
from autotriage.core.tenants import Price


def usage_from_openai(usage: Any, price: Price | None) -> Usage:
    """Usage and cost of one Chat Completions response (``prompt_tokens`` includes cached tokens)."""
    if usage is None:
        return Usage(calls=1)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    cached = int(getattr(prompt_details, "cached_tokens", 0) or 0) if prompt_details else 0
    reasoning = int(getattr(completion_details, "reasoning_tokens", 0) or 0) if completion_details else 0
    return Usage(
        prompt_tokens=prompt,
        cached_tokens=cached,
        completion_tokens=completion,
        reasoning_tokens=reasoning,
        cost_usd=cost_usd(prompt, cached, completion, price),
        calls=1,
    )


def cost_usd(prompt: int, cached: int, completion: int, price: Price | None) -> float:
    """(prompt - cached) * in + cached * cached_in + completion * out, per 1M tokens."""
    if price is None:
        return 0.0
    return ((prompt - cached) * price.input + cached * price.cached_input + completion * price.output) / 1_000_000


#: The Batch API bills every token at half the model's price.
BATCH_DISCOUNT = 0.5


def batch_price(price: Price | None) -> Price | None:
    """The model's price for Batch API requests (50 % of input, cached input and output)."""
    if price is None:
        return None
    return Price(input=price.input * BATCH_DISCOUNT, cached_input=price.cached_input * BATCH_DISCOUNT,
                 output=price.output * BATCH_DISCOUNT)
