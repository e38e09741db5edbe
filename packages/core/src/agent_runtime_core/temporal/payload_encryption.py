"""Client-side encryption of Temporal payloads: a ``PayloadCodec`` with AES-256-GCM and a key ring.

The problem: a run's prompts, tool arguments and results travel through Temporal as payloads, and
the Temporal server keeps them in its database for the namespace's retention and shows them in
its Web UI. This codec encrypts every payload in the API and the workers before it leaves the
process, so the server (and whoever reads its database or UI) holds ciphertext only.

Format of an encrypted payload (the metadata names follow Temporal's encryption samples, so its
tools recognise them):

* ``metadata["encoding"] = b"binary/encrypted"``
* ``metadata["encryption-key-id"]`` = the id of the key it was encrypted with (UTF-8)
* ``data = nonce (12 bytes) | AES-256-GCM(serialized original Payload)`` with the key id as
  associated data, so a payload relabelled with another key id fails to decrypt.

Rotation: add a new key to the ring and make it the active one; payloads written with the old key
keep decoding as long as it stays in the ring (keep it for the namespace's retention plus the
longest run). Payloads without the encrypted encoding (written before encryption was turned on,
or by a component without it) pass through unchanged, so turning encryption on never breaks a
run in flight.

Errors name key ids, never key material or plaintext.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

__all__ = [
    "ENCRYPTED_ENCODING",
    "KEY_ID_METADATA",
    "PayloadDecryptionError",
    "PayloadEncryptionCodec",
    "is_encrypted",
]

ENCRYPTED_ENCODING: Final = b"binary/encrypted"
"""``encoding`` metadata of an encrypted payload."""
KEY_ID_METADATA: Final = "encryption-key-id"
"""Metadata naming the key a payload was encrypted with."""
NONCE_BYTES: Final = 12
KEY_BYTES: Final = 32
_ASSOCIATED_DATA_PREFIX: Final = b"agent-runtime/temporal-payload/v1:"


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted: its key is not in the ring, or it was altered."""


def is_encrypted(payload: Payload) -> bool:
    """Whether ``payload`` was written by :class:`PayloadEncryptionCodec`."""
    return payload.metadata.get("encoding") == ENCRYPTED_ENCODING


class PayloadEncryptionCodec(PayloadCodec):
    """Encrypts payloads with the active key; decrypts with any key of the ring (see the module)."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        """A codec holding ``keys`` (key id → 32 bytes) that encrypts with ``active_key_id``.

        Raises:
            ValueError: ``active_key_id`` is not in ``keys``, or a key is not 32 bytes.
        """
        if active_key_id not in keys:
            raise ValueError(f"the active payload key '{active_key_id}' is not in the key ring")
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"payload key '{key_id}' must be {KEY_BYTES} bytes")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key this codec decrypts with."""
        return frozenset(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the active key."""
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt the encrypted payloads; others pass through unchanged.

        Raises:
            PayloadDecryptionError: A payload names a key not in the ring, or does not decrypt.
        """
        return [self.decrypt(payload) if is_encrypted(payload) else payload for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """``payload`` encrypted with the active key."""
        key_id = self.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        plaintext = payload.SerializeToString()
        ciphertext = self._ciphers[key_id].encrypt(nonce, plaintext, _associated_data(key_id))
        return Payload(
            metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + ciphertext,
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The payload ``payload`` encrypts.

        Raises:
            PayloadDecryptionError: Its key is not in the ring, or it does not decrypt.
        """
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"the payload was encrypted with key '{key_id}', which is not in "
                "temporal_payload_keys (a retired key must stay there as long as histories use it)"
            )
        try:
            plaintext = cipher.decrypt(
                payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], _associated_data(key_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise PayloadDecryptionError(
                f"the payload does not decrypt with key '{key_id}' (altered or truncated)"
            ) from exc
        decrypted = Payload()
        decrypted.ParseFromString(plaintext)
        return decrypted


def _associated_data(key_id: str) -> bytes:
    return _ASSOCIATED_DATA_PREFIX + key_id.encode()
