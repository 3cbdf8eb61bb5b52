"""Wiring: build a process (one stage or all five) from settings and the tenants file."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aiohttp import web

from autotriage.classifier.stage import ClassifierStage
from autotriage.classifiers import Classifiers
from autotriage.core import egress, metrics
from autotriage.core.bus.base import Bus
from autotriage.core.bus.kafka import KafkaBus
from autotriage.core.bus.kafka_security import kwargs_from_settings
from autotriage.core.bus.memory import MemoryBus
from autotriage.core.bus.topics import Topics
from autotriage.core.runtime import RunnerOptions, StageRunner
from autotriage.core.service import Component, ServiceHost
from autotriage.core.settings import Settings
from autotriage.core.taxonomies import TaxonomyStore
from autotriage.core.tenants import TenantsFile
from autotriage.ingress.app import Ingress
from autotriage.normalizer.stage import NormalizerStage
from autotriage.psa.registry import PSAClients
from autotriage.stages import NAMES, PORTS
from autotriage.taxonomy_cache.stage import TaxonomyCacheStage
from autotriage.writer.stage import WriterStage

STAGES = NAMES
HEALTH_PORTS = PORTS


def prime_metrics(tenants: TenantsFile, stages: Sequence[str]) -> None:
    """Create the zero-valued series alerts look at, so the first event after start-up is not missed."""
    for tenant in tenants.tenants:
        psa = tenant.psa.kind.value
        metrics.SIGNATURE_FAILURES.labels(psa, tenant.id)
        metrics.WEBHOOK_DEACTIVATED.labels(psa, tenant.id)
        metrics.LLM_QUOTA_EXHAUSTED.labels(tenant.id).set(0)
        for period in ("day", "month"):
            metrics.BUDGET_EXHAUSTED.labels(tenant.id, period)
    for stage in stages:
        if stage != "ingress":
            metrics.DEAD_LETTERS.labels(stage, "undecodable")
            metrics.STAGE_HEALTHY.labels(stage).set(1)


def runner_options(settings: Settings, tenant_count: int) -> RunnerOptions:
    """How stages consume: the settings, with revocation and drain timed inside the group's and host's limits.

    One tenant may hold at most ``tenant_share`` of the handler slots (all of them when it is the only tenant),
    so a tenant with a slow LLM or PSA cannot take the capacity the others need."""
    share = 1.0 if tenant_count <= 1 else settings.tenant_share
    return RunnerOptions(
        window=max(settings.window, settings.concurrency),
        concurrency=settings.concurrency,
        tenant_cap=max(1, math.ceil(settings.concurrency * share)),
        max_attempts=settings.max_attempts,
        handle_timeout_s=settings.handle_timeout_s,
        commit_interval_s=settings.commit_interval_s,
        liveness_timeout_s=settings.liveness_timeout_s,
        revoke_wait_s=max(1.0, settings.rebalance_timeout_ms / 1000 * 0.75),
        drain_timeout_s=max(1.0, settings.drain_timeout_s - 5.0),
    )


def make_bus(settings: Settings, client_id: str = "autotriage") -> Bus:
    """The configured bus backend."""
    if settings.bus == "kafka":
        return KafkaBus(
            settings.kafka_bootstrap_servers,
            client_id=client_id,
            session_timeout_ms=settings.session_timeout_ms,
            rebalance_timeout_ms=settings.rebalance_timeout_ms,
            linger_ms=settings.kafka_linger_ms,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            fetch_min_bytes=settings.kafka_fetch_min_bytes,
            security=kwargs_from_settings(settings),
        )
    return MemoryBus(default_partitions=settings.partitions)


def build_host(
    settings: Settings,
    tenants: TenantsFile,
    stages: Sequence[str],
    *,
    bus: Bus | None = None,
    classifiers: Classifiers | None = None,
) -> ServiceHost:
    """A host running ``stages`` on one bus; ingress (if present) shares the host's HTTP port."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)}")
    prime_metrics(tenants, stages)
    egress.configure(settings.ca_bundle)
    bus = bus or make_bus(settings, client_id=f"autotriage-{'-'.join(stages) if len(stages) == 1 else 'all'}")
    topics = Topics.of(settings)
    app = web.Application(client_max_size=settings.max_body_bytes + 1024)
    options = runner_options(settings, len(tenants.tenants))

    def runner(stage: object) -> StageRunner:  # type: ignore[type-arg]
        return StageRunner(stage, bus, topics, options)  # type: ignore[arg-type]

    def ingress() -> Component:
        component = Ingress(
            PSAClients(tenants),
            bus,
            topics,
            max_body_bytes=settings.max_body_bytes,
            enqueue_timeout_s=settings.enqueue_timeout_s,
            trusted_proxies=settings.trusted_proxies,
        )
        component.install(app)
        return component

    builders: dict[str, Callable[[], Component]] = {
        "ingress": ingress,
        "normalizer": lambda: runner(NormalizerStage(PSAClients(tenants))),
        "taxonomy-cache": lambda: runner(
            TaxonomyCacheStage(PSAClients(tenants), TaxonomyStore(bus, topics), settings.taxonomy_ttl_s)),
        "classifier": lambda: runner(
            ClassifierStage(tenants, classifiers, bus=bus, topics=topics, text_workers=settings.text_workers)),
        "writer": lambda: runner(WriterStage(tenants, PSAClients(tenants))),
    }
    if set(builders) != set(NAMES):  # the registry (stages.py) and this wiring must name the same stages
        raise RuntimeError(f"stages.py names {sorted(NAMES)}, build_host wires {sorted(builders)}")
    components: list[Component] = [builders[name]() for name in stages]
    port = settings.http_port
    if port is None:
        port = settings.ingress_port if "ingress" in stages or len(stages) > 1 else HEALTH_PORTS[stages[0]]
    return ServiceHost(
        bus, components, host=settings.http_host, port=port, app=app, drain_timeout_s=settings.drain_timeout_s
    )
