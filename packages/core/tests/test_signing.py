"""Request signatures for HTTP tools: what the worker sends, what a receiver checks."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from agent_runtime_core.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKey,
    sign,
    signature_header,
    signed_headers,
    verify_signature,
)

CURRENT = SigningKey("key_new", b"new-secret")
PREVIOUS = SigningKey("key_old", b"old-secret")
BODY = b'{"city":"Paris"}'
NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"new-secret", b"1800000000." + BODY, hashlib.sha256).hexdigest()

    assert signature_header([CURRENT], NOW, BODY) == f"v1={expected}"
    assert sign("new-secret", str(NOW), BODY) == expected


def test_a_signed_request_verifies() -> None:
    header = signature_header([CURRENT], NOW, BODY)

    assert verify_signature(b"new-secret", header, str(NOW), BODY, now=NOW + 10)
    assert verify_signature("new-secret", header, NOW, BODY, now=NOW - 10)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        (b"other-secret", str(NOW), BODY),
        (b"new-secret", str(NOW + 1), BODY),
        (b"new-secret", str(NOW), b'{"city":"Lyon"}'),
        (b"new-secret", str(NOW), BODY + b" "),
    ],
)
def test_a_tampered_request_does_not_verify(secret: bytes, timestamp: str, body: bytes) -> None:
    header = signature_header([CURRENT], NOW, BODY)

    assert not verify_signature(secret, header, timestamp, body, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_a_stale_or_future_timestamp_is_rejected(offset: int) -> None:
    header = signature_header([CURRENT], NOW, BODY)

    assert not verify_signature(b"new-secret", header, str(NOW), BODY, now=NOW + offset)


def test_the_tolerance_is_configurable() -> None:
    header = signature_header([CURRENT], NOW, BODY)

    assert verify_signature(b"new-secret", header, str(NOW), BODY, now=NOW + 3000, tolerance_s=3600)
    assert not verify_signature(b"new-secret", header, str(NOW), BODY, now=NOW + 61, tolerance_s=60)


@pytest.mark.parametrize(
    ("header", "timestamp"),
    [
        (None, str(NOW)),
        ("v1=abc", None),
        ("", str(NOW)),
        ("garbage", str(NOW)),
        ("v1=", str(NOW)),
        ("v1=zz", str(NOW)),
        (None, None),
        ("v1=00", "not-a-number"),
        ("v1=00", "-5"),
        ("v1=00", "1.5"),
        ("v1=00", "\uff11\uff12\uff13"),  # full-width digits: isdigit() is true, but not an ASCII number
    ],
)
def test_malformed_headers_do_not_verify(header: str | None, timestamp: str | None) -> None:
    assert not verify_signature(b"new-secret", header, timestamp, BODY, now=NOW)


def test_during_a_rotation_both_keys_sign_and_either_verifies() -> None:
    headers = signed_headers([CURRENT, PREVIOUS], NOW, BODY)

    entries = headers[SIGNATURE_HEADER].split(",")
    assert len(entries) == 2
    assert entries[0] == f"v1={sign(CURRENT.secret, NOW, BODY)}"  # the current key first
    assert headers[KEY_ID_HEADER] == "key_new,key_old"
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    for secret in (b"new-secret", b"old-secret"):
        assert verify_signature(secret, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], BODY, now=NOW)
    assert not verify_signature(b"retired", headers[SIGNATURE_HEADER], str(NOW), BODY, now=NOW)


def test_entries_of_unknown_versions_are_ignored() -> None:
    good = signature_header([CURRENT], NOW, BODY)

    assert verify_signature(b"new-secret", f"v2=ffff, {good}", str(NOW), BODY, now=NOW)
    assert not verify_signature(b"new-secret", good.replace("v1=", "v2="), str(NOW), BODY, now=NOW)


def test_no_keys_no_signature_headers() -> None:
    assert signed_headers([], NOW, BODY) == {}
    with pytest.raises(ValueError, match="at least one signing key"):
        signature_header([], NOW, BODY)


def test_the_secret_never_appears_in_a_keys_repr() -> None:
    assert "new-secret" not in repr(CURRENT)


@pytest.mark.parametrize(("key_id", "secret"), [("", b"s"), ("a,b", b"s"), ("a\nb", b"s"), ("k", b"")])
def test_invalid_signing_keys_are_refused(key_id: str, secret: bytes) -> None:
    with pytest.raises(ValueError, match="signing key"):
        SigningKey(key_id, secret)
