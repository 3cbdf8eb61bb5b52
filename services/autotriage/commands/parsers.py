"""Argument parsers of ``demo``, ``learn`` and ``eval``. Kept free of heavy imports (scikit-learn, openai):
a command's module is imported only when that command runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from autotriage.core.settings import Settings

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

Handler = Callable[[argparse.Namespace, Settings], int]
AddCommon = Callable[[argparse.ArgumentParser], None]
PSAS = ("halo", "connectwise", "autotask")


def _lazy(module: str) -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        return int(importlib.import_module(f"autotriage.commands.{module}").run(args, settings))

    return handler


def add_demo(sub: Subparsers) -> None:
    """``demo``."""
    p = sub.add_parser("demo", help="run the whole pipeline in one process against simulated PSAs (no Kafka, "
                       "no credentials)")
    p.add_argument("--local", action="store_true", help="use the local model even if OpenAI/Azure variables are set")
    p.add_argument("--timeout", type=float, default=45.0, help="seconds to wait for the tickets (default 45)")
    p.set_defaults(handler=_lazy("demo"))


def add_learn(sub: Subparsers, common: AddCommon) -> None:
    """``learn``."""
    p = sub.add_parser("learn", help="train the local model from closed, categorized tickets")
    p.add_argument("--tenant", required=True, help="tenant id (from the tenants file)")
    p.add_argument("--data", type=Path, help="labelled tickets (.jsonl or .csv) instead of the PSA's history")
    p.add_argument("--out", type=Path, help="model file (default ./models/<tenant>/<scope-or-all>-<time>.joblib)")
    p.add_argument("--scope", help="train for one scope only (CW board, Autotask queue, Halo ticket type id)")
    p.add_argument("--limit", type=int, help="read at most this many history tickets from the PSA")
    p.add_argument("--target-precision", dest="target_precision", type=float, default=0.95,
                   help="precision the cascade threshold is chosen for (default 0.95)")
    p.add_argument("--algorithm", choices=("linear_svc", "logreg", "stacked"), default="linear_svc",
                   help="linear_svc (default; best on small MSP histories), or stacked (three SVMs and a meta-model: "
                   "+0.6 points on a 38k-ticket public set, about 4x the training time)")
    common(p)
    p.set_defaults(handler=_lazy("learn"))


def add_eval(sub: Subparsers, common: AddCommon) -> None:
    """``eval``."""
    p = sub.add_parser("eval", help="measure the local model, the LLM or the cascade on labelled tickets")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", help="tenant id (with --data)")
    which.add_argument("--sample", choices=PSAS, help="the bundled sample data of a PSA (no tenants file needed)")
    p.add_argument("--data", type=Path, help="labelled tickets (.jsonl or .csv)")
    p.add_argument("--provider", choices=("local", "llm", "cascade"), default="local")
    p.add_argument("--model", type=Path, help="local model file (default: the tenant's llm.local_model_path)")
    p.add_argument("--taxonomy", type=Path, help='taxonomy JSON {"scopes": [{"id", "name", "paths"}]} instead of '
                   "reading it from the PSA")
    p.add_argument("--report", type=Path, help="write a Markdown report here (and the plot next to it, .png)")
    p.add_argument("--concurrency", type=int, default=8, help="tickets classified at once (LLM providers)")
    common(p)
    p.set_defaults(handler=_lazy("evaluate"))


def add_commands(sub: Subparsers, common: AddCommon) -> None:
    """Register ``demo``, ``learn`` and ``eval``; each sets ``handler(args, settings) -> exit code``."""
    add_demo(sub)
    add_learn(sub, common)
    add_eval(sub, common)
