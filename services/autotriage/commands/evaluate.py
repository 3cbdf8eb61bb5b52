"""``autotriage eval``: classify a labelled set with the local model, the LLM or the cascade and measure it.

``--sample <psa>`` needs no tenants file: it trains on a deterministic 80 % of the bundled history and
evaluates on the other 20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autotriage.cascade import CascadeClassifier, shortlist_settings
from autotriage.classifier.view import as_read
from autotriage.commands.common import labelled, llm_from_env, sample_taxonomies
from autotriage.commands.report import print_report, write_report
from autotriage.commands.shortlist_costs import costs_for
from autotriage.core.classifier import FALLBACK_REASON, LOCAL_REASON, Classifier
from autotriage.core.errors import AutotriageError, ConfigError
from autotriage.core.models import Classification, Taxonomy, Verdict
from autotriage.core.settings import Settings
from autotriage.core.tenants import DEFAULT_PRICES, Tenant, TenantsFile, load_tenants
from autotriage.llm.batch import BatchItem, BatchRunner
from autotriage.llm.openai_provider import OpenAIClassifier
from autotriage.local.dataset import LabelledTicket, holdout_split, read_labelled
from autotriage.local.evaluation import (
    DEFAULT_THRESHOLDS,
    EvalCase,
    EvalReport,
    choose_threshold,
    evaluate,
    precision_at,
    wilson_lower,
)
from autotriage.local.provider import LocalClassifier
from autotriage.local.training import train_model
from autotriage.policy.noise_eval import NoiseScore, score_noise
from autotriage.psa.registry import make_client
from autotriage.sandbox.common import SampleData, load_sample

PROVIDERS = ("local", "llm", "cascade")
#: LLM settings whose prompts are counted for the shortlist figures when the evaluated tenant has no LLM.
DEFAULT_LLM = {"provider": "openai", "model": "gpt-4o-mini"}
BATCH_POLL_S = 30.0
TARGET_PRECISION = 0.95


@dataclass
class EvalRun:
    """A finished evaluation: the report, facts for the header, and the cascade threshold used."""

    report: EvalReport
    facts: dict[str, str] = field(default_factory=dict)
    threshold: float | None = None
    cases: list[EvalCase] = field(default_factory=list)


def decision_of(classifier: Classifier, result: Classification) -> str:
    """Who decided: ``local``, ``llm`` or ``fallback``."""
    if isinstance(classifier, LocalClassifier):
        return "local"
    if isinstance(classifier, CascadeClassifier):
        if result.reason == FALLBACK_REASON:
            return "fallback"
        return "local" if result.reason == LOCAL_REASON else "llm"
    return "llm"


async def classify_cases(
    classifier: Classifier,
    items: Sequence[tuple[LabelledTicket, Taxonomy]],
    *,
    concurrency: int = 8,
    on_done: Callable[[], None] | None = None,
) -> list[EvalCase]:
    """Classify every item (bounded concurrency); a provider error counts as no answer."""
    gate = asyncio.Semaphore(concurrency)

    async def one(example: LabelledTicket, taxonomy: Taxonomy) -> EvalCase:
        async with gate:
            started = time.perf_counter()
            try:
                result = await classifier.classify(example.ticket(), taxonomy)
            except AutotriageError as exc:
                result = Classification(verdict=Verdict.NEEDS_HUMAN, reason=exc.reason)
            elapsed = time.perf_counter() - started
        if on_done is not None:
            on_done()
        chosen = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
        return EvalCase(truth=example.path, predicted=chosen, confidence=result.confidence,
                        cost_usd=result.usage.cost_usd, latency_s=elapsed, decision=decision_of(classifier, result))

    return list(await asyncio.gather(*(one(e, t) for e, t in items)))


def _eval_tenant(llm: Mapping[str, Any], tenant_id: str) -> Tenant:
    """A tenant entry that only carries LLM settings (``eval --sample`` with an LLM)."""
    return TenantsFile.model_validate({"tenants": [{
        "id": tenant_id,
        "psa": {"kind": "autotask", "username": "eval", "secret": {"env": "UNUSED"},
                "integration_code": {"env": "UNUSED"}, "zone_url": "http://127.0.0.1:9/"},
        "webhook": {"secret": {"env": "UNUSED"}},
        "llm": dict(llm),
    }]}).tenants[0]


def build_classifier(provider: str, local: LocalClassifier | None, tenant: Tenant | None,
                     tenants: TenantsFile | None = None) -> Classifier:
    """The classifier under test."""
    if provider == "local":
        if local is None:
            raise ConfigError("--provider local needs a model: --model PATH or the tenant's llm.local_model_path")
        return local
    if tenant is None or tenant.llm.provider == "local":
        raise ConfigError(f"--provider {provider} needs an OpenAI/Azure tenant (or OPENAI_API_KEY / "
                          "AZURE_OPENAI_API_KEY + AZURE_OPENAI_ENDPOINT for --sample)")
    price = (tenants or TenantsFile(tenants=[tenant])).price(tenant.llm.model)
    if provider == "llm":
        return OpenAIClassifier(tenant, price)
    if local is None:
        raise ConfigError("--provider cascade needs a local model: --model PATH or llm.local_model_path")
    threshold = tenant.llm.cascade_threshold if tenant.llm.cascade_threshold is not None else local.meta.threshold
    return CascadeClassifier(tenant.id, local, OpenAIClassifier(tenant, price), threshold=threshold,
                             few_shot=tenant.llm.few_shot, **shortlist_settings(tenant, local))


async def batch_cases(classifier: OpenAIClassifier, items: Sequence[tuple[LabelledTicket, Taxonomy]],
                      state: Path, poll_s: float = BATCH_POLL_S) -> list[EvalCase]:
    """Classify every item in one Batch API run (resumable from ``state``; see ``autotriage.llm.batch``)."""
    batch = [BatchItem(f"{n}-{example.key}", example.ticket(), taxonomy) for n, (example, taxonomy) in enumerate(items)]
    outcome = await BatchRunner(classifier, state, poll_interval_s=poll_s).run(batch)
    cases = []
    for item, (example, _) in zip(batch, items, strict=True):
        result = outcome.results[item.custom_id]
        chosen = result.candidate.path if result.verdict is Verdict.CHOSEN and result.candidate else None
        cases.append(EvalCase(truth=example.path, predicted=chosen, confidence=result.confidence,
                              cost_usd=result.usage.cost_usd, decision="llm"))
    return cases


async def _measure(classifier: Classifier, items: list[tuple[LabelledTicket, Taxonomy]], concurrency: int,
                   console: Console | None, batch: Path | None = None) -> list[EvalCase]:
    try:
        if batch is not None:
            if not isinstance(classifier, OpenAIClassifier):
                raise ConfigError("--batch works with --provider llm only (the Batch API classifies every ticket)")
            return await batch_cases(classifier, items, batch, BATCH_POLL_S)
        if console is None:
            return await classify_cases(classifier, items, concurrency=concurrency)
        columns = (TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("", total=len(items))
            return await classify_cases(classifier, items, concurrency=concurrency,
                                        on_done=lambda: progress.advance(task))
    finally:
        await classifier.close()


def _finish(cases: list[EvalCase], facts: dict[str, str], local: LocalClassifier | None,
            threshold: float | None) -> EvalRun:
    report = evaluate(cases, sorted({*DEFAULT_THRESHOLDS, *([threshold] if threshold is not None else [])}))
    labelled_cases = [c for c in cases if c.truth is not None]
    confidences = [c.confidence if c.predicted else -1.0 for c in labelled_cases]
    correct = [c.correct for c in labelled_cases]
    if local is not None and threshold is not None:
        if any(c.decision in {"llm", "fallback"} for c in labelled_cases):  # a cascade: count its picks
            mine = [c for c in labelled_cases if c.decision == "local"]
            share, count = len(mine) / len(labelled_cases), len(mine)
            precision = sum(c.correct for c in mine) / len(mine) if mine else None
        else:
            point = precision_at(confidences, correct, threshold)
            share, precision, count = point.coverage, point.precision, point.count
        lower = wilson_lower(round((precision or 0.0) * count), count)
        facts["local model at the cascade threshold"] = (
            f"{threshold:.3f}: handles {share:.1%} without the LLM at precision "
            f"{'-' if precision is None else f'{precision:.1%}'} (on this set: {count} tickets, 95% lower bound "
            f"{lower:.1%}; promised at training: at least {local.meta.threshold_precision_lower or 0:.1%})")
    if local is not None and threshold is None:
        facts["local model at the cascade threshold"] = (
            f"none stored ({local.meta.threshold_note or 'no threshold'}): the cascade asks the LLM every time")
    best = choose_threshold(confidences, correct, TARGET_PRECISION)
    facts[f"coverage at >= {TARGET_PRECISION:.0%} precision"] = (
        "not reached on this set" if best is None
        else f"{best.coverage:.1%} (threshold {best.threshold:.3f} chosen on this set, precision {best.precision:.1%})")
    return EvalRun(report, facts, threshold, cases)


async def sample_eval(psa: str, provider: str = "local", environ: Mapping[str, str] | None = None,
                      console: Console | None = None, concurrency: int = 8, batch: Path | None = None) -> EvalRun:
    """Train on a deterministic 80 % of a PSA's bundled history, evaluate on the held-out 20 %."""
    sample = load_sample(psa)
    train, test = holdout_split(labelled(sample.history), 0.2)
    tenant_id = f"sample-{psa}"
    started = time.perf_counter()
    model = train_model(train, tenant=tenant_id, psa=psa)
    trained_s = time.perf_counter() - started
    local = LocalClassifier(model)
    llm = llm_from_env(os.environ if environ is None else environ) if provider != "local" else None
    tenant = _eval_tenant({**llm, "few_shot": 3}, tenant_id) if llm else None
    classifier = build_classifier(provider, local, tenant)
    taxonomies = sample_taxonomies(sample, tenant_id, psa)
    cases = await _measure(classifier, [(e, taxonomies[e.scope]) for e in test], concurrency, console, batch)
    facts = {
        "data": f"bundled {psa} history: {len(train)} train / {len(test)} held out (deterministic 80/20)",
        "provider": provider if tenant is None else f"{provider} ({tenant.llm.provider} {tenant.llm.model})",
        "training": f"{trained_s:.1f} s, {len(model.meta.labels)} categories",
    }
    llm_tenant = tenant or _eval_tenant(DEFAULT_LLM, tenant_id)
    facts.update(await costs_for(llm_tenant, DEFAULT_PRICES.get(llm_tenant.llm.model), local,
                                 [(e, taxonomies[e.scope]) for e in test]))
    threshold = model.meta.threshold if provider != "llm" else None
    return _finish(cases, facts, local if provider != "llm" else None, threshold)


