"""The one data converter of every process that talks to Temporal, built from the settings.

The API, the workers, the tests and the benchmarks build their Temporal clients' converter here,
so that both sides of every payload agree: what the API writes (a run's input) the worker reads,
and what the worker writes (activity inputs and results, updates' answers) the API reads.

Outbound, a value goes through three steps (the SDK's order):

1. the pydantic payload converter (JSON; the worker swaps in pydantic-ai's subclass, same JSON);
2. encryption (:class:`~agent_runtime_core.temporal.payload_encryption.PayloadEncryptionCodec`)
   when ``temporal_payload_keys`` are set: the payload becomes ciphertext;
3. external storage when a payload bucket is configured: a payload of
   ``temporal_payload_offload_threshold_bytes`` or more (measured after encryption, so what goes
   to the bucket is ciphertext) is written there and replaced by a reference (bucket, key,
   SHA-256) that the history keeps.

Inbound runs the other way: references are fetched (and their SHA-256 checked), then decrypted.
Payloads that are neither encrypted nor references pass through, so turning either feature on
never breaks a run already in flight. With encryption on, failure messages and stack traces
also travel encrypted (the SDK's encoded failure attributes).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Final

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    ExternalStorage,
    PayloadCodec,
)

from agent_runtime_core.crypto import decode_local_key
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.payload_encryption import PayloadEncryptionCodec
from agent_runtime_core.temporal.payload_storage import PayloadBucketDriver, payload_storage_driver

__all__ = [
    "NEVER_OFFLOAD",
    "check_converter_matches",
    "close_data_converter",
    "data_converter_from_settings",
    "payload_codec_from_settings",
    "payload_driver",
]

NEVER_OFFLOAD: Final = sys.maxsize
"""The threshold with offloading off: references already written are read, none are written."""


def payload_codec_from_settings(settings: Settings) -> PayloadEncryptionCodec | None:
    """The encryption codec of ``temporal_payload_keys`` (``None``: encryption is off)."""
    if not settings.temporal_payload_keys:
        return None
    assert settings.temporal_payload_active_key_id is not None  # checked by the settings
    keys = {
        key_id: decode_local_key(key.get_secret_value())
        for key_id, key in settings.temporal_payload_keys.items()
    }
    return PayloadEncryptionCodec(keys, settings.temporal_payload_active_key_id)


def data_converter_from_settings(settings: Settings) -> DataConverter:
    """The data converter of a process with ``settings`` (see the module).

    With a payload bucket, the converter holds an S3 client and its threads: close it with
    :func:`close_data_converter` when the process (or test) is done with it.
    """
    codec: PayloadCodec | None = payload_codec_from_settings(settings)
    driver = payload_storage_driver(settings)
    external_storage = (
        ExternalStorage(
            drivers=[driver],
            payload_size_threshold=(
                settings.temporal_payload_offload_threshold_bytes
                if settings.temporal_payload_offload
                else NEVER_OFFLOAD
            ),
        )
        if driver is not None
        else None
    )
    if codec is None and external_storage is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        external_storage=external_storage,
        failure_converter_class=(
            DefaultFailureConverterWithEncodedAttributes
            if codec is not None
            else pydantic_data_converter.failure_converter_class
        ),
    )


def payload_driver(converter: DataConverter) -> PayloadBucketDriver | None:
    """The payload bucket's driver of a converter built here (``None``: no external storage)."""
    storage = converter.external_storage
    if storage is None:
        return None
    return next((driver for driver in storage.drivers if isinstance(driver, PayloadBucketDriver)), None)


async def close_data_converter(converter: DataConverter) -> None:
    """Close the S3 client of a converter built by :func:`data_converter_from_settings`."""
    driver = payload_driver(converter)
    if driver is not None:
        await driver.aclose()


def check_converter_matches(converter: DataConverter, settings: Settings) -> list[str]:
    """What ``converter`` lacks of what ``settings`` ask for (empty: it matches).

    Raises:
        ValueError: The settings encrypt payloads and the converter does not: a process must
            never write in clear what the deployment keeps encrypted.
    """
    if settings.temporal_payload_keys and not isinstance(converter.payload_codec, PayloadEncryptionCodec):
        raise ValueError(
            "temporal_payload_keys are set but the Temporal client's data converter does not "
            "encrypt: build it with data_converter_from_settings"
        )
    problems: list[str] = []
    if settings.temporal_payload_bucket_name and payload_driver(converter) is None:
        problems.append(
            "a payload bucket is configured but the Temporal client's data converter has no "
            "external storage: offloaded payloads cannot be read"
        )
    return problems
