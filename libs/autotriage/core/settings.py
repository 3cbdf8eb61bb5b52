"""Process settings (environment variables with the ``AUTOTRIAGE_`` prefix), read by services only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings for one autotriage process."""

    model_config = SettingsConfigDict(env_prefix="AUTOTRIAGE_", env_file=None, extra="ignore")

    bus: Literal["memory", "kafka"] = "memory"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    #: Kafka connection security (docs/kafka-security.md); secrets as a value or a ``_FILE`` path.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_key_password_file: Path | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    kafka_oauth_token_url: str | None = None
    kafka_oauth_client_id: str | None = None
    kafka_oauth_client_secret: SecretStr | None = None
    kafka_oauth_client_secret_file: Path | None = None
    kafka_oauth_scope: str | None = None
    kafka_oauth_extensions: str | None = None
    topic_prefix: str = "autotriage."
    partitions: int = Field(default=6, ge=1)
    tenants_file: Path = Path("tenants.yaml")
    http_host: str = "0.0.0.0"  # noqa: S104 - a container's stage is reached through its pod/service address
    http_port: int | None = None
    ingress_port: int = 8080
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    enqueue_timeout_s: float = Field(default=4.0, gt=0)
    #: Reverse proxies / load balancers in front of ingress (CIDRs, JSON list): their X-Forwarded-For names
    #: the sender for per-source limits and the refused-delivery log. Empty: the TCP peer is the sender.
    trusted_proxies: tuple[str, ...] = ()
    window: int = Field(default=256, ge=1, description="records a stage holds fetched and unfinished at most")
    concurrency: int = Field(default=16, ge=1, description="records a stage handles at once (handler slots)")
    tenant_share: float = Field(
        default=0.5, gt=0, le=1, description="largest share of a stage's handler slots one tenant may hold"
    )
    retry_tiers_s: tuple[float, ...] = Field(
        default=(5.0, 60.0, 600.0), min_length=1, description="delay tiers (retry topics), shortest first"
    )
    max_attempts: int = Field(default=6, ge=1, description="attempts per record before the dead-letter topic")
    handle_timeout_s: float = Field(default=120.0, gt=0, description="deadline for handling one record")
    commit_interval_s: float = Field(default=1.0, gt=0)
    liveness_timeout_s: float = Field(default=60.0, gt=0, description="poll loop silent this long: not alive")
    session_timeout_ms: int = Field(default=30_000, ge=6000)
    rebalance_timeout_ms: int = Field(default=60_000, ge=10_000)
    kafka_linger_ms: int = Field(
        default=0, ge=0, le=1000,
        description="how long the producer holds a record to batch it (each stage hop adds up to this latency; "
        "under load records batch anyway while a request is in flight)",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=50, ge=1, le=10_000,
        description="longest a consumer's fetch waits at the broker for data (latency vs. idle polling CPU)",
    )
    kafka_fetch_min_bytes: int = Field(
        default=1, ge=1, le=16 * 1024 * 1024,
        description="data a fetch waits for (up to the fetch wait) before it returns: more batches records per "
        "request at high rates, at up to the fetch wait of latency per stage",
    )
    taxonomy_ttl_s: float = Field(default=3600.0, gt=0)
    text_workers: int = Field(
        default=1, ge=0, description="classifier: worker processes that clean and redact large tickets off the "
        "event loop (0: a thread, which shares the interpreter lock and lets one hostile e-mail stall the loop)"
    )
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    drain_timeout_s: float = Field(default=30.0, gt=0)
    #: PEM file of extra CA certificates for every outbound HTTPS connection (private CA, TLS inspection);
    #: a tenant's ``ca_bundle`` overrides it. Proxies come from HTTPS_PROXY / NO_PROXY.
    ca_bundle: Path | None = None
    outcomes_file: Path | None = Path("outcomes.jsonl")

    @field_validator("outcomes_file", mode="before")
    @classmethod
    def _no_outcomes_file(cls, value: object) -> object:
        """``AUTOTRIAGE_OUTCOMES_FILE=none`` (or empty) turns the audit file off."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value
