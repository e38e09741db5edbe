"""Signatures on the requests Agent Runtime sends to a tenant's HTTP tool endpoints.

An HTTP tool's endpoint is reachable from the internet, so anyone can send it a request that looks
like a tool call. Every request the worker sends therefore carries proof that it came from Agent
Runtime, computed with a signing secret only the tenant and Agent Runtime know:

``Agent-Runtime-Timestamp``
    The Unix time (whole seconds) the request was signed at.
``Agent-Runtime-Signature``
    ``v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``, one entry per active signing key,
    comma-separated, the current key first. While a secret is being rotated both the new and the
    old secret sign every request, so a receiver holding either one accepts it.
``Agent-Runtime-Key-Id``
    The ids of the keys that signed, in the same order (informational: a receiver may use it to
    pick its secret, but verifying against every entry is enough).
``Idempotency-Key``
    The same value on every attempt of one tool call (retries by the worker and retries of the
    whole activity after a crash): a receiver that performs side effects should do them once per
    key.

The body is the exact bytes sent (the JSON arguments for POST, PUT and PATCH; empty for GET, HEAD
and DELETE, whose arguments travel in the query string, which this version of the signature does
not cover). The timestamp is part of the signed message, so a captured request cannot be replayed
once it is older than the receiver's tolerance (five minutes by default).

How a receiver verifies a request, with only the standard library (or this module)::

    import hashlib, hmac, time

    def is_from_agent_runtime(secret: bytes, headers, body: bytes) -> bool:
        timestamp = headers["Agent-Runtime-Timestamp"]
        if abs(time.time() - int(timestamp)) > 300:
            return False  # stale or from the future: possibly replayed
        expected = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return any(
            hmac.compare_digest(entry.strip().removeprefix("v1="), expected)
            for entry in headers["Agent-Runtime-Signature"].split(",")
            if entry.strip().startswith("v1=")
        )

which is what :func:`verify_signature` does::

    verify_signature(secret, request.headers[SIGNATURE_HEADER],
                     request.headers[TIMESTAMP_HEADER], raw_body)

Verify the raw body bytes before parsing them: re-serialised JSON may differ byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "IDEMPOTENCY_KEY_HEADER",
    "KEY_ID_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "TIMESTAMP_HEADER",
    "SigningKey",
    "sign",
    "signature_header",
    "signed_headers",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "Agent-Runtime-Signature"
TIMESTAMP_HEADER: Final = "Agent-Runtime-Timestamp"
KEY_ID_HEADER: Final = "Agent-Runtime-Key-Id"
IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"

SIGNATURE_VERSION: Final = "v1"
"""The scheme prefix of each signature entry; a future scheme gets a new prefix, sent alongside."""

DEFAULT_TOLERANCE_S: Final = 300.0
"""How far a request's timestamp may be from the receiver's clock, in seconds."""


@dataclass(frozen=True)
class SigningKey:
    """One of a tenant's signing secrets."""

    key_id: str
    """Names the secret (sent in ``Agent-Runtime-Key-Id``); never the secret itself."""
    secret: bytes = field(repr=False)
    """The shared secret; kept out of ``repr`` so it cannot end up in a log line."""

    def __post_init__(self) -> None:
        if not self.key_id or any(character in self.key_id for character in ",\r\n"):
            raise ValueError("a signing key id must be non-empty, without commas or line breaks")
        if not self.secret:
            raise ValueError(f"signing key {self.key_id!r} has an empty secret")


def sign(secret: bytes | str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret`` (no ``v1=`` prefix)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(keys: Sequence[SigningKey], timestamp: int | str, body: bytes) -> str:
    """The ``Agent-Runtime-Signature`` value: ``v1=<hex>`` per key, comma-joined, in ``keys`` order.

    Pass the current key first; during a rotation, pass the old key after it.

    Raises:
        ValueError: If ``keys`` is empty.
    """
    if not keys:
        raise ValueError("at least one signing key is needed")
    return ",".join(f"{SIGNATURE_VERSION}={sign(key.secret, timestamp, body)}" for key in keys)


def signed_headers(keys: Sequence[SigningKey], timestamp: int, body: bytes) -> dict[str, str]:
    """The timestamp, signature and key-id headers for one request (nothing when ``keys`` is empty)."""
    if not keys:
        return {}
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(keys, timestamp, body),
        KEY_ID_HEADER: ",".join(key.key_id for key in keys),
    }


def verify_signature(
    secret: bytes | str,
    header: str | None,
    timestamp: str | int | None,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Tell whether a request was signed with ``secret`` recently enough.

    Args:
        secret: The tenant's signing secret (bytes, or text encoded as UTF-8).
        header: The ``Agent-Runtime-Signature`` header (``None`` when it was missing).
        timestamp: The ``Agent-Runtime-Timestamp`` header (``None`` when it was missing).
        body: The request body exactly as received (``b""`` for a request without one).
        now: The receiver's current Unix time; ``time.time()`` when omitted.
        tolerance_s: Largest accepted distance between ``timestamp`` and ``now``, either way.

    Returns:
        True when the timestamp is an integer within ``tolerance_s`` of ``now`` and one of the
        header's ``v1=`` entries is the signature of ``timestamp`` and ``body`` under ``secret``
        (compared in constant time); False otherwise, including for malformed headers. Entries
        of other versions are ignored.
    """
    if header is None or timestamp is None:
        return False
    timestamp_text = str(timestamp).strip()
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        return False
    current = time.time() if now is None else now
    if not math.isfinite(current) or abs(current - int(timestamp_text)) > tolerance_s:
        return False
    expected = sign(secret, timestamp_text, body)
    matched = False
    for entry in header.split(","):
        version, separator, value = entry.strip().partition("=")
        if separator and version == SIGNATURE_VERSION:
            # Every entry is compared (no early exit), so timing tells nothing about which matched.
            matched |= hmac.compare_digest(value.strip().lower().encode(), expected.encode())
    return matched
