"""OIDC bearer JWTs against a real OpenID provider (npm `oidc-provider`, started once per session).

The provider issues real access tokens (client_credentials grant, resource indicator = our
audience, JWT format); the API finds its keys by discovery + JWKS. The provider signs with a
key the test generated, so the test can also sign the tokens a provider would never issue
(expired, not yet valid, other issuer, other audience) with a key the provider publishes: each
negative test then fails on the one check it is about.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_runtime_api.deps import AppState

from .support import OIDC_AUDIENCE as AUDIENCE
from .support import OidcProvider as Provider
from .support import build_authenticating_app, open_client


def oidc_settings(provider: Provider, **overrides: object) -> dict[str, object]:
    return {
        "oidc_issuer": provider.issuer,
        "oidc_audience": AUDIENCE,
        "oidc_client_id": "agent-runtime",
        "temporal_address": "127.0.0.1:1",
        **overrides,
    }


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def jwks_fetches(self) -> int:
        state: AppState = self.app.state.agent_runtime
        assert state.oidc is not None
        return state.oidc.jwks.fetches


async def _api(database_url: str, provider: Provider, **overrides: object) -> AsyncGenerator[Api]:
    app = build_authenticating_app(database_url, **oidc_settings(provider, **overrides))
    async for client in open_client(app):
        yield Api(app, client)


@pytest.fixture
async def api(database_url: str, provider: Provider) -> AsyncGenerator[Api]:
    """The app trusting the provider (refetch floor: the default 30 s)."""
    async for value in _api(database_url, provider):
        yield value


async def mint(provider: Provider, claims: dict[str, Any]) -> str:
    """A real access token from the provider: register a client whose tokens carry ``claims``,
    then run the client_credentials grant for our API (resource indicator)."""
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=10) as idp:
        registered = await idp.post(
            "/reg",
            json={
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
                "token_endpoint_auth_method": "client_secret_post",
                "test_claims": claims,
            },
        )
        assert registered.status_code == 201, registered.text
        client = registered.json()
        token = await idp.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
                "resource": AUDIENCE,
                "scope": "api",
            },
        )
        assert token.status_code == 200, token.text
        return token.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_invalid_token(response: httpx.Response, detail_part: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="agent-runtime", error="invalid_token"'
    )
    assert detail_part in response.json()["detail"], response.json()["detail"]


async def test_provider_token_authenticates_for_its_tenant(
    api: Api, provider: Provider, tenant_id: str
) -> None:
    token = await mint(
        provider, {"tenant_id": tenant_id, "realm_access": {"roles": ["admin", "offline_access"]}}
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == AUDIENCE and claims["iss"] == provider.issuer  # a real provider token
    created = await api.http.post("/v1/agents", json={"name": "oidc"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    listed = await api.http.get("/v1/agents", headers=bearer(token))
    assert [a["name"] for a in listed.json()["data"]] == ["oidc"]
    # Discovery + JWKS fetched once and cached for the next requests.
    assert api.jwks_fetches == 1
    key = await api.http.post("/v1/api-keys", json={"name": "k", "roles": ["viewer"]}, headers=bearer(token))
    assert key.json()["created_by"] == claims["sub"]
    assert api.jwks_fetches == 1


async def test_concurrent_first_requests_wait_for_the_one_jwks_fetch(
    api: Api, provider: Provider, tenant_id: str
) -> None:
    """Before the keys are known, requests that arrive while the first fetch is in flight wait for
    it (a browser that has just signed in sends several at once): none gets a 503."""
    token = await mint(provider, {"tenant_id": tenant_id, "realm_access": {"roles": ["viewer"]}})
    responses = await asyncio.gather(*(api.http.get("/v1/agents", headers=bearer(token)) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert api.jwks_fetches == 1


async def test_roles_from_client_roles_and_plain_roles_claim(
    api: Api, provider: Provider, tenant_id: str
) -> None:
    viewer = await mint(
        provider, {"tenant_id": tenant_id, "resource_access": {"agent-runtime": {"roles": ["viewer"]}}}
    )
    assert (await api.http.get("/v1/agents", headers=bearer(viewer))).status_code == 200
    weak = await api.http.post("/v1/agents", json={"name": "x"}, headers=bearer(viewer))
    assert weak.status_code == 403  # role too weak
    # Another client's roles do not count.
    other_client = await mint(
        provider, {"tenant_id": tenant_id, "resource_access": {"other-app": {"roles": ["admin"]}}}
    )
    assert (await api.http.get("/v1/agents", headers=bearer(other_client))).status_code == 403
    developer = await mint(provider, {"tenant_id": tenant_id, "roles": ["developer", "superuser"]})
    assert (
        await api.http.post("/v1/agents", json={"name": "y"}, headers=bearer(developer))
    ).status_code == 201


async def test_token_without_tenant_claim_is_401(api: Api, provider: Provider) -> None:
    token = await mint(provider, {"realm_access": {"roles": ["admin"]}})
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(token)), "'tenant_id' claim")
    bad_tenant = await mint(provider, {"tenant_id": "ten x; drop", "realm_access": {"roles": ["admin"]}})
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(bad_tenant)), "'tenant_id' claim")


async def test_custom_tenant_claim(database_url: str, provider: Provider, tenant_id: str) -> None:
    token = await mint(provider, {"org": tenant_id, "realm_access": {"roles": ["viewer"]}})
    async for custom in _api(database_url, provider, oidc_tenant_claim="org"):
        assert (await custom.http.get("/v1/agents", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"exp": -600}, "expired"),
        ({"nbf": 600}, "not valid yet"),
        ({"iss": "https://evil.example"}, "another issuer"),
        ({"aud": "https://other-api.example"}, "audience"),
        ({"exp": None}, "'exp' claim"),
        ({"sub": None}, "'sub' claim"),
    ],
)
async def test_tokens_failing_one_check_are_401(
    api: Api, provider: Provider, tenant_id: str, change: dict[str, int | str | None], detail: str
) -> None:
    claims = provider.claims(tenant_id)
    now = int(time.time())
    for name, value in change.items():
        if value is None:
            del claims[name]
        elif name in {"exp", "nbf"}:
            assert isinstance(value, int)
            claims[name] = now + value
        else:
            claims[name] = value
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(provider.sign(claims))), detail)


async def test_clock_skew_within_leeway_is_accepted(api: Api, provider: Provider, tenant_id: str) -> None:
    now = int(time.time())
    just_expired = provider.sign(provider.claims(tenant_id, exp=now - 10))
    almost_valid = provider.sign(provider.claims(tenant_id, nbf=now + 10))
    assert (await api.http.get("/v1/agents", headers=bearer(just_expired))).status_code == 200
    assert (await api.http.get("/v1/agents", headers=bearer(almost_valid))).status_code == 200


async def test_tampered_signature_is_401(
    api: Api, provider: Provider, tenant_id: str, other_tenant_id: str
) -> None:
    token = await mint(provider, {"tenant_id": tenant_id, "realm_access": {"roles": ["viewer"]}})
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant_id"] = other_tenant_id
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(forged)), "signature")
    flipped = f"{header}.{payload}.{signature[:-6]}{'AAAAAA' if signature[-6:] != 'AAAAAA' else 'BBBBBB'}"
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(flipped)), "signature")


async def test_alg_none_and_hs256_with_the_public_key_are_refused_before_any_key_lookup(
    api: Api, provider: Provider, tenant_id: str
) -> None:
    claims = provider.claims(tenant_id)
    payload = _b64(json.dumps(claims).encode())
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."
    assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(unsigned)), "'none' is not accepted")

    # Algorithm confusion: HMAC keyed with the provider's public key (which anyone can fetch).
    public_pem = provider.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": provider.kid}).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{payload}.{_b64(mac)}"
    assert_invalid_token(
        await api.http.get("/v1/agents", headers=bearer(confused)), "'HS256' is not accepted"
    )
    assert api.jwks_fetches == 0


async def test_unknown_kid_refetches_the_jwks_once_then_401(
    database_url: str, provider: Provider, tenant_id: str
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async for api in _api(database_url, provider, oidc_jwks_min_refresh_interval_s=0):
        valid = await mint(provider, {"tenant_id": tenant_id, "realm_access": {"roles": ["viewer"]}})
        assert (await api.http.get("/v1/agents", headers=bearer(valid))).status_code == 200
        assert api.jwks_fetches == 1
        forged = provider.sign(provider.claims(tenant_id), kid="rotated-maybe", key=stranger)
        assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(forged)), "not published")
        assert api.jwks_fetches == 2  # looked again once, in case the provider rotated its keys
        # A token signed by the stranger under the provider's kid fails on the signature.
        spoofed = provider.sign(provider.claims(tenant_id), key=stranger)
        assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(spoofed)), "signature")
        assert api.jwks_fetches == 2


async def test_random_kids_cannot_make_us_hammer_the_provider(
    api: Api, provider: Provider, tenant_id: str
) -> None:
    valid = await mint(provider, {"tenant_id": tenant_id, "realm_access": {"roles": ["viewer"]}})
    assert (await api.http.get("/v1/agents", headers=bearer(valid))).status_code == 200
    for index in range(20):
        forged = provider.sign(provider.claims(tenant_id), kid=f"random-{index}")
        assert_invalid_token(await api.http.get("/v1/agents", headers=bearer(forged)), "not published")
    assert api.jwks_fetches == 1  # within the 30 s floor: no refetch at all


async def test_unreachable_provider_is_503_not_401(
    database_url: str, provider: Provider, tenant_id: str
) -> None:
    token = provider.sign(provider.claims(tenant_id))
    async for api in _api(
        database_url, provider, oidc_jwks_url="http://127.0.0.1:1/jwks", oidc_http_timeout_s=1
    ):
        response = await api.http.get("/v1/agents", headers=bearer(token))
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jku"]),
        st.one_of(st.text(max_size=20), st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
        max_size=4,
    ),
    payload=st.binary(max_size=80),
    signature=st.binary(max_size=80),
)
async def test_garbage_jwts_are_401_never_500(
    api: Api, header: dict[str, object], payload: bytes, signature: bytes
) -> None:
    token = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}.{_b64(signature)}"
    response = await api.http.get("/v1/runs", headers=bearer(token))
    assert response.status_code == 401, (token, response.text)
