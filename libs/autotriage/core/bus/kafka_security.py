"""Kafka connection security for managed clusters: TLS (CA, client certificate) and SASL (PLAIN,
SCRAM-SHA-256/512, OAUTHBEARER with OAuth client credentials).

:func:`client_kwargs` turns a :class:`KafkaSecurity` into the keyword arguments every aiokafka producer,
consumer and admin client of :class:`~autotriage.core.bus.kafka.KafkaBus` is created with. Secrets are read
once, from a value or a file (a mounted Kubernetes secret), and never logged.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

from autotriage.core import egress
from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


@dataclass(frozen=True)
class KafkaSecurity:
    """How to connect to the brokers (see docs/kafka-security.md for each managed service)."""

    protocol: Protocol = "PLAINTEXT"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str | None = None
    check_hostname: bool = True
    mechanism: Mechanism | None = None
    username: str | None = None
    password: str | None = None
    oauth_token_url: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    oauth_scope: str | None = None
    #: SASL extensions sent with the token, e.g. Confluent Cloud's ``logicalCluster`` and ``identityPoolId``.
    oauth_extensions: tuple[tuple[str, str], ...] = ()


def parse_extensions(text: str | None) -> tuple[tuple[str, str], ...]:
    """``key=value,key=value`` as pairs; ConfigError for an entry without ``=``."""
    pairs = []
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"AUTOTRIAGE_KAFKA_OAUTH_EXTENSIONS: {entry!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def read_secret(value: str | None, file: Path | None, what: str) -> str | None:
    """A secret given directly or as a file path (exactly one may be set)."""
    if value and file:
        raise ConfigError(f"{what}: set the value or the _FILE variant, not both")
    if file is None:
        return value or None
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {file} ({exc.strerror}); check the path") from exc


def client_kwargs(security: KafkaSecurity) -> dict[str, Any]:
    """The security keyword arguments for aiokafka's producer, consumer and admin client."""
    kwargs: dict[str, Any] = {"security_protocol": security.protocol}
    uses_tls = security.protocol in ("SSL", "SASL_SSL")
    uses_sasl = security.protocol.startswith("SASL_")
    if uses_tls:
        kwargs["ssl_context"] = tls_context(security)
    elif security.ca_file or security.cert_file:
        raise ConfigError(
            f"Kafka CA/client certificate files are set but the security protocol is {security.protocol}; "
            "set AUTOTRIAGE_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"
        )
    if uses_sasl:
        kwargs.update(_sasl(security))
    elif security.mechanism:
        raise ConfigError(
            f"AUTOTRIAGE_KAFKA_SASL_MECHANISM is {security.mechanism} but the security protocol is "
            f"{security.protocol}; set AUTOTRIAGE_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
        )
    return kwargs


def tls_context(security: KafkaSecurity) -> ssl.SSLContext:
    """Verifying TLS against ``ca_file`` (else the system roots); a client certificate when given (mTLS)."""
    if (security.cert_file is None) != (security.key_file is None):
        raise ConfigError("a Kafka client certificate needs both AUTOTRIAGE_KAFKA_SSL_CERT_FILE and _KEY_FILE")
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=security.ca_file,
            certfile=security.cert_file,
            keyfile=security.key_file,
            password=security.key_password,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"Kafka TLS files cannot be loaded ({exc}); check the CA, certificate and key") from exc
    context.check_hostname = security.check_hostname
    return context


def _sasl(security: KafkaSecurity) -> dict[str, Any]:
    mechanism = security.mechanism or "PLAIN"
    if mechanism == "OAUTHBEARER":
        token_url, client_id, client_secret = (security.oauth_token_url, security.oauth_client_id,
                                               security.oauth_client_secret)
        if not (token_url and client_id and client_secret):
            missing = [n for n, v in (("AUTOTRIAGE_KAFKA_OAUTH_TOKEN_URL", token_url),
                                      ("AUTOTRIAGE_KAFKA_OAUTH_CLIENT_ID", client_id),
                                      ("AUTOTRIAGE_KAFKA_OAUTH_CLIENT_SECRET", client_secret)) if not v]
            raise ConfigError(f"SASL OAUTHBEARER needs {', '.join(missing)}")
        provider = ClientCredentialsTokenProvider(
            token_url, client_id, client_secret, security.oauth_scope,
            dict(security.oauth_extensions),
        )
        return {"sasl_mechanism": mechanism, "sasl_oauth_token_provider": provider}
    if not security.username or not security.password:
        raise ConfigError(
            f"SASL {mechanism} needs AUTOTRIAGE_KAFKA_SASL_USERNAME and AUTOTRIAGE_KAFKA_SASL_PASSWORD "
            "(or AUTOTRIAGE_KAFKA_SASL_PASSWORD_FILE)"
        )
    return {"sasl_mechanism": mechanism, "sasl_plain_username": security.username,
            "sasl_plain_password": security.password}


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """OAUTHBEARER tokens from an OAuth 2.0 client-credentials grant (Confluent Cloud identity pools, Azure
    Event Hubs with Entra ID), cached until a minute before they expire."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        extensions: dict[str, str] | None = None,
    ) -> None:
        self._url = token_url
        self._extensions = dict(extensions or {})
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if scope:
            self._form["scope"] = scope
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def extensions(self) -> dict[str, str]:
        """SASL extensions sent with each token (empty unless configured)."""
        return dict(self._extensions)

    async def token(self) -> str:
        """A valid access token, fetched when the cached one is about to expire."""
        async with self._lock:
            if self._token and time.monotonic() < self._expires - 60:
                return self._token
            timeout = aiohttp.ClientTimeout(total=20)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self._url, data=self._form, proxy=egress.proxy_for(self._url),
                             ssl=egress.ssl_context() or True) as resp,
            ):
                body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                    raise ConfigError(f"Kafka OAuth token endpoint answered HTTP {resp.status}: check the "
                                      "client id, secret and scope")
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 3600))
            return self._token


def kwargs_from_settings(settings: Settings) -> dict[str, Any]:
    """The TLS/SASL keyword arguments for every Kafka client, from the settings and their secret files."""
    def secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
        return read_secret(value.get_secret_value() if value else None, file, what)

    return client_kwargs(KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        ca_file=settings.kafka_ssl_ca_file,
        cert_file=settings.kafka_ssl_cert_file,
        key_file=settings.kafka_ssl_key_file,
        key_password=secret(settings.kafka_ssl_key_password, settings.kafka_ssl_key_password_file,
                            "AUTOTRIAGE_KAFKA_SSL_KEY_PASSWORD"),
        check_hostname=settings.kafka_ssl_check_hostname,
        mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_sasl_username,
        password=secret(settings.kafka_sasl_password, settings.kafka_sasl_password_file,
                        "AUTOTRIAGE_KAFKA_SASL_PASSWORD"),
        oauth_token_url=settings.kafka_oauth_token_url,
        oauth_client_id=settings.kafka_oauth_client_id,
        oauth_client_secret=secret(settings.kafka_oauth_client_secret, settings.kafka_oauth_client_secret_file,
                                   "AUTOTRIAGE_KAFKA_OAUTH_CLIENT_SECRET"),
        oauth_scope=settings.kafka_oauth_scope,
        oauth_extensions=parse_extensions(settings.kafka_oauth_extensions),
    ))
