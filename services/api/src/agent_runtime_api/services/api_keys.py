"""API keys of a tenant: create (shown once), list, read, revoke."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core.auth import Principal
from agent_runtime_core.auth.api_keys import generate_api_key
from agent_runtime_core.errors import ForbiddenError, InvalidRequestError, NotFoundError
from agent_runtime_core.ids import new_api_key_id
from agent_runtime_core.models import ApiKey
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ApiKeyRepository
from agent_runtime_core.schemas import ApiKeyCreate


class ApiKeyService:
    """Rules for the API keys of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.keys = ApiKeyRepository(session, tenant_id)

    async def create(self, body: ApiKeyCreate, creator: Principal) -> tuple[ApiKey, str]:
        """Create a key for ``creator``'s tenant; return it and its token (shown once).

        The key's permissions (its roles, narrowed by its scopes) must be a subset of the
        creator's: nobody mints a key that can do more than they can.
        """
        roles = sorted({role.value for role in body.roles})
        scopes = sorted({scope.value for scope in body.scopes}) if body.scopes is not None else None
        granted = Principal(self.tenant_id, "new-key", roles=frozenset(roles)).permissions
        if scopes is not None:
            not_granted = [scope for scope in scopes if scope not in {p.value for p in granted}]
            if not_granted:
                raise InvalidRequestError(
                    f"scopes {not_granted} are not granted by the roles {roles}", loc=["body", "scopes"]
                )
            granted = frozenset(p for p in granted if p.value in scopes)
        excess = sorted(p.value for p in granted - creator.permissions)
        if excess:
            raise ForbiddenError(
                f"a key cannot do more than its creator; you lack {excess} (narrow its roles or scopes)"
            )
        if body.expires_at is not None and body.expires_at <= utcnow():
            raise InvalidRequestError("expires_at must be in the future", loc=["body", "expires_at"])
        return await self.issue(
            name=body.name,
            roles=roles,
            scopes=scopes,
            created_by=creator.subject,
            expires_at=body.expires_at,
        )

    async def issue(
        self,
        *,
        name: str,
        roles: Iterable[str],
        scopes: Iterable[str] | None = None,
        created_by: str,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key without checking a creator (the CLI's bootstrap); return it and its token."""
        for _ in range(3):  # a 64-bit prefix collision is all but impossible; retry anyway
            generated = generate_api_key()
            key = ApiKey(
                id=new_api_key_id(),
                tenant_id=self.tenant_id,
                name=name,
                prefix=generated.prefix,
                secret_hash=generated.secret_hash,
                roles=sorted(set(roles)),
                scopes=sorted(set(scopes)) if scopes is not None else None,
                created_by=created_by,
                expires_at=expires_at,
            )
            try:
                async with self.session.begin_nested():
                    await self.keys.add(key)
            except IntegrityError:
                continue
            return key, generated.token
        raise RuntimeError("could not allocate a unique API key prefix")

    async def get(self, key_id: str) -> ApiKey:
        """One key of this tenant (revoked ones too), or 404."""
        key = await self.keys.get(key_id)
        if key is None:
            raise NotFoundError("API key", key_id)
        return key

    async def list(self, *, limit: int, before: str | None) -> Window[ApiKey]:
        """A page of keys, newest first (revoked ones too), older than the key ``before``."""
        rows = await self.keys.list(limit=limit + 1, before_id=before)
        return window(rows, limit, key=lambda key: key.id)

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key: it stops working at once. Revoking a revoked key changes nothing."""
        key = await self.keys.get(key_id, for_update=True)
        if key is None:
            raise NotFoundError("API key", key_id)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            self.session.add(key)
            await self.session.flush()
        return key

    async def revoke_named(self, name: str) -> int:
        """Revoke every active key called ``name``; return how many."""
        keys = await self.keys.list_active_named(name, utcnow())
        for key in keys:
            await self.revoke(key.id)
        return len(keys)