def load_taxonomy_file(path: Path, tenant: Tenant) -> dict[str, Taxonomy]:
    """Taxonomies from a JSON file in the bundled data's shape."""
    try:
        scopes = json.loads(path.read_text(encoding="utf-8"))["scopes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read taxonomy {path} ({exc}): expected {{\"scopes\": [...]}}") from exc
    return sample_taxonomies(SampleData(scopes=scopes), tenant.id, tenant.psa.kind.value)


async def fetch_taxonomies(tenant: Tenant, scopes: set[str]) -> dict[str, Taxonomy]:
    """The current taxonomy of each scope, read from the tenant's PSA."""
    client = make_client(tenant)
    try:
        return {scope: await client.fetch_taxonomy(scope) for scope in sorted(scopes)}
    finally:
        await client.close()


async def tenant_eval(args: argparse.Namespace, settings: Settings, console: Console | None) -> EvalRun:
    """Evaluate on ``--data`` with the tenant's taxonomy and models."""
    if args.data is None:
        raise ConfigError("--tenant needs --data labelled.jsonl (or use --sample <psa>)")
    tenants = load_tenants(settings.tenants_file)
    tenant = tenants.get(args.tenant)
    if tenant is None:
        raise ConfigError(f"tenant {args.tenant!r} is not in {settings.tenants_file}")
    examples = read_labelled(args.data)
    scopes = {e.scope for e in examples}
    if "" in scopes:
        raise ConfigError(f"{args.data}: every ticket needs a 'scope' (board / queue / ticket type id)")
    taxonomies = (load_taxonomy_file(args.taxonomy, tenant) if args.taxonomy
                  else await fetch_taxonomies(tenant, scopes))
    missing = scopes - set(taxonomies)
    if missing:
        raise ConfigError(f"no taxonomy for scope(s) {', '.join(sorted(missing))}")
    model_path = args.model or tenant.llm.local_model_path
    local = LocalClassifier.load(model_path) if model_path is not None and args.provider != "llm" else None
    classifier = build_classifier(args.provider, local, tenant, tenants)
    threshold = getattr(classifier, "threshold", None) if args.provider == "cascade" else (
        local.meta.threshold if local else None)
    cases = await _measure(classifier, [(e, taxonomies[e.scope]) for e in examples], args.concurrency, console,
                           getattr(args, "batch", None))
    facts = {"data": f"{args.data} ({len(examples)} tickets)", "provider": f"{args.provider} ({tenant.llm.provider} "
             f"{tenant.llm.model})" if args.provider != "local" else "local"}
    if local is not None:
        facts["local model"] = f"{model_path} (id {local.meta.model_id}, {local.meta.n_examples} examples)"
        llm_tenant = tenant if tenant.llm.provider != "local" else _eval_tenant(DEFAULT_LLM, tenant.id)
        facts.update(await costs_for(llm_tenant, tenants.price(llm_tenant.llm.model), local,
                                     [(e, taxonomies[e.scope]) for e in examples]))
    return _finish(cases, facts, local, threshold)


