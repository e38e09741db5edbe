"""OIDC bearer tokens: verify a JWT access token against the provider's published keys.

The provider is found from its issuer URL (OpenID Connect Discovery); its JWKS is fetched with
httpx, cached for ``oidc_jwks_cache_ttl_s`` and refetched early when a token names an unknown
``kid`` (key rotation), at most once per ``oidc_jwks_min_refresh_interval_s`` so that tokens with
random kids cannot make us hammer the provider. Verification is PyJWT's: signature with the
algorithm bound to the key, ``iss``, ``aud``, ``exp`` (required) and ``nbf`` with leeway.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx
import jwt
from jwt.exceptions import PyJWKError

from agent_runtime_core.auth import Principal, Role
from agent_runtime_core.errors import ServiceUnavailableError, UnauthorizedError
from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

KNOWN_ROLES: Final = frozenset(role.value for role in Role)
_TENANT_ID: Final = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
_SUBJECT_MAX: Final = 200
_KEYS_UNAVAILABLE: Final = "the identity provider's signing keys cannot be fetched; retry later"


@dataclass(frozen=True)
class OidcConfig:
    """What the verifier needs from the settings."""

    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    tenant_claim: str = "tenant_id"
    client_id: str | None = None
    jwks_url: str | None = None
    leeway_s: float = 30.0
    jwks_cache_ttl_s: float = 600.0
    jwks_min_refresh_interval_s: float = 30.0
    http_timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The OIDC configuration, or ``None`` when no issuer is set (bearer JWTs refused)."""
        if not settings.oidc_issuer or not settings.oidc_audience:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            algorithms=tuple(settings.oidc_algorithms),
            tenant_claim=settings.oidc_tenant_claim,
            client_id=settings.oidc_client_id,
            jwks_url=settings.oidc_jwks_url,
            leeway_s=settings.oidc_leeway_s,
            jwks_cache_ttl_s=settings.oidc_jwks_cache_ttl_s,
            jwks_min_refresh_interval_s=settings.oidc_jwks_min_refresh_interval_s,
            http_timeout_s=settings.oidc_http_timeout_s,
        )


def _invalid(detail: str) -> UnauthorizedError:
    return UnauthorizedError(detail, error="invalid_token")


def roles_from_claims(claims: dict[str, Any], client_id: str | None) -> frozenset[str]:
    """Known role names from Keycloak's ``realm_access.roles``, ``resource_access.<client_id>.roles``
    and a plain ``roles`` claim. Other names (Keycloak's ``offline_access``, ...) grant nothing."""
    sources: list[object] = [claims.get("roles")]
    realm_access = claims.get("realm_access")
    if isinstance(realm_access, dict):
        sources.append(cast(dict[str, object], realm_access).get("roles"))
    resource_access = claims.get("resource_access")
    if client_id and isinstance(resource_access, dict):
        client_access = cast(dict[str, object], resource_access).get(client_id)
        if isinstance(client_access, dict):
            sources.append(cast(dict[str, object], client_access).get("roles"))
    roles: set[str] = set()
    for source in sources:
        if isinstance(source, list):
            roles.update(name for name in cast(list[object], source) if isinstance(name, str))
    return frozenset(roles & KNOWN_ROLES)


