"""The README's examples stay true: its tenants file validates and its commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from autotriage.cli import build_parser
from autotriage.core.tenants import parse_tenants

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_tenants_file_example_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.DOTALL)
    assert blocks
    for block in blocks:
        if block.lstrip().startswith("tenants:"):
            parse_tenants(block, "README.md")


def test_every_autotriage_command_in_the_readme_parses() -> None:
    parser = build_parser()
    commands = re.findall(r"^(?:.*&& )?autotriage ([a-z][^#\n]*?)\s*(?:#.*)?$", README, re.MULTILINE)
    assert len(commands) >= 8
    for command in commands:
        args = shlex.split(command)
        parser.parse_args(args)  # every subcommand: the full run is tests/integration/test_readme_commands.py
