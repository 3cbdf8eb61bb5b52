"""Test harness: PSA simulators, the OpenAI-compatible test server and a tenants file pointing at them."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from autotriage.sandbox.common import Simulator
from autotriage.sandbox.openai_server import OpenAITestServer, Reply, Responder

LLM_KEY_ENV = "TEST_OPENAI_API_KEY"
LLM_KEY = "sk-test-key"


def tenant_entry(
    sim: Simulator, tenant_id: str, llm_url: str, **overrides: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """A tenants-file entry for a simulator and the test LLM, plus the env secrets it needs."""
    entry, env = sim.tenant_config(tenant_id)
    entry["llm"] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": f"{llm_url}/v1",
        "api_key": {"env": LLM_KEY_ENV},
        "timeout_s": 10,
        "max_retries": 2,
    }
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


def ticket_text(summary: str, details: str) -> str:
    """The key ``label_oracle`` knows a ticket by."""
    return f"{summary}\n{details}"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def label_oracle(
    expected: dict[str, tuple[str, ...]],
    confidence: float = 0.95,
    per_tenant: dict[str, dict[str, tuple[str, ...]]] | None = None,
) -> Responder:
    """A test-LLM responder that answers each ticket's known category, picking the candidate id whose listed
    path equals it; abstains when the ticket is unknown. ``expected`` maps ``ticket_text(summary, details)`` to
    the path; the ticket is recognised by word overlap (the classifier cleans and redacts the text). With
    ``per_tenant``, the tenant is read from the request's ``prompt_cache_key``."""
    tables = {t: [(_words(k), v) for k, v in m.items()] for t, m in (per_tenant or {}).items()}
    default = [(_words(k), v) for k, v in expected.items()]

    def respond(body: dict[str, Any]) -> Reply:
        key = str(body.get("prompt_cache_key") or "")
        table = next((m for t, m in tables.items() if key.endswith(t)), default)
        messages = body["messages"]
        system = str(messages[0]["content"])
        user = _words(str(messages[-1]["content"]) if len(messages) > 1 else "")

        def score(item: tuple[set[str], tuple[str, ...]]) -> float:
            return len(user & item[0]) / (len(user | item[0]) or 1)

        best = max(table, key=score, default=None)
        wanted = best[1] if best is not None and user else None
        choice = "abstain"
        if wanted is not None:
            label = " > ".join(wanted)
            for line in system.splitlines():
                match = re.match(r"^- ([A-Za-z0-9_.-]+): (.*)$", line)
                if match and (match.group(2) == label or label.startswith(match.group(2) + " > ")):
                    choice = match.group(1)
                    if match.group(2) == label:
                        break
        content = json.dumps({"category_id": choice, "confidence": confidence, "reasoning": "matches the ticket"})
        return Reply(content=content, confidence=confidence, choice=choice)

    return respond
