"""What the pipeline benchmark's modules share: the checkout root, the stage names, the LLM marker, the console."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingress", "normalizer", "taxonomy-cache", "classifier", "writer")
MARKER = re.compile(rb"bmk(\d+)t(\d+)")
LLM_KEY = "sk-bench-key"
console = Console(width=max(170, Console().width))