def noise_score(examples: Sequence[LabelledTicket]) -> NoiseScore | None:
    """The noise filter on the tickets that carry a ``noise`` label, read as the classifier reads them (plain
    text); None when none does."""
    marked = [e for e in examples if e.noise_labelled]
    if not marked:
        return None
    return score_noise((as_read(e.ticket()), e.noise) for e in marked)


def print_noise(console: Console, score: NoiseScore) -> None:
    """Precision and recall of the noise filter, per kind, and what it missed or wrongly skipped."""
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    table = Table(title=f"noise filter on {score.total} labelled tickets", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("noise precision", f"{pct(score.precision)} ({score.true_positive} of "
                  f"{score.true_positive + score.false_positive} skipped tickets are noise)")
    table.add_row("noise recall", f"{pct(score.recall)} ({score.true_positive} of "
                  f"{score.true_positive + score.false_negative} noise tickets skipped)")
    table.add_row("real tickets kept", f"{score.true_negative} of {score.true_negative + score.false_positive}")
    table.add_row("noise with another kind", str(score.wrong_kind))
    for kind, n in sorted(score.by_kind.items()):
        table.add_row(f"  {kind}", f"{score.found_by_kind[kind]}/{n} found")
    console.print(table)
    for title, rows in (("missed noise", score.missed), ("real tickets skipped as noise", score.false_alarms)):
        if rows:
            listing = Table(title=title)
            for name in ("ticket", "kind", "subject / cue"):
                listing.add_column(name)
            for row in rows[:20]:
                listing.add_row(*row)
            console.print(listing)


def run(args: argparse.Namespace, settings: Settings, console: Console | None = None) -> int:
    """Evaluate, print, optionally write the report. Data with a ``noise`` field also gets the noise filter's
    precision and recall; data with no category at all gets only those."""
    console = console or Console()
    logging.getLogger().setLevel(logging.WARNING)  # per-request client logs would drown the tables
    if not args.sample and args.data is not None:
        examples = read_labelled(args.data)
        score = noise_score(examples)
        if score is not None:
            print_noise(console, score)
            if not any(e.path for e in examples):
                return 0  # a noise-only data set: nothing to classify
            if not any(e.scope for e in examples):
                console.print("categories not evaluated: the tickets carry no 'scope' (board / queue / ticket type "
                              "id) to read the taxonomy for")
                return 0
    elif args.sample:
        sample = load_sample(args.sample)
        score = noise_score(labelled(sample.history + sample.new))
        if score is not None:
            print_noise(console, score)
    if args.sample:
        result = asyncio.run(sample_eval(args.sample, args.provider, console=console, concurrency=args.concurrency,
                                         batch=getattr(args, "batch", None)))
        title = f"autotriage eval: {args.provider} on the bundled {args.sample} sample"
    else:
        result = asyncio.run(tenant_eval(args, settings, console))
        title = f"autotriage eval: {args.provider} for tenant {args.tenant}"
    print_report(console, result.report, title, result.facts, result.threshold)
    if args.report:
        md, png = write_report(result.report, args.report, title, result.facts, result.threshold)
        console.print(f"report: {md} (plot {png})")
    return 0

