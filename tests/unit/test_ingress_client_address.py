"""The sender's address behind trusted reverse proxies (per-source key-fetch budget, refused-delivery logs)."""

from __future__ import annotations

import pytest

from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings
from autotriage.ingress.client_address import client_address, parse_networks

CLUSTER = parse_networks(["10.0.0.0/8", "fd00::/8"])


def test_peer_is_the_sender_without_trusted_proxies() -> None:
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"
    assert client_address("203.0.113.9", None, CLUSTER) == "203.0.113.9"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    # nginx ingress at 10.2.0.7 appends the real peer; an untrusted peer's header is ignored
    assert client_address("10.2.0.7", "198.51.100.23", CLUSTER) == "198.51.100.23"
    assert client_address("203.0.113.9", "198.51.100.23", CLUSTER) == "203.0.113.9"


def test_forged_left_hops_are_skipped() -> None:
    # the sender wrote "1.2.3.4" itself; the load balancer (10.1.1.1) and nginx (10.2.0.7) are trusted
    assert client_address("10.2.0.7", "1.2.3.4, 198.51.100.23, 10.1.1.1", CLUSTER) == "198.51.100.23"
    assert client_address("10.2.0.7", "10.9.9.9, 10.1.1.1", CLUSTER) == "10.9.9.9"
    assert client_address("fd00::5", "2001:db8::1", CLUSTER) == "2001:db8::1"


def test_bad_entries_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTRIAGE_TRUSTED_PROXIES", '["10.0.0.0/8", "not-a-network"]')
    with pytest.raises(ConfigError, match="AUTOTRIAGE_TRUSTED_PROXIES: 'not-a-network'"):
        parse_networks(Settings().trusted_proxies)
