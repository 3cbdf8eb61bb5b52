"""Test harness: PSA simulators, the OpenAI-compatible test server and a tenants file pointing at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from autotriage.sandbox.common import Simulator
from autotriage.sandbox.openai_server import OpenAITestServer

LLM_KEY_ENV = "TEST_OPENAI_API_KEY"
LLM_KEY = "sk-test-key"


def tenant_entry(sim: Simulator, tenant_id: str, llm_url: str, **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A tenants-file entry for a simulator and the test LLM, plus the env secrets it needs."""
    entry, env = sim.tenant_config(tenant_id)
    entry["llm"] = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{llm_url}/v1",
                    "api_key": {"env": LLM_KEY_ENV}, "timeout_s": 10, "max_retries": 2}
    entry["policy"] = {"mode": "apply", "apply_threshold": 0.5, "suggest_threshold": 0.2}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key] = {**entry[key], **value}
        else:
            entry[key] = value
    env[LLM_KEY_ENV] = LLM_KEY
    return entry, env


def write_tenants(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write a tenants file."""
    path.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def start_llm() -> tuple[OpenAITestServer, str]:
    """A started OpenAI-compatible test server and its base URL."""
    server = OpenAITestServer()
    url = await server.start()
    return server, url
