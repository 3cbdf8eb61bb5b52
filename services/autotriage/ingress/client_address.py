"""The address a webhook came from, through reverse proxies the operator trusts."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from autotriage.core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``-style entries (a bare address is a /32 or /128); ConfigError naming a bad entry."""
    networks = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"AUTOTRIAGE_TRUSTED_PROXIES: {entry!r} is not an address or CIDR network (e.g. 10.0.0.0/8)"
            ) from exc
    return tuple(networks)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The sender: the TCP peer, unless the peer is a trusted proxy; then the right-most address in
    ``X-Forwarded-For`` that is not a trusted proxy (addresses left of it could be forged by the sender)."""
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer
