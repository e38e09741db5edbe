"""The S3 client: boto3 in a thread pool of its own, encryption on every write, presigning."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agent_runtime_core.errors import StorageUnavailableError
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage._transfer import ObjectDownload, ObjectUpload
from agent_runtime_core.storage._types import PresignedRequest, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = ["ObjectStorage", "tenant_object_key"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_SSE_HEADERS: Final = {"none": None, "s3": "AES256", "kms": "aws:kms"}


def tenant_object_key(tenant_id: str, kind: str, object_id: str) -> str:
    """``tenants/<tenant_id>/<kind>/<object_id>/<random>``: the tenant is in every key, and the
    random tail (128 bits) makes keys impossible to guess even from a known object id."""
    return f"tenants/{tenant_id}/{kind}/{object_id}/{secrets.token_urlsafe(16)}"


class _ObjectMissing(Exception):
    """The key (or the object at it) does not exist."""


class ObjectStorage:
    """One bucket of an S3 API, for one process (thread-safe; share it).

    Every call is a coroutine; the blocking boto3 call runs in this storage's own thread pool
    (``s3_max_concurrency`` threads, as many pooled connections). Failures the client cannot fix
    (unreachable storage, refused credentials, missing bucket, unsupported encryption) raise
    :class:`~agent_runtime_core.errors.StorageUnavailableError` (503), logged with the storage's
    error code.
    """

    def __init__(self, settings: Settings) -> None:
        """Build the clients (no network call until the first operation).

        Raises:
            ValueError: ``settings.s3_bucket`` is unset.
        """
        if not settings.s3_bucket:
            raise ValueError("object storage needs a bucket (s3_bucket)")
        self.bucket: str = settings.s3_bucket
        self.sse = settings.s3_sse
        self.kms_key_id = settings.s3_kms_key_id
        self.presign_ttl_s = settings.s3_presign_ttl_s
        self.create_bucket = settings.s3_create_bucket
        self.region = settings.s3_region
        self._executor = ThreadPoolExecutor(
            max_workers=settings.s3_max_concurrency, thread_name_prefix="object-storage"
        )
        self.client = self._make_client(settings, settings.s3_endpoint_url)
        public = settings.s3_public_endpoint_url
        self._presigner = (
            self.client
            if not public or public == settings.s3_endpoint_url
            else self._make_client(settings, public)
        )
        self._bucket_checked = False
        self._bucket_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStorage | None:
        """The storage the settings describe, or ``None`` without a bucket (not configured)."""
        return cls(settings) if settings.s3_bucket else None

    @staticmethod
    def _make_client(settings: Settings, endpoint_url: str | None) -> S3Client:
        secret = settings.s3_secret_access_key
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.s3_force_path_style else "auto"},
            connect_timeout=settings.s3_timeout_s,
            read_timeout=settings.s3_timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=settings.s3_max_concurrency,
            # Checksums only where the API requires them (and ours, given explicitly): the newer
            # default trailers are not understood by every S3-compatible server.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session per client: boto3's default session is not thread-safe to create clients from.
        client = boto3.session.Session().client(  # pyright: ignore[reportUnknownMemberType]
            "s3",
            endpoint_url=endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
            config=config,
        )
        return client

    # ------------------------------------------------------------------------------ plumbing

    @property
    def encryption_header(self) -> str | None:
        """The ``x-amz-server-side-encryption`` value every write carries (``None``: none)."""
        return _SSE_HEADERS[self.sse]

    def encryption_arguments(self) -> dict[str, str]:
        """boto3 arguments asking for the configured server-side encryption."""
        if self.sse == "s3":
            return {"ServerSideEncryption": "AES256"}
        if self.sse == "kms":
            assert self.kms_key_id is not None  # checked by the settings
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {}

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one blocking boto3 call in the storage's threads.

        Raises:
            StorageUnavailableError: The storage failed or refused (logged with its error code).
            _ObjectMissing: The key does not exist (callers that expect it catch it).
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES:
                raise _ObjectMissing(code) from error
            operation = getattr(error, "operation_name", "call")
            logger.error("object storage refused %s on bucket %s: %s", operation, self.bucket, code or error)
            detail = f"The object storage refused the {operation} call ({code or 'error'})."
            if code == "NoSuchBucket":
                detail = f"The object storage has no bucket '{self.bucket}'."
            raise StorageUnavailableError(detail) from error
        except BotoCoreError as error:
            logger.error("object storage unreachable (bucket %s): %s", self.bucket, error)
            raise StorageUnavailableError("The object storage cannot be reached.") from error

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing and ``s3_create_bucket`` allows it (once per process)."""
        if self._bucket_checked or not self.create_bucket:
            return
        async with self._bucket_lock:
            if self._bucket_checked:
                return
            try:
                await self.call(self.client.head_bucket, Bucket=self.bucket)
            except _ObjectMissing:
                try:
                    if self.region and self.region != "us-east-1":
                        await self.call(
                            self.client.create_bucket,
                            Bucket=self.bucket,
                            CreateBucketConfiguration={"LocationConstraint": self.region},
                        )
                    else:
                        await self.call(self.client.create_bucket, Bucket=self.bucket)
                    logger.info("created bucket %s", self.bucket)
                except StorageUnavailableError as error:
                    cause = error.__cause__
                    code = (
                        cause.response.get("Error", {}).get("Code")
                        if isinstance(cause, ClientError)
                        else None
                    )
                    if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_checked = True

    # ---------------------------------------------------------------------------- operations

    async def upload(self, key: str, *, content_type: str, max_bytes: int) -> ObjectUpload:
        """Start writing ``key`` (nothing is sent before the first full part, or `finish`)."""
        await self.ensure_bucket()
        return ObjectUpload(self, key, content_type=content_type, max_bytes=max_bytes)

    async def head(self, key: str) -> StoredObject | None:
        """The object at ``key`` (with its full-object SHA-256 when the storage holds one), or
        ``None`` when there is none."""
        await self.ensure_bucket()
        try:
            response = await self.call(
                self.client.head_object, Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"
            )
        except _ObjectMissing:
            return None
        checksum = response.get("ChecksumSHA256", "")
        # A multipart object's checksum is a checksum of part checksums ("...-3"): not the content's.
        full_object = "-" not in checksum and response.get("ChecksumType") != "COMPOSITE"
        return StoredObject(
            key=key,
            size=response.get("ContentLength", 0),
            content_type=response.get("ContentType"),
            etag=response.get("ETag", ""),
            server_side_encryption=response.get("ServerSideEncryption"),
            sha256=_hex_of_base64(checksum) if full_object and checksum else None,
        )

    async def download(self, key: str) -> ObjectDownload | None:
        """Open ``key`` for reading, or ``None`` when there is none."""
        await self.ensure_bucket()
        try:
            response = await self.call(self.client.get_object, Bucket=self.bucket, Key=key)
        except _ObjectMissing:
            return None
        stored = StoredObject(
            key=key,
            size=response.get("ContentLength", 0),
            content_type=response.get("ContentType"),
            etag=response.get("ETag", ""),
            server_side_encryption=response.get("ServerSideEncryption"),
        )
        return ObjectDownload(self, stored, response["Body"])

    async def sha256_of(self, key: str) -> str | None:
        """Hex SHA-256 of the object at ``key``, read through once (``None``: no object)."""
        download = await self.download(key)
        if download is None:
            return None
        digest = hashlib.sha256()
        async for chunk in download.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    async def delete(self, key: str) -> None:
        """Delete the object at ``key``; deleting a missing object is not an error."""
        await self.ensure_bucket()
        try:
            await self.call(self.client.delete_object, Bucket=self.bucket, Key=key)
        except _ObjectMissing:
            return

    async def presign_put(
        self, key: str, *, content_type: str, content_length: int, sha256: str | None = None
    ) -> PresignedRequest:
        """A ``PUT`` of exactly ``content_length`` bytes of ``content_type`` to ``key`` (with the
        configured encryption and, when given, the content's SHA-256, which the storage checks).
        Each of those is a signed header: a request that changes one is refused."""
        await self.ensure_bucket()
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": content_length,
            **self.encryption_arguments(),
        }
        headers = {"Content-Type": content_type, "Content-Length": str(content_length)}
        if self.encryption_header is not None:
            headers["x-amz-server-side-encryption"] = self.encryption_header
        if self.sse == "kms" and self.kms_key_id:
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        if sha256 is not None:
            params["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
            headers["x-amz-checksum-sha256"] = params["ChecksumSHA256"]
        return await self._presign("put_object", params, "PUT", headers)

    async def presign_get(
        self, key: str, *, content_disposition: str | None = None, content_type: str | None = None
    ) -> PresignedRequest:
        """A ``GET`` of ``key``; the storage answers with these ``Content-Disposition`` and
        ``Content-Type`` headers when given (they are part of the signature)."""
        await self.ensure_bucket()
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_disposition is not None:
            params["ResponseContentDisposition"] = content_disposition
        if content_type is not None:
            params["ResponseContentType"] = content_type
        return await self._presign("get_object", params, "GET", {})

    async def _presign(
        self, operation: str, params: dict[str, Any], method: str, headers: dict[str, str]
    ) -> PresignedRequest:
        expires_at = datetime.now(UTC) + timedelta(seconds=self.presign_ttl_s)
        # Signing is local, but finding credentials (an instance role) may not be.
        url = await self.call(
            self._presigner.generate_presigned_url,
            ClientMethod=operation,
            Params=params,
            ExpiresIn=self.presign_ttl_s,
            HttpMethod=method,
        )
        return PresignedRequest(method=method, url=url, expires_at=expires_at, headers=headers)

    async def aclose(self) -> None:
        """Close the connection pools and the threads."""
        self.client.close()
        if self._presigner is not self.client:
            self._presigner.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _hex_of_base64(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None
