"""Who is calling: an API key or an OIDC access token, from the request's headers."""

from __future__ import annotations

from agent_runtime_api.auth.api_keys import authenticate_api_key
from agent_runtime_api.auth.oidc import OidcVerifier
from agent_runtime_core.auth import Principal
from agent_runtime_core.auth.api_keys import looks_like_api_key
from agent_runtime_core.db import Database
from agent_runtime_core.errors import UnauthorizedError

_MAX_CREDENTIAL = 8192  # larger than any real JWT; refuses absurd headers before parsing


async def authenticate(
    *,
    authorization: str | None,
    api_key_header: str | None,
    database: Database,
    oidc: OidcVerifier | None,
    last_used_interval_s: float,
) -> Principal:
    """The principal behind the request's credentials.

    ``X-API-Key: ar_…`` or ``Authorization: Bearer ar_…`` is an API key; any other bearer
    token is an OIDC access token (a JWT). Missing or unverifiable credentials raise
    :class:`UnauthorizedError` (401 with a ``WWW-Authenticate: Bearer`` challenge).
    """
    if api_key_header is not None:
        if authorization is not None:
            raise UnauthorizedError(
                "send either Authorization or X-API-Key, not both", error="invalid_request"
            )
        return await _api_key(database, api_key_header.strip(), last_used_interval_s)
    if authorization is None:
        # RFC 6750 §3.1: no error code when the request carried no credentials at all.
        raise UnauthorizedError(
            "this call needs credentials: an API key (Authorization: Bearer ar_… or X-API-Key) "
            "or an OIDC access token (Authorization: Bearer <jwt>)",
            error="",
        )
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise UnauthorizedError("use the Bearer authorization scheme", error="invalid_request")
    if len(credential) > _MAX_CREDENTIAL:
        raise UnauthorizedError("the bearer token is too long")
    if looks_like_api_key(credential):
        return await _api_key(database, credential, last_used_interval_s)
    if oidc is None:
        raise UnauthorizedError(
            "bearer JWTs are not accepted: this server has no OIDC issuer configured; use an API key"
        )
    return await oidc.verify(credential)


async def _api_key(database: Database, token: str, last_used_interval_s: float) -> Principal:
    if not token or len(token) > _MAX_CREDENTIAL:
        raise UnauthorizedError("the API key is not valid")
    return await authenticate_api_key(database, token, last_used_interval_s=last_used_interval_s)
