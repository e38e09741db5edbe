"""Envelope encryption of tenants' secrets (tool API tokens, signing keys) with AES-256-GCM.

Every value gets a fresh random 256-bit *data key*; the value is encrypted with it, and the data
key itself is encrypted ("wrapped") by a *key-encryption key* (KEK) that never leaves its
:class:`KeyRing`: a local one from the settings (:class:`LocalKeyRing`) or AWS KMS
(:class:`KmsKeyRing`). What is stored is the :class:`Envelope`: the KEK's id, the wrapped data key,
the nonce and the ciphertext, serialized with a leading version byte.

The caller's *context* (tenant, secret name, …) is bound to both layers as AES-GCM associated
data (and as the KMS encryption context): an envelope copied to another tenant's row, or to
another name, fails to decrypt instead of handing out someone else's secret.

KEK rotation: configure a new key, make it the active one, keep the old one until every envelope
was re-wrapped (:meth:`EnvelopeCipher.rewrap`, which re-encrypts only the data key). Envelopes name
their KEK, so old and new ones decrypt side by side.

Errors never carry key material or plaintext.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent_runtime_core.errors import SecretsNotConfiguredError

if TYPE_CHECKING:
    from agent_runtime_core.settings import Settings

ENVELOPE_VERSION: Final = 1
"""First byte of every serialized envelope; a new format gets a new number."""
KEY_BYTES: Final = 32
"""AES-256: data keys and local KEKs are 32 bytes."""
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16

_HEADER: Final = struct.Struct(">BH")  # version, length of the key id
_WRAPPED_LENGTH: Final = struct.Struct(">H")

Context = Mapping[str, str]
"""What a ciphertext is bound to (tenant, name, …): it must be given again to decrypt."""


class CryptoError(Exception):
    """Base of the errors of this module."""


class DecryptionError(CryptoError):
    """The envelope does not decrypt: altered, truncated, or bound to another context or key."""


class UnknownKeyError(DecryptionError):
    """The envelope names a key-encryption key the key ring does not hold."""


@dataclass(frozen=True)
class DataKey:
    """A fresh data key: its plaintext (use once, then drop) and its wrapped form to store."""

    key_id: str
    plaintext: bytes = field(repr=False)
    wrapped: bytes


@dataclass(frozen=True)
class Envelope:
    """One encrypted value as stored.

    Serialized: ``version (1 byte) | len(key_id) (2 bytes) | key_id (UTF-8) | len(wrapped_key)
    (2 bytes) | wrapped_key | nonce (12 bytes) | ciphertext with its 16-byte GCM tag``.
    """

    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes

    def serialize(self) -> bytes:
        """The bytes to store."""
        key_id = self.key_id.encode()
        return b"".join(
            (
                _HEADER.pack(ENVELOPE_VERSION, len(key_id)),
                key_id,
                _WRAPPED_LENGTH.pack(len(self.wrapped_key)),
                self.wrapped_key,
                self.nonce,
                self.ciphertext,
            )
        )

    @classmethod
    def parse(cls, blob: bytes) -> Envelope:
        """Read a serialized envelope (:class:`DecryptionError` if it is not one)."""
        try:
            version, key_id_length = _HEADER.unpack_from(blob, 0)
            if version != ENVELOPE_VERSION:
                raise DecryptionError(f"unsupported envelope version {version}")
            offset = _HEADER.size
            key_id = blob[offset : offset + key_id_length].decode()
            offset += key_id_length
            (wrapped_length,) = _WRAPPED_LENGTH.unpack_from(blob, offset)
            offset += _WRAPPED_LENGTH.size
            wrapped_key = blob[offset : offset + wrapped_length]
            offset += wrapped_length
            nonce = blob[offset : offset + NONCE_BYTES]
            ciphertext = blob[offset + NONCE_BYTES :]
        except (struct.error, UnicodeDecodeError) as exc:
            raise DecryptionError("not a valid envelope") from exc
        if len(wrapped_key) != wrapped_length or len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
            raise DecryptionError("not a valid envelope (truncated)")
        return cls(key_id=key_id, wrapped_key=wrapped_key, nonce=nonce, ciphertext=ciphertext)


def encode_context(context: Context) -> bytes:
    """The canonical bytes of ``context`` (sorted keys), used as associated data."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class KeyRing(Protocol):
    """Holds the key-encryption keys: makes and unwraps data keys, never reveals a KEK."""

    @property
    def active_key_id(self) -> str:
        """The KEK new data keys are wrapped with."""
        ...

    async def generate_data_key(self, context: Context) -> DataKey:
        """A new random data key, wrapped by the active KEK and bound to ``context``."""
        ...

    async def wrap(self, plaintext_key: bytes, context: Context) -> DataKey:
        """Wrap an existing data key with the active KEK (for :meth:`EnvelopeCipher.rewrap`)."""
        ...

    async def unwrap(self, key_id: str, wrapped: bytes, context: Context) -> bytes:
        """The data key ``wrapped`` by the KEK ``key_id`` (:class:`DecryptionError` if it does not
        unwrap, :class:`UnknownKeyError` if the KEK is unknown)."""
        ...


