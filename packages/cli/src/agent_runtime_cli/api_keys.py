"""API keys from the command line: bootstrap a deployment, and the dev stack's admin key."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from agent_runtime_api.auth import authenticate_api_key
from agent_runtime_api.services.api_keys import ApiKeyService
from agent_runtime_core.auth import Role
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.errors import UnauthorizedError
from agent_runtime_core.models import ApiKey
from agent_runtime_core.settings import DEFAULT_TENANT_ID

DEV_KEY_NAME = "dev-admin"
"""Name of the dev stack's admin key (one active key of this name per dev database)."""


async def create_api_key(
    database_url: str,
    *,
    tenant_id: str,
    name: str,
    roles: Sequence[str],
    scopes: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    created_by: str = "agent-runtime api-keys create",
) -> tuple[ApiKey, str]:
    """Store a new key of ``tenant_id`` (no creator to check: whoever reaches the database may);
    return it and its token."""
    database = Database(database_url, pool_size=1)
    try:
        async with session_scope(database, tenant_id) as session:
            return await ApiKeyService(session, tenant_id).issue(
                name=name, roles=roles, scopes=scopes, created_by=created_by, expires_at=expires_at
            )
    finally:
        await database.dispose()


async def revoke_api_key(database_url: str, *, tenant_id: str, key_id: str) -> ApiKey:
    """Revoke the key ``key_id`` of ``tenant_id`` (404 error if unknown)."""
    database = Database(database_url, pool_size=1)
    try:
        async with session_scope(database, tenant_id) as session:
            return await ApiKeyService(session, tenant_id).revoke(key_id)
    finally:
        await database.dispose()


def ensure_dev_api_key(database_url: str, key_file: Path, tenant_id: str = DEFAULT_TENANT_ID) -> str:
    """The dev stack's admin key of ``tenant_id``: the one stored in ``key_file`` while it still
    works, else a new one (older keys of that name are revoked) written there (mode 600)."""
    stored = key_file.read_text().strip() if key_file.exists() else None
    token = asyncio.run(_dev_api_key(database_url, stored, tenant_id))
    if token != stored:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
    return token


async def _dev_api_key(database_url: str, stored: str | None, tenant_id: str) -> str:
    database = Database(database_url, pool_size=1)
    try:
        if stored:
            try:
                principal = await authenticate_api_key(database, stored, last_used_interval_s=60)
            except UnauthorizedError:
                pass
            else:
                if principal.tenant_id == tenant_id and Role.ADMIN.value in principal.roles:
                    return stored
        async with session_scope(database, tenant_id) as session:
            service = ApiKeyService(session, tenant_id)
            await service.revoke_named(DEV_KEY_NAME)  # a stale dev key should not linger
            _, token = await service.issue(
                name=DEV_KEY_NAME, roles=[Role.ADMIN.value], created_by="agent-runtime dev"
            )
        return token
    finally:
        await database.dispose()
