"""Shared fixtures: the Kafka broker (started unless KAFKA_BOOTSTRAP_SERVERS points at one)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.kafka_local import broker_for_session


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A reachable Kafka broker; a broker that cannot be started fails the test, it is never skipped. A broker
    this session started is stopped at its end; a running one is reused and left running."""
    with broker_for_session() as bootstrap:
        yield bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of its own for each test."""
    return f"t{uuid.uuid4().hex[:10]}."