def decode_local_key(encoded: str) -> bytes:
    """A local KEK from its configured form (standard or URL-safe base64 of 32 bytes)."""
    text = encoded.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, not {KEY_BYTES}")
    return raw


def generate_key_encryption_key() -> str:
    """A new random local KEK, base64-encoded as ``AGENT_RUNTIME_SECRETS_KEYS`` expects it."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class LocalKeyRing:
    """KEKs held by this process (from ``AGENT_RUNTIME_SECRETS_KEYS``). Data keys are wrapped with
    AES-256-GCM under the active KEK; the KEK id and the context are associated data."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise SecretsNotConfiguredError(f"the active secrets key '{active_key_id}' is not configured")
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise SecretsNotConfiguredError(f"secrets key '{key_id}' must be {KEY_BYTES} bytes")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active_key_id = active_key_id

    @property
    def active_key_id(self) -> str:
        """The KEK new data keys are wrapped with."""
        return self._active_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every KEK this ring can unwrap with."""
        return frozenset(self._keys)

    def holds(self, key_id: str) -> bool:
        """Whether the KEK ``key_id`` is configured here."""
        return key_id in self._keys

    async def generate_data_key(self, context: Context) -> DataKey:
        """A new random data key wrapped by the active KEK."""
        return await self.wrap(AESGCM.generate_key(bit_length=KEY_BYTES * 8), context)

    async def wrap(self, plaintext_key: bytes, context: Context) -> DataKey:
        """``nonce | AES-GCM(active KEK, data key)`` bound to the KEK id and ``context``."""
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._keys[self._active_key_id].encrypt(
            nonce, plaintext_key, _wrap_associated_data(self._active_key_id, context)
        )
        return DataKey(key_id=self._active_key_id, plaintext=plaintext_key, wrapped=nonce + wrapped)

    async def unwrap(self, key_id: str, wrapped: bytes, context: Context) -> bytes:
        """The data key wrapped by the local KEK ``key_id``."""
        kek = self._keys.get(key_id)
        if kek is None:
            raise UnknownKeyError(f"the secrets key '{key_id}' is not configured")
        try:
            return kek.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_associated_data(key_id, context)
            )
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the data key does not unwrap (altered, or another context)") from exc


def _wrap_associated_data(key_id: str, context: Context) -> bytes:
    return b"agent-runtime/data-key/v1\x00" + key_id.encode() + b"\x00" + encode_context(context)


class KmsKeyRing:
    """KEKs in AWS KMS: ``GenerateDataKey`` / ``Encrypt`` / ``Decrypt`` with the context as the
    KMS encryption context. Needs ``boto3`` (optional: ``pip install boto3``); credentials and
    region come from the usual AWS configuration.

    Not exercised against a real KMS in this project's tests (a fake client checks the calls).
    ``fallback`` unwraps envelopes of local KEKs it holds, so a deployment moving from local
    keys to KMS reads its old values until they are re-wrapped.
    """

    def __init__(
        self,
        kms_key_id: str,
        *,
        region: str | None = None,
        client: Any = None,
        fallback: LocalKeyRing | None = None,
    ) -> None:
        if client is None:
            try:
                import boto3  # pyright: ignore[reportMissingImports]
            except ImportError as exc:
                raise SecretsNotConfiguredError(
                    "AGENT_RUNTIME_SECRETS_KMS_KEY_ID is set but boto3 is not installed (pip install boto3)"
                ) from exc
            client = boto3.client("kms", region_name=region)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        self._client: Any = client
        self._kms_key_id = kms_key_id
        self._fallback = fallback

    @property
    def active_key_id(self) -> str:
        """The KMS key (id, ARN or alias) new data keys are made with."""
        return self._kms_key_id

    async def generate_data_key(self, context: Context) -> DataKey:
        """A data key from KMS ``GenerateDataKey`` (AES_256)."""
        response = await asyncio.to_thread(
            self._client.generate_data_key,
            KeyId=self._kms_key_id,
            KeySpec="AES_256",
            EncryptionContext=dict(context),
        )
        # KMS answers with the key's ARN: stored, so an alias moved later still decrypts old values.
        return DataKey(
            key_id=str(response["KeyId"]),
            plaintext=bytes(response["Plaintext"]),
            wrapped=bytes(response["CiphertextBlob"]),
        )

    async def wrap(self, plaintext_key: bytes, context: Context) -> DataKey:
        """Wrap an existing data key with KMS ``Encrypt``."""
        response = await asyncio.to_thread(
            self._client.encrypt,
            KeyId=self._kms_key_id,
            Plaintext=plaintext_key,
            EncryptionContext=dict(context),
        )
        return DataKey(
            key_id=str(response["KeyId"]), plaintext=plaintext_key, wrapped=bytes(response["CiphertextBlob"])
        )

    async def unwrap(self, key_id: str, wrapped: bytes, context: Context) -> bytes:
        """The data key from KMS ``Decrypt`` (or from the local fallback when it holds ``key_id``)."""
        if self._fallback is not None and self._fallback.holds(key_id):
            return await self._fallback.unwrap(key_id, wrapped, context)
        try:
            response = await asyncio.to_thread(
                self._client.decrypt, CiphertextBlob=wrapped, KeyId=key_id, EncryptionContext=dict(context)
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise DecryptionError(f"KMS refused to decrypt the data key ({code})") from None
            if code == "NotFoundException":
                raise UnknownKeyError(f"the KMS key '{key_id}' was not found") from None
            raise  # throttling, network: retryable, left to the caller's retries
        return bytes(response["Plaintext"])


class EnvelopeCipher:
    """Encrypts and decrypts values as serialized :class:`Envelope` bytes with one key ring."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    async def encrypt(self, plaintext: bytes, context: Context) -> bytes:
        """``plaintext`` under a fresh data key, bound to ``context``; the envelope to store."""
        data_key = await self.keyring.generate_data_key(context)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, plaintext, _value_associated_data(context))
        return Envelope(data_key.key_id, data_key.wrapped, nonce, ciphertext).serialize()

    async def decrypt(self, blob: bytes, context: Context) -> bytes:
        """The plaintext of a stored envelope, given the same ``context`` it was encrypted with."""
        envelope = Envelope.parse(blob)
        data_key = await self.keyring.unwrap(envelope.key_id, envelope.wrapped_key, context)
        try:
            return AESGCM(data_key).decrypt(
                envelope.nonce, envelope.ciphertext, _value_associated_data(context)
            )
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the value does not decrypt (altered, or another context)") from exc

    async def rewrap(self, blob: bytes, context: Context) -> bytes:
        """The envelope with its data key wrapped by the active KEK (the value's ciphertext is
        kept). Already under the active KEK: returned unchanged."""
        envelope = Envelope.parse(blob)
        if envelope.key_id == self.keyring.active_key_id:
            return blob
        data_key = await self.keyring.unwrap(envelope.key_id, envelope.wrapped_key, context)
        # Check the value still decrypts under its context before giving it a new wrapping.
        try:
            AESGCM(data_key).decrypt(envelope.nonce, envelope.ciphertext, _value_associated_data(context))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the value does not decrypt (altered, or another context)") from exc
        rewrapped = await self.keyring.wrap(data_key, context)
        return Envelope(rewrapped.key_id, rewrapped.wrapped, envelope.nonce, envelope.ciphertext).serialize()


