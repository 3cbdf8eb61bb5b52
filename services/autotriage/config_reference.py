"""docs/configuration.md, generated from the settings and tenants-file schemas: every key with its type,
default and meaning. Types and defaults come from the pydantic models; a field's ``description`` is its
meaning, else the entry in ``MEANINGS`` (a test fails when a key has neither, or when the file is stale).

Regenerate: ``python -m autotriage.config_reference > docs/configuration.md``.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from autotriage.core.secrets import SecretRef
from autotriage.core.settings import Settings
from autotriage.core.tenants import (
    AutotaskConnection,
    Budget,
    ConnectWiseConnection,
    HaloConnection,
    LLMSettings,
    Policy,
    Price,
    ScopePolicy,
    Tenant,
    TenantsFile,
    WebhookAuth,
)

SETTINGS_MEANINGS = {
    "bus": "`memory`: all stages in one process, no broker (the embedded default); `kafka`: stages talk over Kafka",
    "kafka_bootstrap_servers": "Kafka bootstrap servers, comma-separated `host:port`",
    "topic_prefix": "prefix of every topic and consumer group (`autotriage.` gives `autotriage.webhooks.raw`)",
    "partitions": "partitions per topic when `topics create` (or `run --bus kafka`) creates topics; the ceiling "
                  "for replicas of every consuming stage",
    "tenants_file": "path of the tenants YAML file (below)",
    "http_host": "address the HTTP server (webhooks, `/livez`, `/readyz`, `/metrics`) listens on",
    "http_port": "port of that server; unset: 8080 for ingress and `run`, 9101-9104 for the other stages",
    "ingress_port": "default port of ingress and `autotriage run` when `http_port` is unset",
    "max_body_bytes": "largest webhook body ingress accepts (bytes); larger deliveries get HTTP 413",
    "enqueue_timeout_s": "how long ingress waits for the bus to acknowledge a webhook before answering 503 "
                         "(the PSA retries)",
    "commit_interval_s": "how often each partition commits the offset below which every record is done and "
                         "its outputs acknowledged",
    "session_timeout_ms": "Kafka group session timeout: a member without heartbeats this long leaves the group "
                          "(heartbeats come from the client's own task, not from the handlers)",
    "rebalance_timeout_ms": "how long a member may take to hand over revoked partitions; in-flight records get "
                            "three quarters of it to finish before they are dropped and redelivered",
    "trusted_proxies": "reverse proxies in front of ingress (CIDRs, JSON list) whose `X-Forwarded-For` names the "
                       "sender for per-sender limits and the refused-delivery log",
    "ca_bundle": "PEM file of extra CA certificates for every outbound HTTPS call (private CA, TLS inspection); "
                 "proxies come from `HTTPS_PROXY` / `NO_PROXY`",
    "kafka_security_protocol": "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (see docs/kafka-security.md)",
    "kafka_ssl_ca_file": "PEM file of the CA that signed the brokers' certificates (unset: the system store)",
    "kafka_ssl_cert_file": "client certificate (PEM) for mutual TLS",
    "kafka_ssl_key_file": "client private key (PEM) for mutual TLS",
    "kafka_ssl_key_password": "password of the client private key",
    "kafka_ssl_key_password_file": "file holding the password of the client private key",
    "kafka_ssl_check_hostname": "verify that the broker certificate matches its host name",
    "kafka_sasl_mechanism": "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER`",
    "kafka_sasl_username": "SASL user name (PLAIN, SCRAM); the API key on Confluent Cloud",
    "kafka_sasl_password": "SASL password (PLAIN, SCRAM); the API secret on Confluent Cloud",
    "kafka_sasl_password_file": "file holding the SASL password (a mounted secret)",
    "kafka_oauth_token_url": "OAUTHBEARER: the identity provider's token endpoint (client-credentials grant)",
    "kafka_oauth_client_id": "OAUTHBEARER: the client id",
    "kafka_oauth_client_secret": "OAUTHBEARER: the client secret",
    "kafka_oauth_client_secret_file": "OAUTHBEARER: file holding the client secret",
    "kafka_oauth_scope": "OAUTHBEARER: the scope to request",
    "kafka_oauth_extensions": "OAUTHBEARER: SASL extensions (JSON object; Confluent Cloud needs `logicalCluster` "
                              "and `identityPoolId`)",
    "taxonomy_ttl_s": "how long a fetched taxonomy is used before it is read from the PSA again",
    "log_format": "`json` (one object per line, for services) or `text`",
    "log_level": "Python log level (`DEBUG`, `INFO`, `WARNING`, ...)",
    "drain_timeout_s": "on SIGTERM, how long each component may take to finish in-flight work",
    "outcomes_file": "with the in-memory bus, every outcome is also appended to this JSON-lines file (read it "
                     "with `autotriage outcomes`); unused with Kafka, where the `tickets.outcomes` topic is the "
                     "record. `none` disables it",
}

MEANINGS: dict[type[BaseModel], dict[str, str]] = {
    TenantsFile: {
        "tenants": "the MSP tenants (below)",
        "prices": "USD per 1M tokens by model name, overriding or adding to the built-in table "
                  "(`{gpt-4o-mini: {input: 0.15, cached_input: 0.075, output: 0.6}}`)",
    },
    Price: {"input": "USD per 1M prompt tokens", "cached_input": "USD per 1M cached prompt tokens",
            "output": "USD per 1M completion tokens"},
    Tenant: {
        "ca_bundle": "PEM file of extra CA certificates for this tenant's PSA and LLM calls (overrides the "
                     "process-wide `ca_bundle`)",
        "id": "short id (letters, digits, `-`, `_`): in the webhook URL `/webhooks/<psa>/<id>` and the metrics "
              "label",
        "name": "display name",
        "psa": "the PSA connection: one of the three blocks below, chosen by `kind` (`halo`, `connectwise`, "
               "`autotask`)",
        "webhook": "how the PSA's webhooks prove they are real",
        "llm": "which model classifies the tickets",
        "policy": "what may be written: mode, thresholds, protections",
        "budget": "spending caps",
        "prompt_template": "Jinja2 (sandboxed) system prompt replacing the default; variables as in the default",
        "note_template": "Jinja2 (sandboxed) internal-note text replacing the default",
    },
    HaloConnection: {
        "kind": "`halo`",
        "base_url": "your Halo URL, e.g. `https://acme.halopsa.com`",
        "auth_url": "authorisation server when it is not `<base_url>/auth`",
        "tenant": "the Halo tenant name (Halo-hosted instances only)",
        "client_id": "Client ID of the Halo API application (Client ID and Secret (Services))",
        "client_secret": "its Client Secret (a secret reference)",
        "scope": "OAuth scopes requested; the application must grant them",
        "category_field": "which of `category_1`..`category_4` holds the category",
        "note_outcome_id": "id of the Action outcome used for the internal note (Halo refuses an Action without "
                           "one; list them with `GET /api/Outcome`)",
        "note_outcome": "the outcome's name instead of its id",
        "max_concurrency": "API calls at once for this tenant",
    },
    ConnectWiseConnection: {
        "kind": "`connectwise`",
        "site": "API host of your region (`api-na.myconnectwise.net`, `api-eu...`, `api-au...`) or your "
                "on-premises host",
        "company": "company id you sign in with",
        "public_key": "API member's public key",
        "private_key": "API member's private key (a secret reference)",
        "client_id": "clientId of your integration (developer.connectwise.com)",
        "codebase": "fixed codebase (`v2025_1/`) instead of asking `companyinfo`",
        "api_version": "API version sent in the `Accept` header",
        "scheme": "`https`; `http` only for a simulator",
        "on_prem_host": "on-premises host whose callback `key_url` is trusted",
        "key_url_hosts": "further hosts a callback's `key_url` (signing key) may point at",
        "allow_private_key_url": "trust a `key_url` on a private address (simulators, on-premises)",
        "max_concurrency": "API calls at once for this tenant",
    },
    AutotaskConnection: {
        "kind": "`autotask`",
        "username": "API user's user name (an API-only user)",
        "secret": "API user's secret (a secret reference)",
        "integration_code": "the API tracking identifier (a secret reference)",
        "zone_url": "REST base of your zone; unset: found by zone discovery",
        "discovery_url": "where zone discovery asks",
        "note_type": "note type label of the internal note",
        "note_publish": "publish label of the internal note",
        "max_concurrency": "API calls at once (Autotask allows 3 per endpoint)",
    },
    WebhookAuth: {
        "username": "Halo: the Basic-auth user name set on the Halo webhook",
        "password": "Halo: the Basic-auth password (a secret reference)",
        "secret": "Autotask: the webhook's secret key, checks `X-Hook-Signature` (a secret reference); "
                  "ConnectWise needs none (callbacks are signed with a key fetched from ConnectWise)",
    },
    LLMSettings: {
        "shortlist": "with a local model, send the LLM only the model's top-k candidates plus the catch-alls "
                     "(the full list once more on an abstention or low confidence)",
        "shortlist_k": "k for the shortlist (unset: the k measured at training, the smallest with 98% recall)",
        "shortlist_min_confidence": "a shortlist answer below this confidence is asked again with the full list",
        "catch_all": "catch-all categories always sent with a shortlist, as ids or `A > B` paths (unset: found "
                     "by name, e.g. `Other`)",
        "provider": "`openai`, `azure` (Azure OpenAI) or `local` (the local model alone)",
        "model": "model name (prices, and the request's model on OpenAI)",
        "api_key": "API key (a secret reference)",
        "base_url": "OpenAI-compatible endpoint, or Azure's v1 surface `https://<resource>.openai.azure.com/openai/v1/`",
        "azure_endpoint": "Azure resource endpoint `https://<resource>.openai.azure.com`",
        "azure_deployment": "Azure deployment name",
        "api_version": "Azure API version",
        "timeout_s": "read timeout of one request, seconds",
        "connect_timeout_s": "connect timeout, seconds",
        "max_retries": "retries of a transient LLM error before the ticket is retried later",
        "max_enum": "largest candidate list answered in one request; above it the pick is made level by level",
        "ticket_token_budget": "tokens of ticket text sent at most (the rest is cut)",
        "reasoning_max_chars": "length asked of the reasoning in the note",
        "local_model_path": "model file from `autotriage learn`: with `local` the classifier, else the first "
                            "stage of the cascade",
        "cascade_threshold": "local-model confidence at which the cascade skips the LLM; unset: the threshold "
                             "measured at training",
        "few_shot": "similar past tickets added to the prompt (needs `local_model_path`)",
        "short_ids": "short candidate ids in the prompt (fewer tokens)",
    },
    Policy: {
        "mode": "`off`, `shadow` (record what would be done, write nothing), `suggest` (note only), `apply`",
        "apply_threshold": "confidence at or above which the category is written",
        "suggest_threshold": "confidence at or above which a note suggests the category",
        "overwrite_threshold": "confidence needed to replace a category a person set; unset: never",
        "note_below_threshold": "add a note even below `suggest_threshold`",
        "noise_filter": "skip auto-replies, out-of-office, bounces, spam and empty tickets before the LLM",
        "redact_pii": "replace e-mails, phone numbers, IPs, card numbers and credentials before the LLM",
        "scopes": "overrides per scope id (CW board, Autotask queue, Halo ticket type): `mode`, thresholds",
    },
    ScopePolicy: {"mode": "mode in this scope", "apply_threshold": "apply threshold in this scope",
                  "suggest_threshold": "suggest threshold in this scope"},
    Budget: {
        "usd_per_day": "USD cap per UTC day", "usd_per_month": "USD cap per UTC month",
        "tokens_per_day": "token cap per UTC day", "tokens_per_month": "token cap per UTC month",
        "on_exhausted": "`skip` (reason `budget_exhausted`) or `local` (suggestions from the local model)",
        "strict": "stop before a request that could pass the cap (else admit while anything is left)",
        "replicas": "classifier processes sharing the cap; each enforces cap / replicas",
    },
}

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("tenants file: top level", TenantsFile),
    ("`prices.<model>`", Price),
    ("`tenants[]`", Tenant),
    ("`psa` with `kind: halo`", HaloConnection),
    ("`psa` with `kind: connectwise`", ConnectWiseConnection),
    ("`psa` with `kind: autotask`", AutotaskConnection),
    ("`webhook`", WebhookAuth),
    ("`llm`", LLMSettings),
    ("`policy`", Policy),
    ("`policy.scopes.<scope id>`", ScopePolicy),
    ("`budget`", Budget),
]


def type_name(annotation: Any) -> str:
    """A short, readable type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = list(dict.fromkeys(type_name(a) for a in args if a is not type(None)))
        return " \\| ".join(names) + (" \\| null" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(f"`{a.value if isinstance(a, Enum) else a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {type_name(args[1])}"
    if annotation is SecretRef:
        return "secret (`{env: NAME}` / `{file: PATH}`)"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "mapping"
        if issubclass(annotation, Enum):
            return " \\| ".join(f"`{member.value}`" for member in annotation)
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "Path": "path",
                "HttpUrl": "URL"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def default_of(field: FieldInfo) -> str:
    """The default, as it would be written in YAML; ``required`` when there is none."""
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None:
        return "-"
    if isinstance(value, BaseModel):
        return "(see below)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (dict, list, tuple)) and not value:
        return "empty"
    if isinstance(value, tuple):
        value = list(value)
    if value == "":
        return '`""`'
    return f"`{value}`"


def bounds(field: FieldInfo) -> str:
    """Numeric bounds (``ge``/``le``/``gt``) as text."""
    out = []
    for meta in field.metadata:
        for name, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, name, None)
            if value is not None:
                out.append(f"{sign} {value}")
    return f" ({', '.join(out)})" if out else ""


def meaning(model: type[BaseModel], name: str, field: FieldInfo, table: dict[str, str]) -> str:
    """A field's meaning: its description, else the table's entry (``""`` when neither: a test catches it)."""
    return field.description or table.get(name, "")


def rows(model: type[BaseModel], table: dict[str, str]) -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, meaning) of every field."""
    for name, field in model.model_fields.items():
        yield (name, type_name(field.annotation) + bounds(field), default_of(field),
               meaning(model, name, field, table))


def missing_meanings() -> list[str]:
    """Keys without a meaning."""
    found = [f"settings.{n}" for n, _, _, m in rows(Settings, SETTINGS_MEANINGS) if not m]
    for _, model in SECTIONS:
        found += [f"{model.__name__}.{n}" for n, _, _, m in rows(model, MEANINGS.get(model, {})) if not m]
    return found


def _table(items: Iterator[tuple[str, str, str, str]], key_format: str = "`{}`") -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, kind, default, text in items:
        escaped = text.replace("|", "\\|")
        lines.append(f"| {key_format.format(name)} | {kind} | {default} | {escaped} |")
    return lines


def render() -> str:
    """The whole of docs/configuration.md."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m autotriage.config_reference > docs/configuration.md` from the pydantic "
        "schemas (autotriage.core.settings, autotriage.core.tenants). Do not edit by hand: "
        "tests/unit/test_config_reference.py fails when this file is out of date. -->",
        "",
        "Two sources configure a process: **settings** (environment variables with the `AUTOTRIAGE_` prefix, "
        "some also command-line options) and the **tenants file** (YAML, `AUTOTRIAGE_TENANTS_FILE`). Check both "
        "with `autotriage doctor` (add `--connect` to contact every PSA, LLM and Kafka).",
        "",
        "Secrets are never written in the tenants file: a secret is a reference, `{env: NAME}` (an environment "
        "variable) or `{file: /run/secrets/name}` (a file, e.g. a mounted Kubernetes or Docker secret).",
        "",
        "## Settings (environment)",
        "",
    ]
    out += _table(((f"AUTOTRIAGE_{n.upper()}", t, d, m) for n, t, d, m in rows(Settings, SETTINGS_MEANINGS)))
    out += ["", "`retry_tiers_s` is a JSON list in the environment: `AUTOTRIAGE_RETRY_TIERS_S='[5, 60, 600]'`.",
            "", "## Tenants file", ""]
    for title, model in SECTIONS:
        out += [f"### {title}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            out += [re.sub(r"\s+", " ", doc), ""]
        out += _table(rows(model, MEANINGS.get(model, {})))
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
