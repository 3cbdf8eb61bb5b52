"""Kafka security settings: protocol, mechanism and secrets (value or mounted file) become aiokafka's
keyword arguments; inconsistent settings fail with a message naming the variable to fix."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from autotriage.core.bus.kafka_security import (
    ClientCredentialsTokenProvider,
    KafkaSecurity,
    client_kwargs,
    kwargs_from_settings,
)
from autotriage.core.errors import ConfigError
from autotriage.core.settings import Settings


def test_settings_and_secret_files(tmp_path: Path) -> None:
    secret = tmp_path / "sasl-password"
    secret.write_text("from-a-mounted-secret\n")
    kwargs = kwargs_from_settings(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                                           kafka_sasl_username="svc", kafka_sasl_password_file=secret))
    assert kwargs["sasl_plain_password"] == "from-a-mounted-secret"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512" and kwargs["ssl_context"].check_hostname
    assert kwargs_from_settings(Settings()) == {"security_protocol": "PLAINTEXT"}
    with pytest.raises(ConfigError, match="AUTOTRIAGE_KAFKA_SASL_PASSWORD"):
        kwargs_from_settings(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                                      kafka_sasl_username="svc"))
    with pytest.raises(ConfigError, match="SASL_SSL"):
        kwargs_from_settings(Settings(kafka_sasl_mechanism="PLAIN", kafka_sasl_username="svc"))
    with pytest.raises(ConfigError, match="not both"):
        kwargs_from_settings(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="svc",
                                      kafka_sasl_password="x", kafka_sasl_password_file=secret))


def test_oauthbearer_uses_a_client_credentials_token_provider() -> None:
    kwargs = client_kwargs(KafkaSecurity(protocol="SASL_SSL", mechanism="OAUTHBEARER",
                                         oauth_token_url="https://login.example.com/oauth2/token",
                                         oauth_client_id="autotriage", oauth_client_secret="s"))
    assert kwargs["sasl_mechanism"] == "OAUTHBEARER"
    assert isinstance(kwargs["sasl_oauth_token_provider"], ClientCredentialsTokenProvider)
    confluent = kwargs_from_settings(Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_url="https://idp.example.com/token", kafka_oauth_client_id="a",
        kafka_oauth_client_secret="s", kafka_oauth_extensions="logicalCluster=lkc-abc12,identityPoolId=pool-XyZ"))
    assert confluent["sasl_oauth_token_provider"].extensions() == {
        "logicalCluster": "lkc-abc12", "identityPoolId": "pool-XyZ"}
    with pytest.raises(ConfigError, match="AUTOTRIAGE_KAFKA_OAUTH_CLIENT_SECRET"):
        client_kwargs(KafkaSecurity(protocol="SASL_SSL", mechanism="OAUTHBEARER",
                                    oauth_token_url="https://login.example.com/oauth2/token", oauth_client_id="a"))


def test_tls_files_must_be_usable(tmp_path: Path) -> None:
    kwargs = client_kwargs(KafkaSecurity(protocol="SSL"))
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    broken = tmp_path / "ca.pem"
    broken.write_text("not a certificate")
    with pytest.raises(ConfigError, match="Kafka TLS files"):
        client_kwargs(KafkaSecurity(protocol="SSL", ca_file=broken))
    with pytest.raises(ConfigError, match="_KEY_FILE"):
        client_kwargs(KafkaSecurity(protocol="SSL", cert_file=broken))
    with pytest.raises(ConfigError, match="SSL or SASL_SSL"):
        client_kwargs(KafkaSecurity(protocol="PLAINTEXT", ca_file=broken))


async def test_token_provider_fetches_and_caches_the_client_credentials_token() -> None:
    from aiohttp import web

    grants: list[dict[str, str]] = []

    async def token(request: web.Request) -> web.Response:
        grants.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.json_response({"access_token": f"token-{len(grants)}", "expires_in": 3600, "token_type": "Bearer"})

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        provider = ClientCredentialsTokenProvider(f"http://127.0.0.1:{port}/oauth2/token", "autotriage", "s3cret",
                                                  scope="api://kafka/.default")
        assert await provider.token() == "token-1"
        assert await provider.token() == "token-1"  # cached until shortly before it expires
    finally:
        await runner.cleanup()
    assert grants == [{"grant_type": "client_credentials", "client_id": "autotriage", "client_secret": "s3cret",
                       "scope": "api://kafka/.default"}]