def _value_associated_data(context: Context) -> bytes:
    return bytes([ENVELOPE_VERSION]) + b"agent-runtime/value\x00" + encode_context(context)


def envelope_key_id(blob: bytes) -> str:
    """The KEK a stored envelope names (for finding values to re-wrap)."""
    return Envelope.parse(blob).key_id


def keyring_from_settings(settings: Settings) -> KeyRing | None:
    """The key ring the settings configure: KMS when ``secrets_kms_key_id`` is set (local keys,
    if any, still decrypt their old envelopes), else the local keys, else ``None`` (secrets cannot
    be stored or read; callers answer with :class:`SecretsNotConfiguredError`)."""
    local: LocalKeyRing | None = None
    if settings.secrets_keys:
        keys = {
            key_id: decode_local_key(key.get_secret_value()) for key_id, key in settings.secrets_keys.items()
        }
        active = settings.secrets_active_key_id or ""
        local = LocalKeyRing(keys, active)
    if settings.secrets_kms_key_id:
        return KmsKeyRing(settings.secrets_kms_key_id, region=settings.secrets_kms_region, fallback=local)
    return local


def cipher_from_settings(settings: Settings) -> EnvelopeCipher | None:
    """An :class:`EnvelopeCipher` over :func:`keyring_from_settings`, or ``None`` if unconfigured."""
    keyring = keyring_from_settings(settings)
    return EnvelopeCipher(keyring) if keyring is not None else None


def require_cipher(cipher: EnvelopeCipher | None) -> EnvelopeCipher:
    """``cipher``, or :class:`SecretsNotConfiguredError` (503) when no key is configured."""
    if cipher is None:
        raise SecretsNotConfiguredError(
            "secrets are not configured on this deployment: set AGENT_RUNTIME_SECRETS_KEYS and "
            "AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID, or AGENT_RUNTIME_SECRETS_KMS_KEY_ID"
        )
    return cipher
