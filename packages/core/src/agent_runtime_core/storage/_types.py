"""What the storage returns: stored objects, presigned requests, and the size error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ObjectTooLargeError", "PresignedRequest", "StoredObject"]


class ObjectTooLargeError(ValueError):
    """An upload grew past the size it was allowed; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the object is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredObject:
    """An object as the storage describes it (``HEAD``)."""

    key: str
    size: int
    content_type: str | None
    etag: str
    server_side_encryption: str | None = None
    """``AES256`` (SSE-S3), ``aws:kms`` (SSE-KMS), or ``None`` when the storage reports none."""
    sha256: str | None = None
    """Hex SHA-256 of the whole object when the storage holds a full-object checksum of it
    (written with ``x-amz-checksum-sha256``), else ``None``."""


@dataclass(frozen=True)
class PresignedRequest:
    """A request anyone holding it may send, once signed: ``method`` to ``url`` with exactly
    ``headers`` (they are part of the signature: a different key, size, media type or
    encryption header makes the storage refuse it), before ``expires_at``."""

    method: str
    url: str
    expires_at: datetime
    headers: dict[str, str] = field(default_factory=dict[str, str])
