"""Strict ``json_schema`` response formats: candidate ids as an enum, an explicit abstain option."""

from __future__ import annotations

from typing import Any

from autotriage.llm.prompt import ABSTAIN_ID


def choice_schema(ids: list[str], reasoning_max_chars: int = 400) -> dict[str, Any]:
    """A strict schema (every property required, no additional properties) for one pick among ``ids``."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "ticket_category",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {
                    "category_id": {"type": "string", "enum": [*ids, ABSTAIN_ID]},
                    "confidence": {"type": "number", "description": "probability 0..1 that the pick is right"},
                    "reasoning": {"type": "string", "description": f"at most {reasoning_max_chars} characters"},
                },
                "required": ["category_id", "confidence", "reasoning"],
                "additionalProperties": False,
            },
        },
    }
