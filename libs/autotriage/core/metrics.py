"""Every Prometheus metric autotriage exports, defined once (one registry per process).

Naming: prefix ``autotriage_``, base units, ``_total`` counters, bounded labels (never a ticket id;
``tenant`` is bounded by the tenants file, ``reason``/``kind`` by code enums).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    gc_collector,
    platform_collector,
    process_collector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

#: Buckets for work that includes LLM calls and retries: 50 ms .. 10 min.
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300, 600)
#: Buckets for fast in-process work and HTTP handling: 1 ms .. 10 s.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

BUILD_INFO = Info("autotriage_build", "Version of the running autotriage build", registry=REGISTRY)

# --- stages -------------------------------------------------------------------------------------------
STAGE_CONSUMED = Counter("autotriage_stage_consumed_total", "Records consumed by a stage", ["stage"], registry=REGISTRY)
STAGE_PRODUCED = Counter(
    "autotriage_stage_produced_total", "Records produced by a stage", ["stage", "topic"], registry=REGISTRY
)
STAGE_PROCESSED = Counter(
    "autotriage_stage_processed_total",
    "Records a stage finished, by result (ok, retry, dead_letter, skipped)",
    ["stage", "result"],
    registry=REGISTRY,
)
STAGE_DURATION = Histogram(
    "autotriage_stage_processing_duration_seconds",
    "Time a stage spends on one record",
    ["stage"],
    buckets=LLM_BUCKETS,
    registry=REGISTRY,
)
STAGE_IN_FLIGHT = Gauge(
    "autotriage_stage_in_flight", "Records a stage is working on right now", ["stage"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "autotriage_consumer_lag_records",
    "Records waiting in a stage's input partitions (log end offset minus position)",
    ["stage"],
    registry=REGISTRY,
)
CONSUMER_PROGRESS = Gauge(
    "autotriage_consumer_last_progress_timestamp_seconds",
    "Unix time a stage last committed progress",
    ["stage"],
    registry=REGISTRY,
)
STAGE_HEALTHY = Gauge(
    "autotriage_stage_healthy",
    "1 while the liveness watchdog finds the stage healthy",
    ["stage"],
    registry=REGISTRY,
)
RETRIES = Counter("autotriage_retries_total", "Records sent to a retry topic", ["stage", "reason"], registry=REGISTRY)
TENANT_IN_FLIGHT = Gauge(
    "autotriage_tenant_in_flight",
    "Records of a tenant holding a handler slot of a stage right now",
    ["stage", "tenant"],
    registry=REGISTRY,
)
TENANT_WAITING = Gauge(
    "autotriage_tenant_waiting",
    "Records of a tenant fetched and waiting for a handler slot of a stage",
    ["stage", "tenant"],
    registry=REGISTRY,
)
TENANT_PARKED = Counter(
    "autotriage_tenant_parked_total",
    "Records sent to a retry tier without being tried because their tenant is parked (rate limit, outage)",
    ["stage", "tenant"],
    registry=REGISTRY,
)
TENANT_PARKED_UNTIL = Gauge(
    "autotriage_tenant_parked_until_timestamp_seconds",
    "Unix time until which a tenant is parked in a stage (0 when it is not)",
    ["stage", "tenant"],
    registry=REGISTRY,
)
COMMITS = Counter(
    "autotriage_consumer_commits_total",
    "Offset commits by result (ok, rejected: the group moved on, error: retried at the next interval)",
    ["stage", "result"],
    registry=REGISTRY,
)
REBALANCES = Counter(
    "autotriage_consumer_rebalances_total",
    "Partitions revoked from a stage's consumer, by what happened to their in-flight records",
    ["stage", "result"],
    registry=REGISTRY,
)
WINDOW_FULL = Counter(
    "autotriage_consumer_window_full_total",
    "Times a stage paused fetching because its in-flight window was full",
    ["stage"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "autotriage_dead_letter_total",
    "Records sent to the dead-letter topic",
    ["stage", "reason"],
    registry=REGISTRY,
)

# --- outcomes -----------------------------------------------------------------------------------------
OUTCOMES = Counter(
    "autotriage_outcomes_total",
    "Tickets that reached an outcome, by action and reason",
    ["tenant", "psa", "action", "reason"],
    registry=REGISTRY,
)
END_TO_END = Histogram(
    "autotriage_end_to_end_latency_seconds",
    "Webhook receipt to outcome",
    ["tenant", "action"],
    buckets=LLM_BUCKETS,
    registry=REGISTRY,
)

# --- ingress ------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "autotriage_ingress_http_requests_total", "Ingress HTTP requests", ["route", "status"], registry=REGISTRY
)
HTTP_DURATION = Histogram(
    "autotriage_ingress_http_request_duration_seconds",
    "Ingress HTTP request handling time",
    ["route"],
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
SIGNATURE_FAILURES = Counter(
    "autotriage_webhook_signature_failures_total",
    "Webhooks refused for a bad or missing signature/credential",
    ["psa", "tenant"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "autotriage_webhook_deliveries_total",
    "Webhook deliveries by result (accepted, duplicate, ignored)",
    ["psa", "tenant", "result"],
    registry=REGISTRY,
)
WEBHOOK_DEACTIVATED = Counter(
    "autotriage_webhook_deactivated_total",
    "Signed callouts from a PSA saying it deactivated our webhook",
    ["psa", "tenant"],
    registry=REGISTRY,
)

# --- LLM ----------------------------------------------------------------------------------------------
LLM_REQUESTS = Counter(
    "autotriage_llm_requests_total",
    "LLM requests by status",
    ["tenant", "provider", "model", "status"],
    registry=REGISTRY,
)
LLM_DURATION = Histogram(
    "autotriage_llm_request_duration_seconds",
    "LLM request time (including the SDK's retries)",
    ["provider", "model"],
    buckets=LLM_BUCKETS,
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "autotriage_llm_tokens_total",
    "LLM tokens by kind (prompt, cached, completion, reasoning)",
    ["tenant", "model", "kind"],
    registry=REGISTRY,
)
LLM_COST = Counter("autotriage_llm_cost_usd_total", "LLM spend in US dollars", ["tenant", "model"], registry=REGISTRY)
LLM_ERRORS = Counter(
    "autotriage_llm_errors_total", "LLM errors by kind", ["tenant", "provider", "kind"], registry=REGISTRY
)
LLM_SHORTLIST = Counter(
    "autotriage_llm_shortlist_total",
    "Shortlisted LLM picks: kept, or sent again with the full list and why",
    ["tenant", "result"],
    registry=REGISTRY,
)
LLM_QUOTA_EXHAUSTED = Gauge(
    "autotriage_llm_quota_exhausted",
    "1 while a tenant's LLM account reports exhausted quota (the tenant is paused for the LLM)",
    ["tenant"],
    registry=REGISTRY,
)
LOCAL_MODEL_DECISIONS = Counter(
    "autotriage_local_model_decisions_total",
    "Cascade decisions: local (LLM skipped), llm, fallback",
    ["tenant", "decision"],
    registry=REGISTRY,
)

# --- PSA ----------------------------------------------------------------------------------------------
PSA_REQUESTS = Counter(
    "autotriage_psa_api_requests_total", "PSA API calls", ["psa", "operation", "status"], registry=REGISTRY
)
PSA_DURATION = Histogram(
    "autotriage_psa_api_request_duration_seconds",
    "PSA API call time",
    ["psa", "operation"],
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
TAXONOMY_LOOKUPS = Counter(
    "autotriage_taxonomy_cache_lookups_total",
    "Taxonomy cache lookups (hit, miss, stale)",
    ["result"],
    registry=REGISTRY,
)

# --- policy -------------------------------------------------------------------------------------------
BUDGET_REMAINING_USD = Gauge(
    "autotriage_budget_remaining_usd",
    "USD left in a tenant's budget period",
    ["tenant", "period"],
    registry=REGISTRY,
)
BUDGET_REMAINING_TOKENS = Gauge(
    "autotriage_budget_remaining_tokens",
    "Tokens left in a tenant's budget period",
    ["tenant", "period"],
    registry=REGISTRY,
)
BUDGET_EXHAUSTED = Counter(
    "autotriage_budget_exhausted_total",
    "Tickets that met an exhausted budget",
    ["tenant", "period"],
    registry=REGISTRY,
)
NOISE_FILTERED = Counter(
    "autotriage_noise_filtered_total",
    "Tickets recognised as noise before any LLM call",
    ["tenant", "kind"],
    registry=REGISTRY,
)
PII_REDACTIONS = Counter(
    "autotriage_pii_redactions_total",
    "Values replaced by placeholders before the LLM call",
    ["tenant", "kind"],
    registry=REGISTRY,
)

# --- event loop -----------------------------------------------------------------------------------------
#: Buckets for event-loop lag: 0.5 ms .. 5 s.
LOOP_LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
EVENT_LOOP_LAG = Histogram(
    "autotriage_event_loop_lag_seconds",
    "How late the event loop ran a timer it was asked to run (CPU work holding the loop shows up here)",
    buckets=LOOP_LAG_BUCKETS,
    registry=REGISTRY,
)
TEXT_WORKER_RESTARTS = Counter(
    "autotriage_text_worker_restarts_total",
    "Classifier text-worker pools restarted because a worker process died (killed, out of memory)",
    registry=REGISTRY,
)

# --- feedback (a scheduled job: its own registry, written as a node-exporter textfile or served) -------
#: Gauges of the latest feedback run per tenant; labels are bounded: mode (off/shadow/suggest/apply), level
#: (1, 2, full), verdict (5 values), bucket (10 confidence deciles). Never a category or a ticket id.
FEEDBACK_REGISTRY = CollectorRegistry(auto_describe=True)
FEEDBACK_AGREEMENT = Gauge(
    "autotriage_feedback_agreement_ratio",
    "Share of closed tickets whose final category is the one autotriage chose (latest feedback window)",
    ["tenant", "mode", "level"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_TICKETS = Gauge(
    "autotriage_feedback_tickets",
    "Closed tickets autotriage had decided for, by verdict (latest feedback window)",
    ["tenant", "mode", "verdict"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_BUCKET_AGREEMENT = Gauge(
    "autotriage_feedback_bucket_agreement_ratio",
    "Agreement per confidence decile (reliability curve; latest feedback window)",
    ["tenant", "bucket"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_BUCKET_TICKETS = Gauge(
    "autotriage_feedback_bucket_tickets",
    "Counted tickets per confidence decile (latest feedback window)",
    ["tenant", "bucket"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_TARGET = Gauge(
    "autotriage_feedback_agreement_target_ratio",
    "The agreement a tenant's applied categories should keep (alert below it)",
    ["tenant"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_CHANGED_BY = Gauge(
    "autotriage_feedback_changed_by_tickets",
    "Closed tickets whose category differs from autotriage's, by who changed it according to the PSA's history "
    "(technician, workflow_or_api, rescoped, unknown; latest feedback window)",
    ["tenant", "changed_by"],
    registry=FEEDBACK_REGISTRY,
)
FEEDBACK_LAST_RUN = Gauge(
    "autotriage_feedback_last_run_timestamp_seconds",
    "When the feedback job last finished for a tenant (Unix time)",
    ["tenant"],
    registry=FEEDBACK_REGISTRY,
)
