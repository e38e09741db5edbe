"""The Temporal client factory: one data converter and one way to secure the connection for every
process.

A local dev server speaks plain gRPC; Temporal Cloud wants TLS with either an API key or a
namespace's mTLS client certificate; a self-hosted cluster may have its own CA.
:class:`TemporalSecurity` carries that choice from the settings (which get it from a secret
store) to ``Client.connect``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client, Interceptor, Plugin
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from agent_runtime_core.settings import Settings


@dataclass(frozen=True, slots=True)
class TemporalSecurity:
    """How to secure the connection: ``tls`` (``False``, ``True`` for the system's CAs, or a
    ``TLSConfig`` with a client certificate or a CA) and an optional API key."""

    tls: bool | TLSConfig = False
    api_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TemporalSecurity:
        """TLS when asked for, or implied by an API key or a client certificate."""
        api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
        cert, key, ca = (
            secret.get_secret_value().encode() if secret is not None else None
            for secret in (
                settings.temporal_tls_client_cert,
                settings.temporal_tls_client_key,
                settings.temporal_tls_server_ca_cert,
            )
        )
        tls: bool | TLSConfig = settings.temporal_tls or api_key is not None or cert is not None
        if cert is not None or ca is not None or settings.temporal_tls_server_name:
            tls = TLSConfig(
                client_cert=cert,
                client_private_key=key,
                server_root_ca_cert=ca,
                domain=settings.temporal_tls_server_name,
            )
        return cls(tls=tls, api_key=api_key)


async def connect_temporal(
    address: str,
    namespace: str = "default",
    *,
    security: TemporalSecurity | None = None,
    data_converter: DataConverter | None = None,
    plugins: list[Plugin] | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal with ``data_converter``: the processes of a deployment pass the one
    `agent_runtime_core.temporal.data_converter.data_converter_from_settings` builds (encryption,
    offloaded payloads); the default is the plain pydantic converter (our inputs are pydantic
    models). ``security`` (default: plain gRPC) comes from :meth:`TemporalSecurity.from_settings`."""
    security = security or TemporalSecurity()
    return await Client.connect(
        address,
        namespace=namespace,
        tls=security.tls,
        api_key=security.api_key,
        data_converter=data_converter or pydantic_data_converter,
        plugins=plugins or [],
        interceptors=interceptors,
    )
