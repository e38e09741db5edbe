"""API key tokens: ``ar_<prefix>_<secret>``.

``prefix`` is public (shown in lists, indexed, used to find the key before the tenant is known);
``secret`` is 256 random bits. Only the SHA-256 of the whole token is stored: the secret is
high-entropy random, so a slow password hash would add nothing against guessing and would cost
every request; a server-side pepper (HMAC) would only help if the database leaked without the
settings, at the price of breaking every key when the pepper changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

TOKEN_PREFIX: Final = "ar_"
_PREFIX_BYTES: Final = 8  # 16 hex characters: unique enough, short enough to read in a list
_SECRET_BYTES: Final = 32
_TOKEN_PATTERN: Final = re.compile(r"^ar_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})$")


@dataclass(frozen=True)
class GeneratedApiKey:
    """A new token (shown to its owner once) and what is stored about it."""

    token: str
    prefix: str
    secret_hash: str


@dataclass(frozen=True)
class ParsedApiKey:
    """The public prefix of a presented token and the hash to compare."""

    prefix: str
    secret_hash: str


def hash_api_key(token: str) -> str:
    """SHA-256 (hex) of the whole token."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_api_key() -> GeneratedApiKey:
    """A fresh token with a random public prefix and a 256-bit secret."""
    prefix = secrets.token_hex(_PREFIX_BYTES)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    return GeneratedApiKey(token=token, prefix=prefix, secret_hash=hash_api_key(token))


def looks_like_api_key(credential: str) -> bool:
    """Whether a bearer credential is meant as an API key (rather than a JWT)."""
    return credential.startswith(TOKEN_PREFIX)


def parse_api_key(token: str) -> ParsedApiKey | None:
    """The prefix and hash of ``token``, or ``None`` if it is not shaped like one of our keys."""
    match = _TOKEN_PATTERN.match(token)
    if match is None:
        return None
    return ParsedApiKey(prefix=match.group(1), secret_hash=hash_api_key(token))


def secret_hash_matches(stored: str, presented: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(stored.encode(), presented.encode())
