"""How a process secures its Temporal connection, from its settings (kept apart from
``agent_runtime_core.temporal.client``, which workflow code imports and which reads no settings)."""

from __future__ import annotations

from temporalio.service import TLSConfig

from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.client import TemporalSecurity


def temporal_security(settings: Settings) -> TemporalSecurity:
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
    return TemporalSecurity(tls=tls, api_key=api_key)
