"""Temporal payloads: encryption (AES-256-GCM key ring) and offloading to a real S3 API (SeaweedFS
from PyPI, see the root conftest), composed by the one converter every process builds."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage
from agent_runtime_core.temporal.data_converter import (
    check_converter_matches,
    close_data_converter,
    data_converter_from_settings,
    payload_driver,
)
from agent_runtime_core.temporal.payload_encryption import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    PayloadDecryptionError,
    PayloadEncryptionCodec,
)

OLD_KEY, NEW_KEY = os.urandom(32), os.urandom(32)
SECRET_PROMPT = "the launch code is swordfish-7731"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


class Message(BaseModel):
    text: str


def _plain(text: str) -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([Message(text=text)])
    return payload


# ------------------------------------------------------------------------------------ encryption


async def test_a_payload_round_trips_and_its_ciphertext_names_the_key_only() -> None:
    codec = PayloadEncryptionCodec({"k1": OLD_KEY}, "k1")
    original = _plain(SECRET_PROMPT)
    [encrypted] = await codec.encode([original])
    assert encrypted.metadata["encoding"] == ENCRYPTED_ENCODING
    assert encrypted.metadata[KEY_ID_METADATA] == b"k1"
    assert SECRET_PROMPT.encode() not in encrypted.SerializeToString()
    assert b"json/plain" not in encrypted.SerializeToString()  # the original metadata is inside
    [decrypted] = await codec.decode([encrypted])
    assert decrypted == original
    # A fresh nonce every time: the same payload never encrypts to the same bytes.
    [again] = await codec.encode([original])
    assert again.data != encrypted.data


async def test_after_rotation_new_payloads_use_the_new_key_and_old_ones_still_decode() -> None:
    before = PayloadEncryptionCodec({"k1": OLD_KEY}, "k1")
    [written_before] = await before.encode([_plain("before rotation")])
    after = PayloadEncryptionCodec({"k1": OLD_KEY, "k2": NEW_KEY}, "k2")
    [written_after] = await after.encode([_plain("after rotation")])
    assert written_after.metadata[KEY_ID_METADATA] == b"k2"
    assert await after.decode([written_before, written_after]) == [
        _plain("before rotation"),
        _plain("after rotation"),
    ]
    # Once the old key is dropped from the ring, its payloads are refused, naming the key.
    dropped = PayloadEncryptionCodec({"k2": NEW_KEY}, "k2")
    with pytest.raises(PayloadDecryptionError, match="'k1'"):
        await dropped.decode([written_before])


async def test_payloads_written_before_encryption_pass_through() -> None:
    codec = PayloadEncryptionCodec({"k1": OLD_KEY}, "k1")
    plain = _plain("written in clear by an older build")
    assert await codec.decode([plain]) == [plain]


async def test_an_altered_or_relabelled_payload_is_refused() -> None:
    codec = PayloadEncryptionCodec({"k1": OLD_KEY, "k2": NEW_KEY}, "k1")
    [encrypted] = await codec.encode([_plain(SECRET_PROMPT)])
    flipped = Payload()
    flipped.CopyFrom(encrypted)
    flipped.data = encrypted.data[:-1] + bytes([encrypted.data[-1] ^ 1])
    relabelled = Payload()
    relabelled.CopyFrom(encrypted)
    relabelled.metadata[KEY_ID_METADATA] = b"k2"
    for bad in (flipped, relabelled):
        with pytest.raises(PayloadDecryptionError, match="does not decrypt"):
            await codec.decode([bad])


def test_settings_refuse_unusable_payload_keys() -> None:
    with pytest.raises(ValidationError, match="not a valid key"):
        Settings(temporal_payload_keys={"k1": "c2hvcnQ="}, temporal_payload_active_key_id="k1")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValidationError, match="must name one of"):
        Settings(temporal_payload_keys={"k1": _b64(OLD_KEY)}, temporal_payload_active_key_id="k9")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValidationError, match="no wildcard"):
        Settings(temporal_codec_cors_origins=["*"])


# ------------------------------------------------------------------------------ the converter


def _settings(s3_settings: dict[str, object] | None = None, **overrides: Any) -> Settings:
    return Settings.model_validate({**(s3_settings or {}), **overrides})


@pytest.fixture
async def offloading(s3_settings: dict[str, object]) -> AsyncGenerator[tuple[DataConverter, Settings]]:
    settings = _settings(
        s3_settings,
        temporal_payload_keys={"k1": _b64(OLD_KEY)},
        temporal_payload_active_key_id="k1",
    )
    converter = data_converter_from_settings(settings)
    yield converter, settings
    await close_data_converter(converter)


def test_without_keys_or_bucket_the_converter_is_the_plain_pydantic_one() -> None:
    assert data_converter_from_settings(_settings()) is pydantic_data_converter


async def test_a_large_payload_is_encrypted_then_offloaded_and_read_back(
    offloading: tuple[DataConverter, Settings],
) -> None:
    converter, settings = offloading
    big = Message(text=SECRET_PROMPT + "x" * 400_000)
    [reference] = await converter.encode([big])
    # What the history would keep: a small reference naming the bucket, a key without tenant
    # data, and the SHA-256 of what was stored.
    assert reference.ByteSize() < 1_000
    assert reference.metadata["encoding"] == b"json/protobuf"
    assert SECRET_PROMPT.encode() not in reference.SerializeToString()
    claim = reference.data.decode()
    assert settings.s3_bucket is not None and settings.s3_bucket in claim and '"v0/d/sha256/' in claim
    assert reference.external_payloads[0].size_bytes > 400_000
    # What the bucket holds: the ciphertext, written with server-side encryption.
    key = claim.split('"key":"', 1)[1].split('"', 1)[0]
    storage = ObjectStorage(settings)
    try:
        head = await storage.head(key)
        assert head is not None and head.server_side_encryption == "AES256"
        download = await storage.download(key)
        assert download is not None
        stored = Payload()
        stored.ParseFromString(b"".join([chunk async for chunk in download.chunks()]))
    finally:
        await storage.aclose()
    assert stored.metadata["encoding"] == ENCRYPTED_ENCODING
    assert SECRET_PROMPT.encode() not in stored.data
    # And back: fetched, checked, decrypted, converted.
    assert await converter.decode([reference], [Message]) == [big]


async def test_small_payloads_stay_inline_encrypted(offloading: tuple[DataConverter, Settings]) -> None:
    converter, _ = offloading
    [payload] = await converter.encode([Message(text=SECRET_PROMPT)])
    assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
    assert await converter.decode([payload], [Message]) == [Message(text=SECRET_PROMPT)]


async def test_offload_off_writes_inline_but_still_reads_references(
    s3_settings: dict[str, object],
) -> None:
    on = data_converter_from_settings(_settings(s3_settings))
    off = data_converter_from_settings(_settings(s3_settings, temporal_payload_offload=False))
    try:
        big = Message(text="y" * 300_000)
        [reference] = await on.encode([big])
        [inline] = await off.encode([big])
        assert reference.ByteSize() < 1_000 and inline.ByteSize() > 300_000
        assert await off.decode([reference], [Message]) == [big]
    finally:
        await close_data_converter(on)
        await close_data_converter(off)


async def test_a_reference_whose_object_was_altered_is_refused(s3_settings: dict[str, object]) -> None:
    settings = _settings(s3_settings)
    converter = data_converter_from_settings(settings)
    storage = ObjectStorage(settings)
    try:
        [reference] = await converter.encode([Message(text="z" * 300_000)])
        key = reference.data.decode().split('"key":"', 1)[1].split('"', 1)[0]
        await storage.call(storage.client.put_object, Bucket=storage.bucket, Key=key, Body=b"tampered")
        with pytest.raises(ValueError, match="integrity check failed"):
            await converter.decode([reference], [Message])
    finally:
        await storage.aclose()
        await close_data_converter(converter)


async def test_a_dedicated_payload_bucket_is_used_when_configured(s3_settings: dict[str, object]) -> None:
    bucket = f"{s3_settings['s3_bucket']}-payloads"
    converter = data_converter_from_settings(_settings(s3_settings, temporal_payload_bucket=bucket))
    try:
        driver = payload_driver(converter)
        assert driver is not None and driver.bucket == bucket
        [reference] = await converter.encode([Message(text="w" * 300_000)])
        assert f'"bucket":"{bucket}"' in reference.data.decode()
    finally:
        await close_data_converter(converter)


def test_a_client_that_does_not_encrypt_is_refused_when_the_settings_encrypt() -> None:
    settings = _settings(temporal_payload_keys={"k1": _b64(OLD_KEY)}, temporal_payload_active_key_id="k1")
    with pytest.raises(ValueError, match="does not encrypt"):
        check_converter_matches(pydantic_data_converter, settings)
    assert check_converter_matches(data_converter_from_settings(settings), settings) == []
