"""Outbound connections through a corporate egress: the standard proxy variables and a CA bundle.

- Proxies: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` (either case), as curl and Python read them. PSA
  and key-fetch sessions (aiohttp) and the OpenAI/Azure SDK (httpx) all honour them.
- CA bundle: a PEM file whose certificates are trusted *in addition to* the system's, for a private CA or a
  TLS-inspecting proxy. Process-wide from ``AUTOTRIAGE_CA_BUNDLE`` (set with :func:`configure`), or per
  tenant with ``ca_bundle:`` in the tenants file (the tenant's wins).
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.parse
import urllib.request
from pathlib import Path

from autotriage.core.errors import ConfigError

_defaults: dict[str, Path | None] = {"ca_bundle": None}


def configure(ca_bundle: Path | None) -> None:
    """Set the process-wide CA bundle (``AUTOTRIAGE_CA_BUNDLE``); None keeps only the system's roots."""
    _defaults["ca_bundle"] = ca_bundle


def ca_bundle_for(tenant_ca_bundle: Path | None) -> Path | None:
    """The CA bundle that applies: the tenant's, else the process-wide one."""
    return tenant_ca_bundle or _defaults["ca_bundle"]


def ssl_context(tenant_ca_bundle: Path | None = None) -> ssl.SSLContext | None:
    """A verifying TLS context with the applicable CA bundle added to the system roots; None when no bundle
    is configured (the HTTP library's default then applies)."""
    bundle = ca_bundle_for(tenant_ca_bundle)
    return None if bundle is None else _context(str(bundle))


@functools.lru_cache(maxsize=16)
def _context(path: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"CA bundle {path} cannot be read as PEM certificates ({exc}); fix AUTOTRIAGE_CA_BUNDLE or the "
            "tenant's ca_bundle"
        ) from exc
    return context


#: The variables ``proxy_for`` reads; the answers are cached while these keep their values.
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY",
                    "REQUEST_METHOD")
_proxy_cache: dict[tuple[str | None, ...], dict[tuple[str, str], str | None]] = {}


def proxy_for(url: str) -> str | None:
    """The proxy URL for a request to ``url`` from ``HTTPS_PROXY``/``HTTP_PROXY``, None when there is none
    or ``NO_PROXY`` exempts the host. Answers are cached per scheme and host (every PSA request asks) until
    one of the proxy variables changes."""
    parts = urllib.parse.urlsplit(url)
    environ = tuple(os.environ.get(name) for name in _PROXY_VARIABLES)
    answers = _proxy_cache.get(environ)
    if answers is None or len(answers) > 1024:
        _proxy_cache.clear()
        answers = _proxy_cache[environ] = {}
    key = (parts.scheme.lower(), parts.hostname or "")
    if key not in answers:
        answers[key] = _proxy_for(*key)
    return answers[key]


def _proxy_for(scheme: str, host: str) -> str | None:
    environment = urllib.request.getproxies_environment()
    proxy = environment.get(scheme) if scheme != "no" else None
    if not proxy or not host:
        return None
    if bypassed(host, environment.get("no", "")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, the host itself, or a domain suffix (``.corp.example``
    and ``corp.example`` both match ``psa.corp.example``); ports in entries are ignored."""
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        name = name.strip("[]").lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def proxy_hosts() -> frozenset[str]:
    """Host names of the proxies configured in the environment (connections to them are operator-chosen)."""
    hosts = set()
    for scheme, url in urllib.request.getproxies_environment().items():
        host = urllib.parse.urlsplit(url if "://" in url else f"//{url}").hostname if scheme != "no" else None
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)
