"""Connecting to Temporal as Temporal Cloud or a self-hosted cluster with TLS requires: mTLS with a
namespace's client certificate, an API key, a private CA. The dev server speaks plain gRPC only,
so a TLS-terminating proxy that demands a client certificate stands in front of it here."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import TemporalSecurity, connect_temporal
from agent_runtime_core.temporal.security import temporal_security

SERVER_NAME = "temporal.internal.test"


@dataclass
class Pem:
    cert: str
    key: str


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server_name: str | None = None,
    client: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server_name:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


@dataclass
class Pki:
    ca: Pem
    server: Pem
    client: Pem
    stranger: Pem
    """A client certificate from another CA: the proxy must refuse it."""


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("agent-runtime test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    other_ca_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = _issue("another CA", other_ca_key, None, ca=True)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    return Pki(
        ca=_pem(ca, ca_key),
        server=_pem(_issue("temporal", server_key, issuer, server_name=SERVER_NAME), server_key),
        client=_pem(_issue("agent-runtime-worker", client_key, issuer, client=True), client_key),
        stranger=_pem(
            _issue("stranger", stranger_key, (other_ca.subject, other_ca_key), client=True), stranger_key
        ),
    )


@dataclass
class TlsProxy:
    address: str
    client_names: list[str] = field(default_factory=list)


@pytest.fixture
async def tls_proxy(pki: Pki, temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncGenerator[TlsProxy]:
    """Terminates TLS (HTTP/2 by ALPN, client certificate required) in front of the dev server."""
    upstream_host, upstream_port = temporal_env.client.service_client.config.target_host.rsplit(":", 1)
    (tmp_path / "server.pem").write_text(pki.server.cert)
    (tmp_path / "server.key").write_text(pki.server.key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=pki.ca.cert)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    proxy = TlsProxy(address="")
    pumps: set[asyncio.Task[None]] = set()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        proxy.client_names.extend(
            value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"
        )
        up_reader, up_writer = await asyncio.open_connection(upstream_host, int(upstream_port))
        for task in (
            asyncio.create_task(pump(reader, up_writer)),
            asyncio.create_task(pump(up_reader, writer)),
        ):
            pumps.add(task)
            task.add_done_callback(pumps.discard)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    proxy.address = f"127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        server.close()
        for task in list(pumps):
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


def _mtls_settings(pki: Pki, client: Pem, address: str) -> Settings:
    return Settings.model_validate(
        {
            "temporal_address": address,
            "temporal_tls_client_cert": client.cert,
            "temporal_tls_client_key": client.key,
            "temporal_tls_server_ca_cert": pki.ca.cert,
            "temporal_tls_server_name": SERVER_NAME,
        }
    )


async def test_mtls_with_the_settings_client_certificate_reaches_temporal(
    pki: Pki, tls_proxy: TlsProxy
) -> None:
    settings = _mtls_settings(pki, pki.client, tls_proxy.address)
    client = await connect_temporal(settings.temporal_address, security=temporal_security(settings))
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version
    assert "agent-runtime-worker" in tls_proxy.client_names  # the proxy saw our certificate


async def test_a_client_certificate_of_another_ca_is_refused(pki: Pki, tls_proxy: TlsProxy) -> None:
    settings = _mtls_settings(pki, pki.stranger, tls_proxy.address)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(
            connect_temporal(settings.temporal_address, security=temporal_security(settings)),
            timeout=30,
        )
    assert tls_proxy.client_names == []


async def test_plain_grpc_to_a_tls_endpoint_fails(tls_proxy: TlsProxy) -> None:
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect_temporal(tls_proxy.address), timeout=30)


def test_an_api_key_implies_tls_with_the_system_cas() -> None:
    security = temporal_security(Settings.model_validate({"temporal_api_key": "key-123"}))
    assert security == TemporalSecurity(tls=True, api_key="key-123")
    assert temporal_security(Settings()) == TemporalSecurity(tls=False, api_key=None)
    assert temporal_security(Settings.model_validate({"temporal_tls": True})).tls is True


def test_a_private_ca_without_a_client_certificate(pki: Pki) -> None:
    security = temporal_security(Settings.model_validate({"temporal_tls_server_ca_cert": pki.ca.cert}))
    assert isinstance(security.tls, TLSConfig)
    assert security.tls.server_root_ca_cert == pki.ca.cert.encode()
    assert security.tls.client_cert is None


def test_a_client_certificate_needs_its_key(pki: Pki) -> None:
    with pytest.raises(ValidationError, match="temporal_tls_client_key"):
        Settings.model_validate({"temporal_tls_client_cert": pki.client.cert})


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://app@db.internal:5432/agent_runtime?sslmode=require", "p@ss:w/rd%?"),
        ("postgresql://app:stale@db.internal/agent_runtime", "fresh"),
    ],
)
def test_the_database_password_goes_into_the_url(url: str, password: str) -> None:
    """ECS injects the password alone (the `password` key of RDS's managed secret); the URL
    stays plain configuration."""
    settings = Settings.model_validate({"database_url": url, "database_password": password})
    parsed = make_url(settings.database_url)
    assert parsed.password == password
    assert parsed.drivername == "postgresql+psycopg"
    assert parsed.host == "db.internal"
    assert dict(parsed.query) == dict(make_url(url).query)
    assert settings.database_password is None


def test_a_database_password_with_an_unparseable_url_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="database_url"):
        Settings.model_validate({"database_url": "not a url", "database_password": "x"})
