"""Strict ``json_schema`` response formats: candidate ids as an enum, an explicit abstain option.

Limits of the strict grammar at the safe floor (Azure, older deployments): 500 enum values in total, at most
7,500 characters in an enum of more than 250 values, 15,000 characters of names and values in all (newer
api.openai.com: 1,000 values, 15,000 and 120,000 characters). ``fits_enum`` decides whether one pick can list
every candidate or a two-stage pick is needed."""

from __future__ import annotations

from typing import Any

from autotriage.llm.prompt import ABSTAIN_ID

SCHEMA_NAME = "ticket_category"
MANY_ENUM_VALUES = 250


def choice_schema(ids: list[str], reasoning_max_chars: int = 400, *, confidence: bool = True) -> dict[str, Any]:
    """A strict schema (every property required, no additional properties) for one pick among ``ids``.

    ``category_id`` comes first so its tokens (and their logprobs) are generated before the explanation.
    ``confidence=False`` leaves out the self-rated ``confidence`` (about 25 prompt and 6 answer tokens) for
    requests whose confidence comes from the logprobs of the ``category_id`` tokens."""
    properties: dict[str, Any] = {"category_id": {"type": "string", "enum": [*ids, ABSTAIN_ID]}}
    if confidence:
        properties["confidence"] = {"type": "number", "description": "probability 0..1 that the pick is right"}
    properties["reasoning"] = {"type": "string", "description": f"at most {reasoning_max_chars} characters"}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": SCHEMA_NAME,
            "strict": True,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


def enum_char_limit(max_enum: int) -> int:
    """Characters allowed in one enum of more than 250 values (7,500 at the 500-value floor, else 15,000)."""
    return 7_500 if max_enum <= 500 else 15_000


def fits_enum(ids: list[str], max_enum: int) -> bool:
    """Whether ``ids`` plus the abstain option fit one enum within ``max_enum`` values and the character limit."""
    values = len(ids) + 1
    if values > max_enum:
        return False
    chars = sum(len(i) for i in ids) + len(ABSTAIN_ID)
    total_limit = 15_000 if max_enum <= 500 else 120_000  # property names + enum values of the whole schema
    if chars + 100 > total_limit:
        return False
    return values <= MANY_ENUM_VALUES or chars <= enum_char_limit(max_enum)
