"""Envelope encryption: round trips, tampering, context binding, KEK rotation and re-wrapping,
configuration from settings, and the KMS key ring's calls (against a fake KMS client)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from pydantic import ValidationError

from agent_runtime_core.crypto import (
    ENVELOPE_VERSION,
    DecryptionError,
    Envelope,
    EnvelopeCipher,
    KmsKeyRing,
    LocalKeyRing,
    UnknownKeyError,
    cipher_from_settings,
    decode_local_key,
    envelope_key_id,
    generate_key_encryption_key,
    require_cipher,
)
from agent_runtime_core.errors import SecretsNotConfiguredError
from agent_runtime_core.settings import Settings

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))
CONTEXT = {"kind": "tool_secret", "tenant_id": "ten_a", "name": "GITHUB_TOKEN"}


def cipher(keys: dict[str, bytes], active: str) -> EnvelopeCipher:
    return EnvelopeCipher(LocalKeyRing(keys, active))


async def test_round_trip_gives_back_the_plaintext_and_never_stores_it() -> None:
    box = cipher({"k1": OLD_KEY}, "k1")
    blob = await box.encrypt(b"ghp_distinctive-token", CONTEXT)
    assert b"ghp_distinctive-token" not in blob
    assert blob[0] == ENVELOPE_VERSION
    assert envelope_key_id(blob) == "k1"
    assert await box.decrypt(blob, CONTEXT) == b"ghp_distinctive-token"


async def test_each_value_gets_its_own_data_key_and_nonce() -> None:
    box = cipher({"k1": OLD_KEY}, "k1")
    first = Envelope.parse(await box.encrypt(b"same", CONTEXT))
    second = Envelope.parse(await box.encrypt(b"same", CONTEXT))
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize("part", ["wrapped_key", "nonce", "ciphertext"])
async def test_any_altered_byte_fails_to_decrypt(part: str) -> None:
    box = cipher({"k1": OLD_KEY}, "k1")
    envelope = Envelope.parse(await box.encrypt(b"value", CONTEXT))
    original: bytes = getattr(envelope, part)
    altered = bytes([original[0] ^ 0x01]) + original[1:]
    tampered = Envelope(**{**envelope.__dict__, part: altered}).serialize()
    with pytest.raises(DecryptionError):
        await box.decrypt(tampered, CONTEXT)


@pytest.mark.parametrize(
    "blob", [b"", b"\x01", b"\x02\x00\x02k1", b"\x01\x00\x02k1\x00\x05abc", b"\x01\x00\x02\xff\xfe\x00\x00"]
)
async def test_garbage_and_truncated_envelopes_are_decryption_errors(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        await cipher({"k1": OLD_KEY}, "k1").decrypt(blob, CONTEXT)


async def test_truncating_a_real_envelope_fails_to_decrypt() -> None:
    box = cipher({"k1": OLD_KEY}, "k1")
    blob = await box.encrypt(b"value", CONTEXT)
    for cut in (1, 5, len(blob) // 2, len(blob) - 1):
        with pytest.raises(DecryptionError):
            await box.decrypt(blob[:cut], CONTEXT)


@pytest.mark.parametrize(
    "other_context",
    [
        {**CONTEXT, "tenant_id": "ten_b"},
        {**CONTEXT, "name": "OTHER_TOKEN"},
        {**CONTEXT, "kind": "signing_key"},
        {"tenant_id": "ten_a", "name": "GITHUB_TOKEN"},
    ],
)
async def test_a_ciphertext_only_decrypts_in_the_context_it_was_made_for(
    other_context: dict[str, str],
) -> None:
    box = cipher({"k1": OLD_KEY}, "k1")
    blob = await box.encrypt(b"value", CONTEXT)
    with pytest.raises(DecryptionError):
        await box.decrypt(blob, other_context)
    # Key order does not matter: the context is canonical.
    assert await box.decrypt(blob, dict(reversed(list(CONTEXT.items())))) == b"value"


async def test_unknown_key_id_is_an_unknown_key_error() -> None:
    blob = await cipher({"k1": OLD_KEY}, "k1").encrypt(b"value", CONTEXT)
    with pytest.raises(UnknownKeyError, match="'k1' is not configured"):
        await cipher({"k2": NEW_KEY}, "k2").decrypt(blob, CONTEXT)


async def test_the_same_key_id_with_other_key_material_does_not_decrypt() -> None:
    blob = await cipher({"k1": OLD_KEY}, "k1").encrypt(b"value", CONTEXT)
    with pytest.raises(DecryptionError):
        await cipher({"k1": NEW_KEY}, "k1").decrypt(blob, CONTEXT)


async def test_kek_rotation_reads_old_envelopes_and_rewrap_moves_them_to_the_new_key() -> None:
    before = cipher({"old": OLD_KEY}, "old")
    blob = await before.encrypt(b"value", CONTEXT)

    rotated = cipher({"old": OLD_KEY, "new": NEW_KEY}, "new")
    assert await rotated.decrypt(blob, CONTEXT) == b"value"  # old envelopes still read
    assert envelope_key_id(await rotated.encrypt(b"x", CONTEXT)) == "new"  # new ones use the new key

    rewrapped = await rotated.rewrap(blob, CONTEXT)
    assert envelope_key_id(rewrapped) == "new"
    # Only the data key was re-wrapped: the value's nonce and ciphertext are the same.
    assert Envelope.parse(rewrapped).ciphertext == Envelope.parse(blob).ciphertext
    assert await rotated.rewrap(rewrapped, CONTEXT) == rewrapped  # already current: unchanged

    # Once everything is re-wrapped, the old key can go.
    retired = cipher({"new": NEW_KEY}, "new")
    assert await retired.decrypt(rewrapped, CONTEXT) == b"value"
    with pytest.raises(UnknownKeyError):
        await retired.decrypt(blob, CONTEXT)


async def test_rewrap_refuses_an_envelope_of_another_context() -> None:
    blob = await cipher({"old": OLD_KEY}, "old").encrypt(b"value", CONTEXT)
    rotated = cipher({"old": OLD_KEY, "new": NEW_KEY}, "new")
    with pytest.raises(DecryptionError):
        await rotated.rewrap(blob, {**CONTEXT, "tenant_id": "ten_b"})


def test_local_key_ring_refuses_a_missing_active_key_or_a_short_key() -> None:
    with pytest.raises(SecretsNotConfiguredError, match="'k9'"):
        LocalKeyRing({"k1": OLD_KEY}, "k9")
    with pytest.raises(SecretsNotConfiguredError, match="32 bytes"):
        LocalKeyRing({"k1": b"short"}, "k1")


def test_generated_keys_decode_in_standard_and_url_safe_base64() -> None:
    key = generate_key_encryption_key()
    raw = decode_local_key(key)
    assert len(raw) == 32
    assert decode_local_key(base64.urlsafe_b64encode(raw).rstrip(b"=").decode()) == raw
    with pytest.raises(ValueError, match="not base64"):
        decode_local_key("not base64!")
    with pytest.raises(ValueError, match="16 bytes"):
        decode_local_key(base64.b64encode(os.urandom(16)).decode())


# --------------------------------------------------------------------------------- settings


async def test_settings_build_a_local_cipher_from_json_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key_encryption_key()
    monkeypatch.setenv("AGENT_RUNTIME_SECRETS_KEYS", json.dumps({"2025-01": key}))
    monkeypatch.setenv("AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID", "2025-01")
    settings = Settings()
    assert key not in repr(settings)  # key material never shows in reprs or logs
    box = cipher_from_settings(settings)
    assert box is not None and box.keyring.active_key_id == "2025-01"
    assert await box.decrypt(await box.encrypt(b"v", CONTEXT), CONTEXT) == b"v"


def test_without_keys_there_is_no_cipher_and_require_cipher_is_a_503() -> None:
    assert cipher_from_settings(Settings(secrets_keys={})) is None
    with pytest.raises(SecretsNotConfiguredError) as raised:
        require_cipher(None)
    assert raised.value.status == 503 and raised.value.code == "secrets_not_configured"


def test_settings_refuse_bad_keys_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as bad:
        Settings.model_validate({"secrets_keys": {"k1": "c2hvcnQtc2VjcmV0"}, "secrets_active_key_id": "k1"})
    assert "secrets_keys['k1'] is not a valid key" in str(bad.value)
    assert "c2hvcnQtc2VjcmV0" not in str(bad.value)
    with pytest.raises(ValidationError, match="must name one of secrets_keys"):
        Settings.model_validate(
            {"secrets_keys": {"k1": generate_key_encryption_key()}, "secrets_active_key_id": "k2"}
        )


# ---------------------------------------------------------------------------------- KMS


class FakeKms:
    """Just enough of boto3's KMS client: data keys wrapped by XOR with a per-key pad, bound to the
    encryption context (as KMS binds them)."""

    ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _wrap(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        return json.dumps({"key": plaintext.hex(), "context": context}).encode()

    def generate_data_key(
        self, *, KeyId: str, KeySpec: str, EncryptionContext: dict[str, str]
    ) -> dict[str, Any]:
        assert KeySpec == "AES_256"
        self.calls.append(f"generate_data_key {KeyId}")
        plaintext = os.urandom(32)
        return {
            "KeyId": self.ARN,
            "Plaintext": plaintext,
            "CiphertextBlob": self._wrap(plaintext, EncryptionContext),
        }

    def encrypt(self, *, KeyId: str, Plaintext: bytes, EncryptionContext: dict[str, str]) -> dict[str, Any]:
        self.calls.append(f"encrypt {KeyId}")
        return {"KeyId": self.ARN, "CiphertextBlob": self._wrap(Plaintext, EncryptionContext)}

    def decrypt(
        self, *, CiphertextBlob: bytes, KeyId: str, EncryptionContext: dict[str, str]
    ) -> dict[str, Any]:
        self.calls.append(f"decrypt {KeyId}")
        wrapped = json.loads(CiphertextBlob)
        if KeyId != self.ARN or wrapped["context"] != EncryptionContext:
            error = Exception("InvalidCiphertextException")
            error.response = {"Error": {"Code": "InvalidCiphertextException"}}  # type: ignore[attr-defined]
            raise error
        return {"KeyId": self.ARN, "Plaintext": bytes.fromhex(wrapped["key"])}


async def test_kms_key_ring_wraps_data_keys_in_kms_bound_to_the_context() -> None:
    kms = FakeKms()
    box = EnvelopeCipher(KmsKeyRing("alias/agent-runtime", client=kms))
    blob = await box.encrypt(b"value", CONTEXT)
    assert envelope_key_id(blob) == FakeKms.ARN  # the key's ARN, so moving the alias later is safe
    assert await box.decrypt(blob, CONTEXT) == b"value"
    assert kms.calls == ["generate_data_key alias/agent-runtime", f"decrypt {FakeKms.ARN}"]
    with pytest.raises(DecryptionError, match="InvalidCiphertextException"):
        await box.decrypt(blob, {**CONTEXT, "tenant_id": "ten_b"})


async def test_kms_key_ring_still_reads_local_envelopes_and_rewraps_them_into_kms() -> None:
    local = LocalKeyRing({"old": OLD_KEY}, "old")
    blob = await EnvelopeCipher(local).encrypt(b"value", CONTEXT)
    box = EnvelopeCipher(KmsKeyRing("alias/agent-runtime", client=FakeKms(), fallback=local))
    assert await box.decrypt(blob, CONTEXT) == b"value"
    rewrapped = await box.rewrap(blob, CONTEXT)
    assert envelope_key_id(rewrapped) == FakeKms.ARN
    assert await box.decrypt(rewrapped, CONTEXT) == b"value"
