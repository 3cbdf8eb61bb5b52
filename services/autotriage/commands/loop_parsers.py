"""Argument parsers of the feedback-loop commands: ``feedback``, ``retrain``, ``tune``, ``insights``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from autotriage.commands.parsers import AddCommon, _lazy

if TYPE_CHECKING:
    from autotriage.commands.parsers import Subparsers


def _decisions(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True, help="tenant id (from the tenants file)")
    p.add_argument("--decisions", type=Path, help="decisions JSONL (in-memory bus); default: the compacted "
                   "decisions topic on Kafka")


def add_feedback(sub: Subparsers, common: AddCommon) -> None:
    """``feedback``."""
    p = sub.add_parser("feedback", help="compare closed tickets with what autotriage decided: agreement, "
                       "corrections, metrics")
    _decisions(p)
    p.add_argument("--since", default="30d", help="closed in the last ... (e.g. 30d, 12h, 2w; default 30d)")
    p.add_argument("--target", type=float, default=0.90, help="applied-category agreement target (default 0.90)")
    p.add_argument("--metrics-file", dest="metrics_file", type=Path,
                   help="write the feedback gauges here (Prometheus text format, node-exporter textfile)")
    p.add_argument("--pushgateway", help="push the feedback gauges to this Prometheus Pushgateway (host:port)")
    p.add_argument("--corrections", type=Path, help="write the corrected tickets here as training data (JSONL)")
    p.add_argument("--history-limit", dest="history_limit", type=int, default=200,
                   help="read the PSA's history (who changed the category) of at most this many corrected "
                   "tickets per run; 0 skips it (default 200; Autotask counts each call against its hourly limit)")
    p.add_argument("--history-rate", dest="history_rate", type=float, default=1.0,
                   help="history calls per second at most, to leave the PSA's rate limit to live triage "
                   "(default 1; 0: unpaced)")
    common(p)
    p.set_defaults(handler=_lazy("feedback"))


def add_retrain(sub: Subparsers, common: AddCommon) -> None:
    """``retrain``."""
    p = sub.add_parser("retrain", help="retrain the tenant's local model with the technicians' corrections; "
                       "promote it only if it beats the current model on recent held-out tickets")
    _decisions(p)
    p.add_argument("--since", default="30d", help="recent closed tickets to learn from and test on (default 30d)")
    p.add_argument("--weight", type=float, default=3.0, help="weight of a correction over old history (default 3)")
    p.add_argument("--model", type=Path, help="the model file to replace (default: the tenant's "
                   "llm.local_model_path)")
    common(p)
    p.set_defaults(handler=_lazy("retrain"))


def add_tune(sub: Subparsers, common: AddCommon) -> None:
    """``tune``."""
    p = sub.add_parser("tune", help="propose apply/suggest thresholds from observed agreement (prints; never "
                       "edits the tenants file)")
    _decisions(p)
    p.add_argument("--since", default="90d", help="closed tickets to learn from (default 90d)")
    p.add_argument("--apply-precision", dest="apply_precision", type=float, default=0.95,
                   help="precision the apply threshold must reach (lower confidence bound; default 0.95)")
    p.add_argument("--suggest-precision", dest="suggest_precision", type=float, default=0.80,
                   help="precision the suggest threshold must reach (default 0.80)")
    p.add_argument("--min-samples", dest="min_samples", type=int, default=30,
                   help="fewest tickets above a threshold to trust it (default 30)")
    common(p)
    p.set_defaults(handler=_lazy("tune"))


def add_insights(sub: Subparsers, common: AddCommon) -> None:
    """``insights``."""
    p = sub.add_parser("insights", help="volume and technician time per category, trend, automation candidates, "
                       "taxonomy hygiene (Markdown report with PNG charts)")
    p.add_argument("--tenant", required=True, help="tenant id (from the tenants file)")
    p.add_argument("--decisions", type=Path, help="decisions JSONL, for how often technicians keep categories")
    p.add_argument("--since", default="90d", help="period (default 90d); the trend compares the period before")
    p.add_argument("--report", type=Path, help="write the Markdown report here (charts next to it)")
    common(p)
    p.set_defaults(handler=_lazy("insights"))


def add_backfill(sub: Subparsers, common: AddCommon) -> None:
    """``backfill``."""
    p = sub.add_parser("backfill", help="classify closed history in shadow mode (nothing is written to the PSA; "
                       "rate-limited, resumable)")
    _decisions(p)
    p.add_argument("--since", default="180d", help="closed in the last ... (default 180d)")
    p.add_argument("--rate", type=float, default=2.0, help="tickets per second at most (default 2)")
    p.add_argument("--max-usd", dest="max_usd", type=float, help="stop once this much LLM spend is reached")
    common(p)
    p.set_defaults(handler=_lazy("backfill"))


def add_loop_commands(sub: Subparsers, common: AddCommon) -> None:
    """Register ``feedback``, ``retrain``, ``tune``, ``insights`` and ``backfill``."""
    add_feedback(sub, common)
    add_retrain(sub, common)
    add_tune(sub, common)
    add_insights(sub, common)
    add_backfill(sub, common)
