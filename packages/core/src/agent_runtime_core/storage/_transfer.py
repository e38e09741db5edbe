"""Streaming transfers: an upload fed chunk by chunk, a download read chunk by chunk.

An upload holds at most one part in memory (8 MiB): a small object goes up in one ``PutObject``
(with its SHA-256, which the storage checks), a larger one as a multipart upload whose parts are
sent as they fill. The SHA-256 and the size are computed on the way, so nothing is read twice.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from agent_runtime_core.storage._types import ObjectTooLargeError, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

    from agent_runtime_core.storage._client import ObjectStorage

__all__ = ["ObjectDownload", "ObjectUpload"]

logger = logging.getLogger(__name__)

PART_SIZE: Final = 8 * 1024 * 1024
"""Multipart part size (S3's minimum is 5 MiB, except for the last part)."""
READ_CHUNK: Final = 256 * 1024
"""Bytes read from the storage per thread hop when downloading."""


class ObjectUpload:
    """One object being written: `write` chunks, then `finish` (or `abort` on any failure).

    Not safe for concurrent use: one writer per upload.
    """

    def __init__(self, storage: ObjectStorage, key: str, *, content_type: str, max_bytes: int) -> None:
        self._storage = storage
        self.key = key
        self.content_type = content_type
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._done = False

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes written so far."""
        return self._hash.hexdigest()

    async def write(self, data: bytes) -> None:
        """Add ``data``; sends a part when one is full.

        Raises:
            ObjectTooLargeError: The object grew past ``max_bytes`` (call `abort`).
            StorageUnavailableError: The storage refused or could not be reached.
        """
        if not data:
            return
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ObjectTooLargeError(self.max_bytes)
        self._hash.update(data)
        self._buffer += data
        while len(self._buffer) >= PART_SIZE:
            part = bytes(self._buffer[:PART_SIZE])
            del self._buffer[:PART_SIZE]
            await self._send_part(part)

    async def finish(self) -> StoredObject:
        """Store what was written; returns the object (``sha256`` is the content's)."""
        storage = self._storage
        if self._upload_id is None:
            body = bytes(self._buffer)
            digest = self._hash.digest()
            response = await storage.call(
                storage.client.put_object,
                Bucket=storage.bucket,
                Key=self.key,
                Body=body,
                ContentType=self.content_type,
                # The storage checks the bytes it got against it (and keeps it for HEAD).
                ChecksumSHA256=base64.b64encode(digest).decode(),
                **storage.encryption_arguments(),
            )
            etag = response.get("ETag", "")
        else:
            if self._buffer or not self._parts:
                await self._send_part(bytes(self._buffer))
            response = await storage.call(
                storage.client.complete_multipart_upload,
                Bucket=storage.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            etag = response.get("ETag", "")
        self._buffer.clear()
        self._done = True
        return StoredObject(
            key=self.key,
            size=self.size,
            content_type=self.content_type,
            etag=etag,
            server_side_encryption=storage.encryption_header,
            sha256=self.sha256,
        )

    async def abort(self) -> None:
        """Drop the upload (parts already sent are discarded). Never raises; idempotent."""
        if self._done:
            return
        self._done = True
        self._buffer.clear()
        if self._upload_id is None:
            return
        storage = self._storage
        try:
            await storage.call(
                storage.client.abort_multipart_upload,
                Bucket=storage.bucket,
                Key=self.key,
                UploadId=self._upload_id,
            )
        except Exception:  # the storage's lifecycle rules remove what is left
            logger.warning("could not abort the multipart upload of %s", self.key, exc_info=True)

    async def _send_part(self, part: bytes) -> None:
        storage = self._storage
        if self._upload_id is None:
            created = await storage.call(
                storage.client.create_multipart_upload,
                Bucket=storage.bucket,
                Key=self.key,
                ContentType=self.content_type,
                **storage.encryption_arguments(),
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        response = await storage.call(
            storage.client.upload_part,
            Bucket=storage.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})


class ObjectDownload:
    """An object being read: its description, then its bytes with `chunks` (closes itself at
    the end; call `close` when stopping early)."""

    def __init__(self, storage: ObjectStorage, stored: StoredObject, body: Any) -> None:
        self._storage = storage
        self.object = stored
        self._body = body
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The object's bytes, ``READ_CHUNK`` at a time."""
        try:
            while True:
                chunk: bytes = await self._storage.call(self._body.read, READ_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            await self.close()

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._storage.call(self._body.close)
