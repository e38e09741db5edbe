"""Tool secrets and signing keys of a tenant.

Secrets are write-only: values go in (encrypted by the repository before anything is flushed)
and never come out of the API; only workers decrypt them. Signing keys are made by rotation;
the new key's secret is returned once, by :meth:`SecretService.rotate_signing_key`.

Without a configured key ring, storing a value or making a key is a 503
``secrets_not_configured``; metadata can still be read and secrets deleted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core.crypto import EnvelopeCipher, require_cipher
from agent_runtime_core.errors import ConflictError, NotFoundError
from agent_runtime_core.models import ToolSecret, ToolSigningKey
from agent_runtime_core.repositories import Rotation, SigningKeyRepository, ToolSecretRepository
from agent_runtime_core.schemas import SecretCreate, SecretUpdate


def encode_signing_secret(secret: bytes) -> str:
    """A signing key as shown to the tenant: the key is that text itself (43 base64url characters
    from 32 random bytes); receivers use its UTF-8 bytes as the HMAC key."""
    return secret.decode("ascii")


class SecretService:
    """Rules for the secrets and signing keys of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str, cipher: EnvelopeCipher | None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.cipher = cipher
        self.secrets = ToolSecretRepository(session, tenant_id, cipher)
        self.signing_keys = SigningKeyRepository(session, tenant_id, cipher)

    # ---------------------------------------------------------------------------- secrets

    async def create(self, body: SecretCreate) -> ToolSecret:
        """Store a new secret (409 ``secret_name_taken`` if a live one has the name)."""
        require_cipher(self.cipher)
        if await self.secrets.get_by_name(body.name) is not None:
            raise self._name_taken(body.name)
        try:
            async with self.session.begin_nested():
                return await self.secrets.create(body.name, body.value.get_secret_value(), body.description)
        except IntegrityError:
            # A concurrent create of the same name won (the unique index on live names).
            # The database error is dropped: its parameters hold the (encrypted) value.
            raise self._name_taken(body.name) from None

    async def get(self, name: str) -> ToolSecret:
        """A live secret's metadata, or 404."""
        secret = await self.secrets.get_by_name(name)
        if secret is None:
            raise NotFoundError("Secret", name)
        return secret

    async def list(self, *, limit: int, before: str | None) -> Window[ToolSecret]:
        """A page of live secrets, newest first, older than the secret id ``before``."""
        rows = await self.secrets.list(limit=limit + 1, before_id=before)
        return window(rows, limit, key=lambda secret: secret.id)

    async def replace(self, name: str, body: SecretUpdate) -> ToolSecret:
        """Give the secret ``name`` a new value (and description, if given), or 404."""
        require_cipher(self.cipher)
        secret = await self.secrets.get_by_name(name, for_update=True)
        if secret is None:
            raise NotFoundError("Secret", name)
        return await self.secrets.replace_value(secret, body.value.get_secret_value(), body.description)

    async def delete(self, name: str) -> None:
        """Delete the secret ``name`` (soft: the row stays, its name is free again), or 404."""
        secret = await self.secrets.get_by_name(name, for_update=True)
        if secret is None:
            raise NotFoundError("Secret", name)
        await self.secrets.soft_delete(secret)

    # ----------------------------------------------------------------------- signing keys

    async def list_signing_keys(self, *, limit: int, before: str | None) -> Window[ToolSigningKey]:
        """A page of signing keys (retired ones too), newest first."""
        rows = await self.signing_keys.list(limit=limit + 1, before_id=before)
        return window(rows, limit, key=lambda key: key.id)

    async def rotate_signing_key(self, overlap_s: int) -> Rotation:
        """Make a new current signing key; the previous one signs for ``overlap_s`` more seconds."""
        return await self.signing_keys.rotate(timedelta(seconds=overlap_s))

    @staticmethod
    def _name_taken(name: str) -> ConflictError:
        return ConflictError(
            f"a secret named '{name}' already exists; replace its value with PUT /v1/secrets/{name}",
            code="secret_name_taken",
        )
