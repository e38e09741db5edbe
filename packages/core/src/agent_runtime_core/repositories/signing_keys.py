"""Queries on tenants' signing keys: the HMAC keys that sign HTTP tool requests.

A tenant has at most one *current* key (``expires_at IS NULL``). A rotation makes a new current
key and gives the previous one an ``expires_at`` (now + overlap), during which both are handed to
the worker, so receivers can accept either while they switch. Rotations of one tenant are
serialized by a transaction-scoped advisory lock, which also covers the first key (no row to
lock yet). Key material is stored as envelopes bound to
``{"kind": "signing_key", "tenant_id", "key_id"}``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.crypto import Context, EnvelopeCipher, envelope_key_id, require_cipher
from agent_runtime_core.ids import new_signing_key_id
from agent_runtime_core.models import ToolSigningKey
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.base import TenantRepository

SIGNING_KEY_BYTES: Final = 32
"""HMAC-SHA256 keys: 256 random bits."""
SIGNING_KEY_ROTATION_LOCK_CLASS: Final = 7_343_003
"""First key of the per-tenant advisory lock around rotations (the second: hash of the tenant)."""


def signing_key_context(tenant_id: str, key_id: str) -> Context:
    """What a signing key's envelope is bound to."""
    return {"kind": "signing_key", "tenant_id": tenant_id, "key_id": key_id}


@dataclass(frozen=True)
class SigningKeyMaterial:
    """A signing key as the worker uses it: its id (sent with the signature) and its secret."""

    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the new current key (with its secret, to show once) and the key it
    replaced (``None`` for a tenant's first key)."""

    key: ToolSigningKey
    secret: bytes = field(repr=False)
    previous: ToolSigningKey | None


class SigningKeyRepository(TenantRepository[ToolSigningKey]):
    """Signing keys of one tenant. ``cipher`` is needed to make or read key material."""

    model = ToolSigningKey

    def __init__(self, session: AsyncSession, tenant_id: str, cipher: EnvelopeCipher | None = None) -> None:
        super().__init__(session, tenant_id)
        self.cipher = cipher

    async def list(self, *, limit: int, before_id: str | None = None) -> Sequence[ToolSigningKey]:
        """Up to ``limit`` keys (expired ones too), newest first, older than ``before_id``."""
        return await self.page(self.scoped(), limit=limit, cursor_id=before_id)

    async def current(self) -> ToolSigningKey | None:
        """The current key (the one without ``expires_at``), or ``None`` before the first rotation."""
        statement = self.scoped().where(col(ToolSigningKey.expires_at).is_(None))
        return (await self.session.exec(statement.order_by(col(ToolSigningKey.id).desc()))).first()

    async def lock_rotation(self) -> None:
        """Serialize this tenant's rotations until the transaction ends (advisory lock)."""
        await self.session.exec(
            select(func.pg_advisory_xact_lock(SIGNING_KEY_ROTATION_LOCK_CLASS, func.hashtext(self.tenant_id)))
        )

    async def rotate(self, overlap: timedelta, now: datetime | None = None) -> Rotation:
        """Make a new current key; the previous current key expires at ``now + overlap``.

        Concurrent rotations of the tenant wait for each other, so there is never more than one
        current key.
        """
        cipher = require_cipher(self.cipher)
        now = now or utcnow()
        # The key is the text the tenant is shown (43 base64url characters: 32 random bytes), used
        # as is (its ASCII bytes) as the HMAC key, so a receiver needs no decoding step.
        secret = base64.urlsafe_b64encode(os.urandom(SIGNING_KEY_BYTES)).rstrip(b"=")
        key_id = new_signing_key_id()
        ciphertext = await cipher.encrypt(secret, signing_key_context(self.tenant_id, key_id))
        await self.lock_rotation()
        previous = await self.current()
        if previous is not None:
            previous.expires_at = now + overlap
            self.session.add(previous)
        key = ToolSigningKey(
            id=key_id,
            tenant_id=self.tenant_id,
            ciphertext=ciphertext,
            key_id=envelope_key_id(ciphertext),
            created_at=now,
        )
        await self.add(key)
        return Rotation(key=key, secret=secret, previous=previous)

    async def signing_keys(self, now: datetime) -> list[SigningKeyMaterial]:
        """The keys to sign with at ``now``: the current one first, then previous keys still
        within their overlap (latest expiry first). Empty until the tenant made a key."""
        cipher = require_cipher(self.cipher)
        statement = self.scoped().where(
            or_(col(ToolSigningKey.expires_at).is_(None), col(ToolSigningKey.expires_at) > now)
        )
        rows = (await self.session.exec(statement)).all()
        # Current (no expiry) first, then the longest-valid previous keys.
        ordered = sorted(
            rows,
            key=lambda row: (row.expires_at is not None, -(row.expires_at or now).timestamp(), row.id),
        )
        return [
            SigningKeyMaterial(
                key_id=row.id,
                secret=await cipher.decrypt(row.ciphertext, signing_key_context(self.tenant_id, row.id)),
            )
            for row in ordered
        ]
