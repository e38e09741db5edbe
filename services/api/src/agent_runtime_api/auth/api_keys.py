"""Authenticate a request by API key (``Authorization: Bearer ar_…`` or ``X-API-Key``)."""

from __future__ import annotations

from agent_runtime_core.auth import Principal
from agent_runtime_core.auth.api_keys import parse_api_key, secret_hash_matches
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.errors import UnauthorizedError
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ApiKeyLookup

_UNKNOWN = "the API key is not valid"


async def authenticate_api_key(database: Database, token: str, *, last_used_interval_s: float) -> Principal:
    """The principal of the key ``token``: its tenant, its roles and scopes.

    Unknown, malformed, revoked and expired keys and a wrong secret all get a 401; only a
    revoked or expired key is told so (its owner holds the secret, and needs to know why).

    The lookup runs before the tenant is known, so it uses its own short transaction rather
    than the request's tenant-scoped session.
    """
    parsed = parse_api_key(token)
    if parsed is None:
        raise UnauthorizedError(_UNKNOWN)
    now = utcnow()
    # A system session: this lookup must see every tenant's keys (it is how the tenant is found).
    async with system_session_scope(database) as session:
        lookup = ApiKeyLookup(session)
        key = await lookup.by_prefix(parsed.prefix)
        if key is None or not secret_hash_matches(key.secret_hash, parsed.secret_hash):
            raise UnauthorizedError(_UNKNOWN)
        if key.revoked_at is not None:
            raise UnauthorizedError("the API key has been revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise UnauthorizedError("the API key has expired")
        last_used = key.last_used_at
        if last_used is None or (now - last_used).total_seconds() >= last_used_interval_s:
            await lookup.touch(key.id, now, min_interval_s=last_used_interval_s)
    return Principal(
        tenant_id=key.tenant_id,
        subject=key.id,
        roles=frozenset(key.roles),
        auth_method="api_key",
        api_key_id=key.id,
        scopes=frozenset(key.scopes) if key.scopes is not None else None,
    )