class JwksCache:
    """The provider's signing keys, fetched lazily and shared by concurrent requests."""

    def __init__(
        self, config: OidcConfig, http: httpx.AsyncClient, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._lock = asyncio.Lock()
        self._jwks_url = config.jwks_url
        self._keys: list[dict[str, Any]] = []
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self.fetches = 0
        """JWKS documents fetched so far (observability, and tests of the refetch floor)."""

    async def key_for(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The published key ``kid`` bound to ``algorithm``; 401 if there is none."""
        if self._stale():
            await self._refresh()
        elif self._fetched_at is None and self._lock.locked():
            # The first fetch is in flight, started by a concurrent request: wait for its keys
            # rather than answer 503 (a browser signing in sends several requests at once).
            async with self._lock:
                pass
        if self._fetched_at is None:  # the last fetch failed and the refetch floor holds
            raise ServiceUnavailableError(
                "the identity provider's signing keys cannot be fetched; retry later"
            )
        jwk = self._find(kid)
        if jwk is None and self._may_refetch():
            # A new kid usually means the provider rotated its keys: look again, once.
            await self._refresh()
            jwk = self._find(kid)
        if jwk is None:
            raise _invalid("the token's signing key is not published by the issuer")
        declared = jwk.get("alg")
        if declared is not None and declared != algorithm:
            raise _invalid("the token's algorithm does not match its signing key")
        try:
            return jwt.PyJWK(jwk, algorithm=algorithm)
        except (PyJWKError, ValueError, TypeError) as exc:
            raise _invalid("the token's signing key cannot verify this algorithm") from exc

    def _stale(self) -> bool:
        if self._fetched_at is None:
            return self._may_refetch()
        return self._clock() - self._fetched_at >= self._config.jwks_cache_ttl_s and self._may_refetch()

    def _may_refetch(self) -> bool:
        last = self._attempted_at
        return last is None or self._clock() - last >= self._config.jwks_min_refresh_interval_s

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        signing = [key for key in self._keys if key.get("use", "sig") == "sig"]
        if kid is None:
            # Without a kid only an unambiguous key set will do.
            return signing[0] if len(signing) == 1 else None
        return next((key for key in signing if key.get("kid") == kid), None)

    async def _refresh(self) -> None:
        attempted = self._attempted_at
        async with self._lock:
            if self._attempted_at != attempted:
                return  # another request refreshed while we waited
            self._attempted_at = self._clock()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                if self._keys:
                    # Keep verifying with the keys we have; retry after the refetch floor.
                    logger.warning("could not refresh the OIDC JWKS (%s); keeping cached keys", exc)
                    return
                raise ServiceUnavailableError(_KEYS_UNAVAILABLE) from exc
            self._keys = keys
            self._fetched_at = self._clock()

    async def _fetch(self) -> list[dict[str, Any]]:
        if self._jwks_url is None:
            self._jwks_url = await self._discover()
        response = await self._http.get(self._jwks_url)
        response.raise_for_status()
        document: object = response.json()
        keys = cast(dict[str, object], document).get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError(f"{self._jwks_url} is not a JWKS document")
        self.fetches += 1
        return [cast(dict[str, Any], key) for key in cast(list[object], keys) if isinstance(key, dict)]

    async def _discover(self) -> str:
        url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = await self._http.get(url)
        response.raise_for_status()
        document: object = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} is not a discovery document")
        metadata = cast(dict[str, object], document)
        # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer we asked for.
        if metadata.get("issuer") != self._config.issuer:
            raise ValueError(f"{url} names issuer {metadata.get('issuer')!r}, not {self._config.issuer!r}")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError(f"{url} has no jwks_uri")
        return jwks_uri


class OidcVerifier:
    """Turns an OIDC access token into a :class:`Principal` (or a 401)."""

    def __init__(self, config: OidcConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=config.http_timeout_s, follow_redirects=False)
        self.jwks = JwksCache(config, self._http)

    async def aclose(self) -> None:
        """Close the HTTP client (if we created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def verify(self, token: str) -> Principal:
        """Verify ``token`` and return its principal.

        Raises:
            UnauthorizedError: the token is malformed, not signed by the issuer's published keys,
                expired or not yet valid, for another issuer or audience, or has no tenant.
            ServiceUnavailableError: the provider's keys could not be fetched at all.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("the bearer token is not a well-formed JWT") from exc
        algorithm = header.get("alg")
        # Checked before any key lookup: `none` and HS* (alg confusion) never reach the JWKS.
        if not isinstance(algorithm, str) or algorithm not in self.config.algorithms:
            raise _invalid(f"the token's algorithm {str(algorithm)[:20]!r} is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _invalid("the token's kid is not a string")
        key = await self.jwks.key_for(kid, algorithm)
        claims = self._decode(token, key, algorithm)
        return self._principal(claims)

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _invalid("the token is not valid yet") from exc
        except jwt.InvalidAudienceError as exc:
            raise _invalid("the token is not meant for this API (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise _invalid("the token was issued by another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise _invalid("the token's signature is invalid") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"the token has no '{exc.claim}' claim") from exc
        except jwt.PyJWTError as exc:
            raise _invalid("the token is invalid") from exc

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > _SUBJECT_MAX:
            raise _invalid("the token's subject is not valid")
        tenant = claims.get(self.config.tenant_claim)
        # 401, not 403: the token is not one minted for this API (its provider must add the
        # tenant claim), and a client should get a proper token rather than give up.
        if not isinstance(tenant, str) or not _TENANT_ID.match(tenant):
            raise _invalid(f"the token has no valid '{self.config.tenant_claim}' claim")
        return Principal(
            tenant_id=tenant,
            subject=subject,
            roles=roles_from_claims(claims, self.config.client_id),
            auth_method="oidc",
        )
