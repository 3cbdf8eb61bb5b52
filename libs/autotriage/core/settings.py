"""Process settings (environment variables with the ``AUTOTRIAGE_`` prefix), read by services only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings for one autotriage process."""

    model_config = SettingsConfigDict(env_prefix="AUTOTRIAGE_", env_file=None, extra="ignore")

    bus: Literal["memory", "kafka"] = "memory"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "autotriage."
    partitions: int = Field(default=6, ge=1)
    tenants_file: Path = Path("tenants.yaml")
    http_host: str = "0.0.0.0"
    http_port: int | None = None
    ingress_port: int = 8080
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    enqueue_timeout_s: float = Field(default=4.0, gt=0)
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
    taxonomy_ttl_s: float = Field(default=3600.0, gt=0)
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    drain_timeout_s: float = Field(default=30.0, gt=0)
