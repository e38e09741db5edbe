"""The codec server: Temporal's Web UI and CLI decode (and encode) payloads through the API.

With payload encryption on, the Temporal server only holds ciphertext, so its UI shows nothing
readable. Temporal's answer is a *codec server*: an HTTP endpoint the UI (or ``temporal workflow
show --codec-endpoint``) posts payloads to, ``POST <endpoint>/decode`` and ``/encode`` with
``{"payloads": [...]}`` in protobuf JSON (base64 data and metadata values), answering the same
shape. This service does what the workers' converter does, minus the conversion to values:

* decode: an offloaded payload's reference is resolved (fetched from the payload bucket, its
  SHA-256 checked) when it is ours (our driver, our bucket) and at most
  :data:`RESOLVE_MAX_BYTES`; then encrypted payloads are decrypted. Anything else passes through.
* encode: payloads are encrypted (nothing is offloaded: what the UI sends is small).

Who may call it is the router's business (platform operators only); this service never sees a
tenant: payloads carry none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import ExternalStorageReference
from temporalio.converter import DataConverter, StorageDriverClaim, StorageDriverRetrieveContext

from agent_runtime_core.errors import DomainError, StorageUnavailableError
from agent_runtime_core.temporal.data_converter import payload_driver
from agent_runtime_core.temporal.payload_encryption import PayloadDecryptionError
from agent_runtime_core.temporal.payload_storage import DRIVER_NAME

__all__ = ["RESOLVE_MAX_BYTES", "CodecService", "PayloadNotDecodableError"]

logger = logging.getLogger(__name__)

RESOLVE_MAX_BYTES: Final = 4 * 1024 * 1024
"""Larger offloaded payloads are answered as their reference (bucket, key, size): a browser
showing a 50 MB prompt helps nobody, and the codec endpoint must not become a bulk download."""
_REFERENCE_TYPE: Final = ExternalStorageReference.DESCRIPTOR.full_name.encode()


class PayloadNotDecodableError(DomainError):
    """A payload cannot be decoded: its key is not configured, or it was altered."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail=detail, status=422, code="payload_not_decodable", title="Payload not decodable"
        )


class CodecService:
    """Encode and decode payloads with the API's data converter (see the module)."""

    def __init__(self, converter: DataConverter) -> None:
        """Use ``converter``'s codec and payload bucket (the workers' own)."""
        self.converter = converter

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """``payloads`` encrypted (unchanged without payload keys)."""
        codec = self.converter.payload_codec
        return await codec.encode(payloads) if codec is not None else list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """``payloads`` with our references resolved and decrypted.

        Raises:
            PayloadNotDecodableError: A payload's key is not configured, or it was altered.
            StorageUnavailableError: The payload bucket could not be read.
        """
        resolved = await asyncio.gather(*(self._resolve(payload) for payload in payloads))
        codec = self.converter.payload_codec
        if codec is None:
            return resolved
        try:
            return await codec.decode(resolved)
        except PayloadDecryptionError as error:
            raise PayloadNotDecodableError(str(error)) from error

    async def _resolve(self, payload: Payload) -> Payload:
        driver = payload_driver(self.converter)
        reference = _reference_of(payload)
        if driver is None or reference is None:
            return payload
        claim = dict(reference.claim_data)
        size = payload.external_payloads[0].size_bytes if payload.external_payloads else 0
        if (
            reference.driver_name != DRIVER_NAME
            or claim.get("bucket") != driver.bucket
            or not claim.get("key", "").startswith("v0/")
            or size > RESOLVE_MAX_BYTES
        ):
            return payload  # not ours, or too large to show: the reference itself is the answer
        try:
            [stored] = await driver.retrieve(StorageDriverRetrieveContext(), [StorageDriverClaim(claim)])
        except ValueError as error:  # the driver's integrity check
            key = claim.get("key")
            raise PayloadNotDecodableError(f"the offloaded payload at {key} was altered") from error
        except RuntimeError as error:  # the driver wraps whatever the storage raised
            logger.warning("cannot read offloaded payload %s: %s", claim.get("key"), error.__cause__ or error)
            raise StorageUnavailableError(
                f"The offloaded payload at {claim.get('key')} could not be read from the payload bucket."
            ) from error
        return stored


def _reference_of(payload: Payload) -> ExternalStorageReference | None:
    """The external storage reference ``payload`` holds (``None``: it holds a value)."""
    metadata = payload.metadata
    if metadata.get("encoding") != b"json/protobuf" or metadata.get("messageType") != _REFERENCE_TYPE:
        return None
    reference = ExternalStorageReference()
    try:
        json_format.Parse(payload.data, reference, ignore_unknown_fields=True)
    except json_format.ParseError:
        return None
    return reference
