"""A real Prometheus server scrapes all five stages during a Kafka run; then every PromQL expression used in
the dashboards and rules is evaluated, and the ones over always-emitted metrics must return data."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
import yaml

from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.sandbox.halo import HaloSimulator
from tests.support.kafka_io import TopicReader
from tests.support.pipeline import start_llm, tenant_entry, write_tenants
from tests.support.processes import Pipeline, free_port
from tests.support.promql import collect_promql_expressions, substitute_grafana_variables
from tests.support.tickets import halo_sample, new_tickets

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]

#: Metrics every run emits (a run with tickets, one bad signature and LLM calls).
ALWAYS = {
    "autotriage_stage_consumed_total",
    "autotriage_stage_produced_total",
    "autotriage_stage_processed_total",
    "autotriage_stage_processing_duration_seconds",
    "autotriage_stage_in_flight",
    "autotriage_consumer_lag_records",
    "autotriage_consumer_last_progress_timestamp_seconds",
    "autotriage_stage_healthy",
    "autotriage_outcomes_total",
    "autotriage_end_to_end_latency_seconds",
    "autotriage_ingress_http_requests_total",
    "autotriage_ingress_http_request_duration_seconds",
    "autotriage_webhook_signature_failures_total",
    "autotriage_webhook_deliveries_total",
    "autotriage_llm_requests_total",
    "autotriage_llm_request_duration_seconds",
    "autotriage_llm_tokens_total",
    "autotriage_llm_cost_usd_total",
    "autotriage_llm_quota_exhausted",
    "autotriage_psa_api_requests_total",
    "autotriage_psa_api_request_duration_seconds",
    "autotriage_taxonomy_cache_lookups_total",
    "autotriage_build_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "up",
}
_NAME = re.compile(r"\b([a-z_][a-z0-9_:]*)\b(?=\s*[{\[)]|\s*$|\s*[-+*/<>=!]|\s+(?:by|without|or|and|unless|offset))")
_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def _metrics_in(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:autotriage|process)_[a-z0-9_]+|[a-z_]+:[a-z0-9_:]+)\b", expr))
    if re.search(r"\bup\b", expr):
        names.add("up")
    return {_SUFFIX.sub("", n) for n in names}


def _prometheus_config(targets: dict[str, int], rules: list[Path]) -> dict[str, object]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rules],
        "scrape_configs": [
            {"job_name": f"autotriage-{stage}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for stage, port in targets.items()
        ],
    }


async def _query(session: aiohttp.ClientSession, base: str, expr: str) -> tuple[str, list[object]]:
    async with session.get(f"{base}/api/v1/query", params={"query": expr}) as resp:
        body = await resp.json()
    if body.get("status") != "success":
        return body.get("error", "error"), []
    return "", list(body["data"]["result"]) if isinstance(body["data"]["result"], list) else [body["data"]["result"]]


async def test_prometheus_scrapes_stages_and_every_expression_evaluates(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is missing: apt-get install prometheus (.ci/run installs it)"
    sim = HaloSimulator(halo_sample(), seed_history=False)
    await sim.start()
    llm, llm_url = await start_llm()
    entry, env = tenant_entry(sim, "acme", llm_url)
    pipeline = Pipeline(kafka_bootstrap, topic_prefix, write_tenants(tmp_path / "tenants.yaml", [entry]), env, tmp_path)
    reader = TopicReader(kafka_bootstrap, Topics(topic_prefix).name(TICKETS_OUTCOMES))
    prom_port = free_port()
    prom: subprocess.Popen[bytes] | None = None
    prom_log = (tmp_path / "prometheus.log").open("wb")
    try:
        await pipeline.create_topics()
        await pipeline.start_all()
        await reader.start()
        config = _prometheus_config(
            {s: p.port for s, p in pipeline.stages.items()},
            [REPO / "deploy/prometheus/recording_rules.yml", REPO / "deploy/prometheus/alert_rules.yml"],
        )
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        prom = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=prom_log,
        )
        base = f"http://127.0.0.1:{prom_port}"
        ids = [sim.create_ticket(t.summary, t.details, t.scope) for t in new_tickets(19)]
        # one ticket a technician already categorized (-> skipped) and one PSA 429 (-> error series exist)
        ids.append(sim.create_ticket("Printer offline", "printer jam", 1, ("Network", "WiFi")))
        sim.inject(429, times=1, retry_after=0, operations={"get_ticket"})
        ingress = pipeline.stages["ingress"].url
        for ticket_id in ids:
            assert await sim.send_created_webhook(ingress, "acme", [ticket_id]) == 202
        assert await sim.send_created_webhook(ingress, "acme", ids[:1], password="wrong") == 401
        assert await reader.wait_until(lambda: len({o.ticket_id for o in reader.outcomes()}) >= 20, 90)
        async with aiohttp.ClientSession() as session:
            for _ in range(60):  # until every stage was scraped a few times after the run
                _, up = await _query(session, base, "count(up == 1) >= 5 and count(count_over_time(up[1m]) > 4) >= 5")
                if up:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(3)  # recording rules evaluate every second
            failures, empty = [], []
            for where, raw in collect_promql_expressions(REPO):
                expr = substitute_grafana_variables(raw, {"tenant": "acme", "stage": "writer", "model": "gpt-4o-mini"})
                error, result = await _query(session, base, expr)
                if error:
                    failures.append(f"{where}: {error}: {expr}")
                    continue
                needs_data = "alert_rules" not in where and _metrics_in(expr) <= (ALWAYS | _recorded_from_always())
                if needs_data and not result:
                    empty.append(f"{where}: {expr}")
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(20)
        prom_log.close()
        await reader.stop()
        await pipeline.stop_all()
        await sim.stop()
        await llm.stop()
    print(
        f"\nexpressions evaluated: {len(collect_promql_expressions(REPO))}, errors: {len(failures)}, "
        f"empty where data was expected: {len(empty)}"
    )
    assert not failures, "\n".join(failures)
    assert not empty, "\n".join(empty)


def _recorded_from_always() -> set[str]:
    """Recording rules whose source metrics are all always emitted."""
    rules = yaml.safe_load((REPO / "deploy/prometheus/recording_rules.yml").read_text())
    names = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "record" in rule and _metrics_in(rule["expr"]) <= ALWAYS:
                names.add(rule["record"])
    return names
