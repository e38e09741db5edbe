"""Temporal's S3 storage driver on our object storage: offloaded payloads in the payload bucket.

The SDK's external storage (``temporalio.converter.ExternalStorage``, experimental) replaces a
payload of ``payload_size_threshold`` bytes or more by a small reference before it reaches the
Temporal server, and its ``S3StorageDriver`` (``temporalio.contrib.aws.s3driver``, experimental)
keeps the payload in S3 under a content-addressed key. The driver talks to S3 through an
``S3StorageDriverClient``; the SDK's own one needs aioboto3. :class:`ObjectStoragePayloadClient`
is ours instead, on :class:`~agent_runtime_core.storage.ObjectStorage`: the same boto3 client,
credentials, endpoint and thread pool as artifacts, and the configured server-side encryption on
every write (the SDK's client sends none).

It always writes (``object_exists`` answers ``False`` without asking): encrypted payloads never
repeat (a fresh nonce each time), so the driver's ``HEAD`` before each ``PUT`` would be a wasted
round trip, and a rewrite refreshes the object's age, so a bucket expiration rule counts from its
latest use. Writers need ``s3:PutObject`` only; readers ``s3:GetObject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from temporalio.contrib.aws.s3driver import S3StorageDriver, S3StorageDriverClient

from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage

__all__ = ["DRIVER_NAME", "ObjectStoragePayloadClient", "PayloadBucketDriver", "payload_storage_driver"]

DRIVER_NAME: Final = "aws.s3driver"
"""The driver's name, written in every reference: never change it (references name their driver)."""
CONTENT_TYPE: Final = "application/x-protobuf"
"""Media type of stored payloads (a serialized ``temporal.api.common.v1.Payload``)."""


class ObjectStoragePayloadClient(S3StorageDriverClient):
    """The S3 calls of Temporal's S3 driver, made by an :class:`ObjectStorage` (see the module)."""

    def __init__(self, storage: ObjectStorage) -> None:
        """Store in ``storage``'s bucket; read from any bucket its credentials may read."""
        self.storage = storage

    async def put_object(self, *, bucket: str, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` with the configured server-side encryption."""
        await self.storage.ensure_bucket()
        await self.storage.call(
            self.storage.client.put_object,
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=CONTENT_TYPE,
            **self.storage.encryption_arguments(),
        )

    async def object_exists(self, *, bucket: str, key: str) -> bool:
        """Always ``False``: write again rather than ask first (see the module)."""
        del bucket, key
        return False

    async def get_object(self, *, bucket: str, key: str) -> bytes:
        """The bytes at ``key`` (the driver checks their SHA-256 against the reference)."""
        response = await self.storage.call(self.storage.client.get_object, Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            return await self.storage.call(body.read)
        finally:
            body.close()

    def describe(self) -> Mapping[str, str]:
        """The bucket written to, for the driver's error messages (no credentials)."""
        return {"payload_bucket": self.storage.bucket}

    async def aclose(self) -> None:
        """Close the storage's connections and threads."""
        await self.storage.aclose()


class PayloadBucketDriver(S3StorageDriver):
    """Temporal's S3 driver, unchanged, writing through an :class:`ObjectStoragePayloadClient`
    (and able to close it)."""

    def __init__(self, client: ObjectStoragePayloadClient, *, max_payload_size: int) -> None:
        """The driver of ``client``'s bucket; larger payloads than ``max_payload_size`` fail."""
        super().__init__(
            client=client,
            bucket=client.storage.bucket,
            driver_name=DRIVER_NAME,
            max_payload_size=max_payload_size,
        )
        self.payload_client = client

    @property
    def bucket(self) -> str:
        """The bucket payloads are written to."""
        return self.payload_client.storage.bucket

    async def aclose(self) -> None:
        """Close the S3 client."""
        await self.payload_client.aclose()


def payload_storage_driver(settings: Settings) -> PayloadBucketDriver | None:
    """The driver of the settings' payload bucket (``None``: no bucket configured)."""
    bucket = settings.temporal_payload_bucket_name
    if bucket is None:
        return None
    storage = ObjectStorage(settings.model_copy(update={"s3_bucket": bucket}))
    return PayloadBucketDriver(
        ObjectStoragePayloadClient(storage), max_payload_size=settings.temporal_payload_max_bytes
    )
