"""The Temporal client factory: one data converter and one way to secure the connection for every
process.

A local dev server speaks plain gRPC; Temporal Cloud wants TLS with either an API key or a
namespace's mTLS client certificate; a self-hosted cluster may have its own CA.
:class:`TemporalSecurity` carries that choice to ``Client.connect``;
:func:`agent_runtime_core.temporal.security.temporal_security` makes it from the settings (which
get it from a secret store). This module reads no settings: workflow code imports the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.client import Client, Interceptor, Plugin
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig


@dataclass(frozen=True, slots=True)
class TemporalSecurity:
    """How to secure the connection: ``tls`` (``False``, ``True`` for the system's CAs, or a
    ``TLSConfig`` with a client certificate or a CA) and an optional API key."""

    tls: bool | TLSConfig = False
    api_key: str | None = None


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
    models). ``security`` (default: plain gRPC) comes from ``temporal_security(settings)``."""
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
