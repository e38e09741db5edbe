"""Object storage against a real S3 API (SeaweedFS from PyPI, see the root conftest)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncGenerator

import httpx
import pytest

from agent_runtime_core.errors import StorageUnavailableError
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage, ObjectTooLargeError, tenant_object_key


@pytest.fixture
async def storage(s3_settings: dict[str, object]) -> AsyncGenerator[ObjectStorage]:
    store = ObjectStorage(Settings.model_validate(s3_settings))
    yield store
    await store.aclose()


async def _read(store: ObjectStorage, key: str) -> bytes:
    download = await store.download(key)
    assert download is not None
    return b"".join([chunk async for chunk in download.chunks()])


def test_keys_carry_the_tenant_and_a_random_tail() -> None:
    first = tenant_object_key("ten_a", "artifacts", "art_1")
    second = tenant_object_key("ten_a", "artifacts", "art_1")
    assert first.startswith("tenants/ten_a/artifacts/art_1/")
    assert first != second and len(first.rsplit("/", 1)[1]) >= 20


async def test_a_small_object_is_stored_encrypted_with_its_checksum(storage: ObjectStorage) -> None:
    key = tenant_object_key("ten_s", "artifacts", "art_small")
    upload = await storage.upload(key, content_type="text/plain", max_bytes=100)
    await upload.write(b"hello ")
    await upload.write(b"world")
    stored = await upload.finish()
    assert stored.sha256 == hashlib.sha256(b"hello world").hexdigest() and stored.size == 11
    head = await storage.head(key)
    assert head is not None
    assert head.server_side_encryption == "AES256"
    assert head.sha256 == stored.sha256 and head.size == 11 and head.content_type == "text/plain"
    assert await _read(storage, key) == b"hello world"


async def test_a_large_object_goes_up_in_parts_and_reads_back_whole(storage: ObjectStorage) -> None:
    key = tenant_object_key("ten_s", "artifacts", "art_large")
    data = os.urandom(9 * 1024 * 1024 + 123)
    upload = await storage.upload(key, content_type="application/octet-stream", max_bytes=len(data))
    for start in range(0, len(data), 1_000_000):
        await upload.write(data[start : start + 1_000_000])
    stored = await upload.finish()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    head = await storage.head(key)
    assert head is not None and head.size == len(data) and head.server_side_encryption == "AES256"
    assert head.sha256 is None  # a multipart object has no full-object checksum
    assert await storage.sha256_of(key) == stored.sha256
    assert await _read(storage, key) == data


async def test_an_upload_past_its_limit_stores_nothing(storage: ObjectStorage) -> None:
    key = tenant_object_key("ten_s", "artifacts", "art_big")
    upload = await storage.upload(key, content_type="text/plain", max_bytes=10)
    with pytest.raises(ObjectTooLargeError):
        await upload.write(b"x" * 11)
    await upload.abort()
    assert await storage.head(key) is None


async def test_presigned_urls_pin_key_size_type_and_encryption(storage: ObjectStorage) -> None:
    key = tenant_object_key("ten_s", "artifacts", "art_presigned")
    body = b"0123456789"
    sha256 = hashlib.sha256(body).hexdigest()
    put = await storage.presign_put(key, content_type="text/plain", content_length=10, sha256=sha256)
    assert put.headers["x-amz-server-side-encryption"] == "AES256"
    async with httpx.AsyncClient() as client:
        other_key = put.url.replace(key, key[:-1] + ("A" if key[-1] != "A" else "B"))
        assert (await client.put(other_key, content=body, headers=put.headers)).status_code == 403
        wrong_type = {**put.headers, "Content-Type": "text/html"}
        assert (await client.put(put.url, content=body, headers=wrong_type)).status_code == 403
        no_encryption = {k: v for k, v in put.headers.items() if k != "x-amz-server-side-encryption"}
        assert (await client.put(put.url, content=body, headers=no_encryption)).status_code == 403
        wrong_body = (await client.put(put.url, content=b"9876543210", headers=put.headers)).status_code
        assert wrong_body in (400, 403)  # the checksum does not match
        assert await storage.head(key) is None
        assert (await client.put(put.url, content=body, headers=put.headers)).status_code == 200
        head = await storage.head(key)
        assert head is not None and head.sha256 == sha256 and head.server_side_encryption == "AES256"
        get = await storage.presign_get(
            key, content_disposition='attachment; filename="notes.txt"', content_type="text/plain"
        )
        response = await client.get(get.url)
        assert response.content == body
        assert response.headers["content-disposition"] == 'attachment; filename="notes.txt"'
        assert (await client.get(get.url.replace(key, key + "x"))).status_code == 403


async def test_deleting_is_idempotent(storage: ObjectStorage) -> None:
    key = tenant_object_key("ten_s", "artifacts", "art_deleted")
    upload = await storage.upload(key, content_type="text/plain", max_bytes=10)
    await upload.write(b"x")
    await upload.finish()
    await storage.delete(key)
    await storage.delete(key)
    assert await storage.head(key) is None and await storage.download(key) is None


async def test_an_unreachable_storage_is_a_503_error() -> None:
    settings = Settings(
        s3_endpoint_url="http://127.0.0.1:1",
        s3_bucket="nowhere",
        s3_access_key_id="k",
        s3_secret_access_key="s",  # pyright: ignore[reportArgumentType]
        s3_force_path_style=True,
        s3_timeout_s=1,
    )
    store = ObjectStorage(settings)
    try:
        with pytest.raises(StorageUnavailableError) as caught:
            await store.head("tenants/x/artifacts/y/z")
        assert caught.value.status == 503 and caught.value.code == "storage_unavailable"
    finally:
        await store.aclose()


def test_kms_encryption_needs_a_key_and_credentials_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="s3_kms_key_id"):
        Settings(s3_sse="kms")
    with pytest.raises(ValueError, match="both"):
        Settings(s3_access_key_id="only-the-id")
    assert Settings().s3_sse == "s3"  # encryption is on unless turned off
    assert Settings(s3_bucket="").s3_bucket is None  # an empty variable is no bucket
    assert ObjectStorage.from_settings(Settings(s3_bucket="")) is None
