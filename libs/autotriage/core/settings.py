"""Process settings (environment variables with the ``AUTOTRIAGE_`` prefix), read by services only."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
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
    max_batch: int = Field(default=100, ge=1)
    concurrency: int = Field(default=16, ge=1)
    retry_delays_s: tuple[float, ...] = (1.0, 5.0, 30.0, 60.0)
    liveness_stall_s: float = Field(default=120.0, gt=0)
    taxonomy_ttl_s: float = Field(default=3600.0, gt=0)
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    drain_timeout_s: float = Field(default=30.0, gt=0)
    outcomes_file: Path | None = Path("outcomes.jsonl")

    @field_validator("outcomes_file", mode="before")
    @classmethod
    def _no_outcomes_file(cls, value: object) -> object:
        """``AUTOTRIAGE_OUTCOMES_FILE=none`` (or empty) turns the audit file off."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value
