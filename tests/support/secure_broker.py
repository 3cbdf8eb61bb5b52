"""A private Kafka broker with the listeners managed services expose: SASL_SSL (PLAIN, SCRAM-SHA-256,
SCRAM-SHA-512, OAUTHBEARER) and SSL with a required client certificate, all with a certificate from a private CA.

Same jars and settings as ``PrivateBroker`` plus a PLAINTEXT listener for the broker's own traffic and the
readiness check. SCRAM users are created when the data directory is formatted (``kafka-storage format
--add-scram``), as on a KRaft cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

from tests.support.broker import PrivateBroker
from tests.support.processes import free_port


@dataclass(frozen=True)
class User:
    mechanism: str
    name: str
    password: str


SCRAM_256 = User("SCRAM-SHA-256", "triage-256", "s3cret-two-five-six")
SCRAM_512 = User("SCRAM-SHA-512", "triage-512", "s3cret-five-one-two")
PLAIN = User("PLAIN", "triage-plain", "s3cret-plain")


class SecureBroker(PrivateBroker):
    """``sasl_bootstrap`` (SASL_SSL) and ``ssl_bootstrap`` (mutual TLS); ``ca_file`` trusts the broker,
    ``client_cert``/``client_key`` are a client certificate the SSL listener accepts."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.sasl_port = free_port()
        self.ssl_port = free_port()
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
        self.ssl_bootstrap = f"127.0.0.1:{self.ssl_port}"
        tls = workdir / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="Managed Kafka Test CA")
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert("autotriage-client")
        self.ca_file = tls / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.keystore = tls / "broker.pem"  # Kafka's PEM keystore: a PKCS#8 key, then the certificate chain
        key = serialization.load_pem_private_key(server.private_key_pem.bytes(), password=None)
        pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        self.keystore.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in server.cert_chain_pems))
        self.client_cert = tls / "client.pem"
        self.client_key = tls / "client.key"
        for blob in client.cert_chain_pems:
            blob.write_to_path(str(self.client_cert), append=True)
        client.private_key_pem.write_to_path(str(self.client_key))

    def _server_properties(self) -> str:
        plain = (f'org.apache.kafka.common.security.plain.PlainLoginModule required '
                 f'user_{PLAIN.name}="{PLAIN.password}";')
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        # Kafka's default OAUTHBEARER validator accepts unsecured (alg "none") tokens: enough to test the
        # client side (token provider, SASL exchange); production brokers validate signed JWTs.
        oauth = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        base = super()._server_properties()
        base = base.replace(
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},SASL_SSL://127.0.0.1:{self.sasl_port},"
            f"SSL://127.0.0.1:{self.ssl_port},",
        ).replace(
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},SASL_SSL://127.0.0.1:{self.sasl_port},"
            f"SSL://127.0.0.1:{self.ssl_port}",
        ).replace(
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,",
        )
        return base + f"""ssl.keystore.type=PEM
ssl.keystore.location={self.keystore}
ssl.truststore.type=PEM
ssl.truststore.location={self.ca_file}
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config={oauth}
listener.name.sasl_ssl.plain.sasl.jaas.config={plain}
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={scram}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}
"""

    def _format_args(self) -> list[str]:
        return [arg for user in (SCRAM_256, SCRAM_512)
                for arg in ("--add-scram", f"{user.mechanism}=[name={user.name},password={user.password}]")]
