"""Queries on API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import ApiKey
from agent_runtime_core.repositories.base import TenantRepository


class ApiKeyRepository(TenantRepository[ApiKey]):
    """API keys of one tenant (``add`` flushes, so a prefix collision surfaces there). Keys are
    revoked, never deleted."""

    model = ApiKey

    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None:
        """Return the key ``key_id`` of this tenant (revoked ones too), or ``None``."""
        return await self.get_for_tenant(key_id, for_update=for_update)

    async def list(self, *, limit: int, before_id: str | None = None) -> Sequence[ApiKey]:
        """Return up to ``limit`` keys, newest first, older than ``before_id``."""
        return await self.page(self.scoped(), limit=limit, cursor_id=before_id)

    async def list_active_named(self, name: str, now: datetime) -> Sequence[ApiKey]:
        """Keys called ``name`` that are neither revoked nor expired."""
        statement = select(ApiKey).where(
            ApiKey.tenant_id == self.tenant_id,
            ApiKey.name == name,
            col(ApiKey.revoked_at).is_(None),
            or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
        )
        return (await self.session.exec(statement)).all()


class ApiKeyLookup:
    """Finds a key by its public prefix, before the caller's tenant is known.

    The one query on tenant data that is not scoped to a tenant: it is how the tenant is found.
    It selects by the unique prefix only and returns the row for the caller to check the hash.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """The key whose public prefix is ``prefix``, or ``None``."""
        return (await self.session.exec(select(ApiKey).where(ApiKey.prefix == prefix))).first()

    async def touch(self, key_id: str, now: datetime, *, min_interval_s: float) -> None:
        """Set ``last_used_at`` unless it was set less than ``min_interval_s`` ago.

        The condition sits in the UPDATE, so concurrent requests of one key write at most once
        per interval without reading first.
        """
        statement = (
            update(ApiKey)
            .where(
                col(ApiKey.id) == key_id,
                or_(
                    col(ApiKey.last_used_at).is_(None),
                    col(ApiKey.last_used_at) < now - timedelta(seconds=min_interval_s),
                ),
            )
            .values(last_used_at=now)
        )
        await self.session.exec(statement)
