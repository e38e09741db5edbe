"""Queries on tenants' tool secrets: stored as envelopes (:mod:`agent_runtime_core.crypto`),
decrypted only for the worker that calls a tool.

Every envelope is bound to ``{"kind": "tool_secret", "tenant_id", "name"}``: a ciphertext copied
to another tenant's row, or renamed, does not decrypt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.crypto import Context, EnvelopeCipher, envelope_key_id, require_cipher
from agent_runtime_core.ids import new_secret_id
from agent_runtime_core.models import ToolSecret
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.base import TenantRepository


def secret_context(tenant_id: str, name: str) -> Context:
    """What a secret's envelope is bound to."""
    return {"kind": "tool_secret", "tenant_id": tenant_id, "name": name}


class ToolSecretRepository(TenantRepository[ToolSecret]):
    """Secrets of one tenant (soft-deleted). ``cipher`` is needed to write or read values; without
    it those calls raise :class:`~agent_runtime_core.errors.SecretsNotConfiguredError`."""

    model = ToolSecret

    def __init__(self, session: AsyncSession, tenant_id: str, cipher: EnvelopeCipher | None = None) -> None:
        super().__init__(session, tenant_id)
        self.cipher = cipher

    async def get_by_name(self, name: str, *, for_update: bool = False) -> ToolSecret | None:
        """The live secret called ``name``, or ``None``."""
        statement = self.scoped().where(ToolSecret.name == name)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self.session.exec(statement)).first()

    async def list(self, *, limit: int, before_id: str | None = None) -> Sequence[ToolSecret]:
        """Up to ``limit`` live secrets, newest first, older than ``before_id``."""
        return await self.page(self.scoped(), limit=limit, cursor_id=before_id)

    async def create(self, name: str, value: str, description: str = "") -> ToolSecret:
        """Encrypt ``value`` and insert it as the secret ``name`` (flushed: a live secret of that
        name already there raises ``IntegrityError``)."""
        ciphertext = await self._encrypt(name, value)
        row = ToolSecret(
            id=new_secret_id(),
            tenant_id=self.tenant_id,
            name=name,
            description=description,
            ciphertext=ciphertext,
            key_id=envelope_key_id(ciphertext),
        )
        return await self.add(row)

    async def replace_value(
        self, secret: ToolSecret, value: str, description: str | None = None
    ) -> ToolSecret:
        """Give ``secret`` a new value (a new envelope: new data key, active KEK)."""
        ciphertext = await self._encrypt(secret.name, value)
        secret.ciphertext = ciphertext
        secret.key_id = envelope_key_id(ciphertext)
        if description is not None:
            secret.description = description
        secret.updated_at = utcnow()
        self.session.add(secret)
        await self.session.flush()
        return secret

    async def rewrap(self, secret: ToolSecret) -> bool:
        """Re-wrap ``secret``'s data key with the active KEK (after a KEK rotation); ``True`` if it
        changed. The value itself is not re-encrypted and ``updated_at`` stays."""
        cipher = require_cipher(self.cipher)
        ciphertext = await cipher.rewrap(secret.ciphertext, secret_context(self.tenant_id, secret.name))
        if ciphertext == secret.ciphertext:
            return False
        secret.ciphertext = ciphertext
        secret.key_id = envelope_key_id(ciphertext)
        self.session.add(secret)
        await self.session.flush()
        return True

    async def secret_values(self, names: Iterable[str]) -> dict[str, str]:
        """The decrypted values of the live secrets called ``names`` (for the tool-call activity).

        Names without a live secret are simply absent. A stored value that does not decrypt
        raises :class:`~agent_runtime_core.crypto.DecryptionError` (never skipped silently).
        """
        wanted = sorted(set(names))
        if not wanted:
            return {}
        cipher = require_cipher(self.cipher)
        rows = (await self.session.exec(self.scoped().where(col(ToolSecret.name).in_(wanted)))).all()
        values: dict[str, str] = {}
        for row in rows:
            plaintext = await cipher.decrypt(row.ciphertext, secret_context(self.tenant_id, row.name))
            values[row.name] = plaintext.decode()
        return values

    async def _encrypt(self, name: str, value: str) -> bytes:
        cipher = require_cipher(self.cipher)
        return await cipher.encrypt(value.encode(), secret_context(self.tenant_id, name))
