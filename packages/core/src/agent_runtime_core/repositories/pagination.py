"""Opaque list cursors: the sort key of the last item, base64url-encoded."""

from __future__ import annotations

import base64
import binascii

from agent_runtime_core.errors import InvalidRequestError


def encode_cursor(key: str | int) -> str:
    """Encode the sort key of the last item of a page."""
    return base64.urlsafe_b64encode(f"v1:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """Decode a cursor made by :func:`encode_cursor`; a malformed one is a 422 on ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("v1:") or len(raw) <= 3:
        raise InvalidRequestError(
            "cursor is not valid; pass the next_cursor of a previous page",
            loc=["query", "cursor"],
            code="invalid_cursor",
        )
    return raw[3:]
