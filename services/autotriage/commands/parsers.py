"""Argument parsers of ``demo``, ``learn``, ``eval`` and ``preview``. Kept free of heavy imports (scikit-learn,
openai): a command's module is imported only when that command runs."""

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


def _lazy(module: str, function: str = "run") -> Handler:
    def handler(args: argparse.Namespace, settings: Settings) -> int:
        return int(getattr(importlib.import_module(f"autotriage.commands.{module}"), function)(args, settings))

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
    p.add_argument("--algorithm", choices=("auto", "linear_svc", "logreg", "stacked", "nb_svm", "nb_svm_lowrank"),
                   default="auto",
                   help="auto (default: nb_svm_lowrank when the median category has 1,000 or more tickets, else "
                   "linear_svc), linear_svc (best on typical MSP histories), nb_svm (naive-Bayes-scaled SVMs), "
                   "nb_svm_lowrank (nb_svm blended with an n-gram embedding softmax: +1.3 points on a 38k-ticket "
                   "public set) or stacked (three SVMs and a meta-model, about 4x the training time)")
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
    p.add_argument("--batch", type=Path, metavar="STATE_FILE",
                   help="--provider llm through the OpenAI Batch API at half price (may take hours); the state file "
                        "lets a stopped run resume its batch")
    common(p)
    p.set_defaults(handler=_lazy("evaluate"))


def add_sandbox(sub: Subparsers) -> None:
    """``sandbox`` and ``sandbox send``."""
    p = sub.add_parser("sandbox", help="run the PSA simulators and a test LLM to try autotriage by hand (never "
                       "production)", description="Simulators on 127.0.0.1:8081-8083, the test LLM on 8089 "
                       "(AUTOTRIAGE_SANDBOX_PORT=N moves them to N..N+2 and N+8).")
    p.add_argument("--psa", choices=PSAS, help="run only this simulator (as docker-compose does)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sim-port", dest="sim_port", type=int, help="port of the one simulator (with --psa)")
    p.add_argument("--dir", type=Path, default=Path("sandbox"), help="where the tenants file, secrets and state "
                   "go (default ./sandbox)")
    p.add_argument("--ingress", default=None, help="ingress URL the webhooks go to (default http://127.0.0.1:"
                   "$AUTOTRIAGE_HTTP_PORT, else 8080)")
    actions = p.add_subparsers(dest="sandbox_action")
    s = actions.add_parser("send", help="create a ticket in a running simulator and fire its signed webhook")
    s.add_argument("--psa", choices=PSAS, required=True)
    which = s.add_mutually_exclusive_group()
    which.add_argument("--ticket", help="id of a ticket in the simulator (default: the next seeded new ticket)")
    which.add_argument("--text", help="create a new ticket with this text (first line = summary)")
    s.add_argument("--scope", type=int, help="board / queue / ticket type id for --text (default: the first)")
    s.add_argument("--dir", type=Path, default=Path("sandbox"), help="the sandbox's folder (default ./sandbox)")
    s.add_argument("--ingress", default=None, help="ingress URL (default: the sandbox's, http://127.0.0.1:8080)")
    s.add_argument("--sim-url", dest="sim_url", help="simulator URL instead of the sandbox's state file")
    s.add_argument("--tenant", help="tenant id instead of the sandbox's state file")
    s.add_argument("--tenants-file", dest="tenants_file", type=Path, help="a real tenant: sign the webhook of "
                   "--ticket with its credentials from this file and send it to --ingress (Halo, Autotask)")
    p.set_defaults(handler=_lazy("sandbox"))


def add_outcomes(sub: Subparsers) -> None:
    """``outcomes`` and ``report shadow``."""
    def source(p: argparse.ArgumentParser) -> None:
        p.add_argument("--file", type=Path, help="outcomes audit file (default AUTOTRIAGE_OUTCOMES_FILE, "
                       "outcomes.jsonl; written by `autotriage run` on the in-memory bus)")
        p.add_argument("--bus", choices=["memory", "kafka"], default=None,
                       help="kafka: read the outcomes topic instead of the file (AUTOTRIAGE_BUS)")
        p.add_argument("--kafka", dest="kafka_bootstrap_servers", help="bootstrap servers "
                       "(AUTOTRIAGE_KAFKA_BOOTSTRAP_SERVERS)")

    p = sub.add_parser("outcomes", help="what the pipeline decided: ticket, category, confidence, action, reason, "
                       "cost, latency")
    p.add_argument("--tenant", help="only this tenant")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new outcomes (Ctrl-C ends)")
    p.add_argument("--json", action="store_true", help="one JSON object per outcome")
    source(p)
    p.set_defaults(handler=_lazy("outcomes"))
    r = sub.add_parser("report", help="summaries of recorded outcomes (report shadow: what shadow mode would "
                       "have done)")
    r.add_argument("kind", choices=["shadow"])
    r.add_argument("--tenant", required=True)
    source(r)
    r.set_defaults(handler=_lazy("outcomes", "run_report"))


def add_preview(sub: Subparsers, common: AddCommon) -> None:
    """``preview``."""
    p = sub.add_parser("preview", help="show exactly what the LLM would be sent for tickets (noise verdict, cleaned "
                       "and redacted text, placeholders, tokens, cost); sends nothing")
    p.add_argument("--tenant", required=True, help="tenant id (its policy and token budget apply)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--ticket", help="a ticket id, read from the tenant's PSA")
    which.add_argument("--data", type=Path, help="tickets (.jsonl: id, title, description, optional noise, category)")
    p.add_argument("--taxonomy", type=Path, help="taxonomy JSON (counts the candidate list in the cost estimate)")
    p.add_argument("--json", action="store_true", help="one JSON object per ticket instead of the readable view")
    common(p)
    p.set_defaults(handler=_lazy("preview"))


def add_commands(sub: Subparsers, common: AddCommon) -> None:
    """Register ``demo``, ``learn``, ``eval``, ``preview``, ``sandbox``, ``outcomes`` and ``report``; each sets
    ``handler(args, settings) -> exit code``."""
    add_demo(sub)
    add_learn(sub, common)
    add_eval(sub, common)
    add_preview(sub, common)
    add_sandbox(sub)
    add_outcomes(sub)
