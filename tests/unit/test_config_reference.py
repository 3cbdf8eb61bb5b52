"""docs/configuration.md is generated from the settings and tenants schemas and must stay current."""

from __future__ import annotations

from pathlib import Path

from autotriage.config_reference import SECTIONS, missing_meanings, render
from autotriage.core.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_key_has_a_meaning() -> None:
    assert missing_meanings() == [], "describe these keys in autotriage/config_reference.py (MEANINGS)"


def test_the_file_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: python -m autotriage.config_reference > docs/configuration.md")


def test_every_key_appears() -> None:
    text = render()
    for name in Settings.model_fields:
        assert f"`AUTOTRIAGE_{name.upper()}`" in text
    for _, model in SECTIONS:
        for name in model.model_fields:
            assert f"| `{name}` |" in text, f"{model.__name__}.{name}"
