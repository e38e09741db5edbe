"""Tenants' tool secrets and signing keys, read and decrypted inside tool-call activities.

Only secret *names* travel through Temporal (HTTP tool and MCP server header templates); the
values are read here, in the activity that sends the request, under the tenant's row-level
security, decrypted with the deployment's key-encryption key, used, and dropped. Nothing here
logs a value.
"""

from __future__ import annotations

from agent_runtime_core.crypto import EnvelopeCipher
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import SigningKeyRepository, ToolSecretRepository
from agent_runtime_core.signing import SigningKey

__all__ = ["DatabaseToolCredentials"]


class DatabaseToolCredentials:
    """Reads a tenant's secrets and signing keys from Postgres (the worker's ``secrets`` and
    ``signing_keys`` dependencies)."""

    def __init__(self, database: Database, cipher: EnvelopeCipher | None) -> None:
        """Read from ``database``; ``cipher`` ``None``: no key-encryption key is configured, so
        no tenant can have stored a secret or a signing key (the API refuses to store them)."""
        self.database = database
        self.cipher = cipher

    async def values(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        """The decrypted values of those of ``names`` the tenant has (absent names left out)."""
        if not names or self.cipher is None:
            return {}
        async with session_scope(self.database, tenant_id) as session:
            return await ToolSecretRepository(session, tenant_id, self.cipher).secret_values(names)

    async def signing_keys(self, tenant_id: str) -> list[SigningKey]:
        """The keys to sign the tenant's HTTP tool requests with now, the current one first."""
        if self.cipher is None:
            return []
        async with session_scope(self.database, tenant_id) as session:
            keys = await SigningKeyRepository(session, tenant_id, self.cipher).signing_keys(utcnow())
        return [SigningKey(key_id=key.key_id, secret=key.secret) for key in keys]
