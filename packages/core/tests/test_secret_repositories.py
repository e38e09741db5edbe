"""Tool secrets and signing keys in Postgres: values encrypted and bound to their tenant and
name, so a ciphertext copied elsewhere does not decrypt; what workers read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from agent_runtime_core.crypto import DecryptionError, EnvelopeCipher, LocalKeyRing, envelope_key_id
from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.errors import SecretsNotConfiguredError
from agent_runtime_core.models import ToolSecret, ToolSigningKey
from agent_runtime_core.repositories import SigningKeyRepository, ToolSecretRepository

KEY = bytes(range(32))
NEW_KEY = bytes(range(1, 33))
CIPHER = EnvelopeCipher(LocalKeyRing({"k1": KEY}, "k1"))


async def store(database: Database, tenant_id: str, name: str, value: str) -> ToolSecret:
    async with session_scope(database, tenant_id) as session:
        return await ToolSecretRepository(session, tenant_id, CIPHER).create(name, value)


async def values(
    database: Database, tenant_id: str, *names: str, cipher: EnvelopeCipher = CIPHER
) -> dict[str, str]:
    async with session_scope(database, tenant_id) as session:
        return await ToolSecretRepository(session, tenant_id, cipher).secret_values(names)


async def test_values_are_stored_encrypted_and_read_back_by_name(database: Database, tenant_id: str) -> None:
    row = await store(database, tenant_id, "TOKEN", "plain-token-value")
    assert b"plain-token-value" not in row.ciphertext
    assert row.key_id == envelope_key_id(row.ciphertext) == "k1"
    assert await values(database, tenant_id, "TOKEN", "ABSENT") == {"TOKEN": "plain-token-value"}
    assert await values(database, tenant_id) == {}


async def test_a_ciphertext_copied_to_another_tenant_or_name_does_not_decrypt(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    mine = await store(database, tenant_id, "TOKEN", "mine")
    await store(database, other_tenant_id, "TOKEN", "theirs")
    await store(database, tenant_id, "OTHER", "other")
    async with system_session_scope(database) as session:
        # Someone with database access copies my envelope into the other tenant's row, and onto
        # my other secret.
        await session.exec(
            update(ToolSecret)
            .where(col(ToolSecret.name) == "TOKEN", col(ToolSecret.tenant_id) == other_tenant_id)
            .values(ciphertext=mine.ciphertext)
        )
        await session.exec(
            update(ToolSecret)
            .where(col(ToolSecret.name) == "OTHER", col(ToolSecret.tenant_id) == tenant_id)
            .values(ciphertext=mine.ciphertext)
        )
    with pytest.raises(DecryptionError):
        await values(database, other_tenant_id, "TOKEN")
    with pytest.raises(DecryptionError):
        await values(database, tenant_id, "OTHER")
    assert await values(database, tenant_id, "TOKEN") == {"TOKEN": "mine"}


async def test_rewrap_moves_a_secret_to_the_new_kek(database: Database, tenant_id: str) -> None:
    await store(database, tenant_id, "TOKEN", "value")
    rotated = EnvelopeCipher(LocalKeyRing({"k1": KEY, "k2": NEW_KEY}, "k2"))
    async with session_scope(database, tenant_id) as session:
        repository = ToolSecretRepository(session, tenant_id, rotated)
        secret = await repository.get_by_name("TOKEN", for_update=True)
        assert secret is not None
        assert await repository.rewrap(secret) is True
        assert await repository.rewrap(secret) is False
    only_new = EnvelopeCipher(LocalKeyRing({"k2": NEW_KEY}, "k2"))
    assert await values(database, tenant_id, "TOKEN", cipher=only_new) == {"TOKEN": "value"}


async def test_without_a_cipher_values_cannot_be_written_or_read(database: Database, tenant_id: str) -> None:
    await store(database, tenant_id, "TOKEN", "value")
    async with session_scope(database, tenant_id) as session:
        repository = ToolSecretRepository(session, tenant_id)
        with pytest.raises(SecretsNotConfiguredError):
            await repository.create("NEW", "value")
        with pytest.raises(SecretsNotConfiguredError):
            await repository.secret_values(["TOKEN"])
        assert (await repository.get_by_name("TOKEN")) is not None  # metadata needs no key


async def test_signing_keys_current_first_then_unexpired_previous(database: Database, tenant_id: str) -> None:
    now = datetime.now(UTC)
    async with session_scope(database, tenant_id) as session:
        repository = SigningKeyRepository(session, tenant_id, CIPHER)
        first = await repository.rotate(timedelta(hours=1), now=now - timedelta(hours=3))
        second = await repository.rotate(timedelta(minutes=30), now=now - timedelta(hours=2))
        third = await repository.rotate(timedelta(hours=1), now=now)
    assert first.previous is None and second.previous is not None and second.previous.id == first.key.id
    async with session_scope(database, tenant_id) as session:
        keys = await SigningKeyRepository(session, tenant_id, CIPHER).signing_keys(now)
    # first expired 90 min ago; second signs until now + 1 h (set by the third rotation).
    assert [(k.key_id, k.secret) for k in keys] == [
        (third.key.id, third.secret),
        (second.key.id, second.secret),
    ]
    assert repr(third.secret) not in repr(keys[0])  # key material stays out of reprs and logs
    async with system_session_scope(database) as session:
        rows = (await session.exec(select(ToolSigningKey).where(ToolSigningKey.tenant_id == tenant_id))).all()
    assert all(third.secret not in row.ciphertext for row in rows)
    assert sum(row.expires_at is None for row in rows) == 1
