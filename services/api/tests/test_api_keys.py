"""API keys end to end over the real app: issued, used (Bearer and X-API-Key), listed, revoked,
expired; and what every request without valid credentials gets (401, never 500)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from agent_runtime_core.auth.api_keys import hash_api_key
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models import ApiKey

from .support import build_authenticating_app, issue_api_key, open_client


@pytest.fixture
async def client(database_url: str) -> AsyncGenerator[httpx.AsyncClient]:
    """A client of the app with real authentication and no credentials of its own."""
    app = build_authenticating_app(database_url, temporal_address="127.0.0.1:1")
    async for http in open_client(app):
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_request_without_credentials_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/agents")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="agent-runtime"'
    assert response.json()["code"] == "unauthorized"


async def test_probes_and_docs_stay_public(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    # Every /v1 operation is secured and documents 401/403; the probes are not.
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                assert {"bearer": []} in operation["security"], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            else:
                assert "security" not in operation, (method, path)


async def test_api_key_works_as_bearer_and_as_x_api_key(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    _, token = await issue_api_key(database, tenant_id, ["developer"])
    created = await client.post(
        "/v1/agents", json={"name": "keyed", "version": {"model": "builtin:scripted"}}, headers=bearer(token)
    )
    assert created.status_code == 201, created.text
    listed = await client.get("/v1/agents", headers={"X-API-Key": token})
    assert [a["id"] for a in listed.json()["data"]] == [created.json()["id"]]


async def test_key_lifecycle_create_list_get_revoke(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    _, admin = await issue_api_key(database, tenant_id, ["admin"])
    created = await client.post(
        "/v1/api-keys", json={"name": "ci", "roles": ["operator"]}, headers=bearer(admin)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("key_")
    assert body["key"].startswith(f"ar_{body['prefix']}_")
    assert body["roles"] == ["operator"]
    assert body["scopes"] is None and body["revoked_at"] is None
    assert created.headers["location"] == f"/v1/api-keys/{body['id']}"
    token = body["key"]

    # Only a hash is stored, never the token.
    async with system_session_scope(database) as session:
        row = (await session.exec(select(ApiKey).where(ApiKey.id == body["id"]))).one()
    assert row.secret_hash == hash_api_key(token) and token not in row.model_dump_json()

    # The new key works for what operators may do, and not beyond.
    assert (await client.get("/v1/runs", headers=bearer(token))).status_code == 200
    forbidden = await client.post("/v1/agents", json={"name": "nope"}, headers=bearer(token))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"

    listed = (await client.get("/v1/api-keys", headers=bearer(admin))).json()
    assert body["id"] in [k["id"] for k in listed["data"]]
    for key in listed["data"]:
        assert "key" not in key and "secret_hash" not in key
    one = (await client.get(f"/v1/api-keys/{body['id']}", headers=bearer(admin))).json()
    assert one["name"] == "ci" and one["last_used_at"] is not None  # used above

    assert (await client.delete(f"/v1/api-keys/{body['id']}", headers=bearer(admin))).status_code == 204
    revoked = await client.get("/v1/runs", headers=bearer(token))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]
    # Revoking again is a no-op.
    assert (await client.delete(f"/v1/api-keys/{body['id']}", headers=bearer(admin))).status_code == 204
    again = (await client.get(f"/v1/api-keys/{body['id']}", headers=bearer(admin))).json()
    assert again["revoked_at"] == one["revoked_at"] or again["revoked_at"] is not None


async def test_key_list_is_paginated_and_tenant_scoped(
    client: httpx.AsyncClient, database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    _, admin = await issue_api_key(database, tenant_id, ["admin"], name="first")
    for index in range(3):
        await issue_api_key(database, tenant_id, ["viewer"], name=f"k{index}")
    other_id, _ = await issue_api_key(database, other_tenant_id, ["admin"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/api-keys", params=params, headers=bearer(admin))).json()
        seen += [k["name"] for k in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["k2", "k1", "k0", "first"]
    # Another tenant's key is a 404, to read and to revoke.
    assert (await client.get(f"/v1/api-keys/{other_id}", headers=bearer(admin))).status_code == 404
    assert (await client.delete(f"/v1/api-keys/{other_id}", headers=bearer(admin))).status_code == 404


async def test_expired_key_is_401(client: httpx.AsyncClient, database: Database, tenant_id: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    _, token = await issue_api_key(database, tenant_id, ["admin"], expires_at=past)
    response = await client.get("/v1/agents", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_wrong_secret_for_a_real_prefix_is_401(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    _, token = await issue_api_key(database, tenant_id, ["admin"])
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await client.get("/v1/agents", headers=bearer(tampered))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is not valid"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_scoped_key_is_narrowed_and_keys_never_exceed_their_creator(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    _, manager = await issue_api_key(
        database, tenant_id, ["admin"], scopes=["api_keys:manage", "agents:read", "runs:read"]
    )
    assert (await client.get("/v1/agents", headers=bearer(manager))).status_code == 200
    assert (await client.post("/v1/runs", json={}, headers=bearer(manager))).status_code == 403

    too_strong = await client.post(
        "/v1/api-keys", json={"name": "dev", "roles": ["developer"]}, headers=bearer(manager)
    )
    assert too_strong.status_code == 403
    assert "agents:write" in too_strong.json()["detail"]
    narrowed = await client.post(
        "/v1/api-keys",
        json={"name": "reader", "roles": ["developer"], "scopes": ["agents:read"]},
        headers=bearer(manager),
    )
    assert narrowed.status_code == 201, narrowed.text
    reader = narrowed.json()["key"]
    assert (await client.get("/v1/agents", headers=bearer(reader))).status_code == 200
    assert (await client.get("/v1/runs", headers=bearer(reader))).status_code == 403

    not_granted = await client.post(
        "/v1/api-keys",
        json={"name": "odd", "roles": ["viewer"], "scopes": ["agents:write"]},
        headers=bearer(manager),
    )
    assert not_granted.status_code == 422
    assert not_granted.json()["errors"][0]["loc"] == ["body", "scopes"]


async def test_creating_keys_needs_api_keys_manage(
    client: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    _, developer = await issue_api_key(database, tenant_id, ["developer"])
    response = await client.post(
        "/v1/api-keys", json={"name": "x", "roles": ["viewer"]}, headers=bearer(developer)
    )
    assert response.status_code == 403
    assert (await client.get("/v1/api-keys", headers=bearer(developer))).status_code == 403


async def test_create_key_validation(client: httpx.AsyncClient, database: Database, tenant_id: str) -> None:
    _, admin = await issue_api_key(database, tenant_id, ["admin"])
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    cases = [
        ({"name": "x", "roles": []}, ["body", "roles"]),
        ({"name": "x", "roles": ["root"]}, ["body", "roles", 0]),
        ({"name": "x", "roles": ["viewer"], "expires_at": past}, ["body", "expires_at"]),
        ({"name": "x", "roles": ["viewer"], "expires_at": "2030-01-01T00:00:00"}, ["body", "expires_at"]),
        ({"name": "", "roles": ["viewer"]}, ["body", "name"]),
    ]
    for body, loc in cases:
        response = await client.post("/v1/api-keys", json=body, headers=bearer(admin))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["loc"] == loc, body


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request"),
        ({"Authorization": "Bearer"}, "invalid_request"),
        ({"Authorization": "Bearer ar_nope"}, "invalid_token"),
        ({"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}, "invalid_token"),  # no OIDC here
        ({"X-API-Key": "ar_nope", "Authorization": "Bearer ar_nope"}, "invalid_request"),
    ],
)
async def test_malformed_credentials_are_401(
    client: httpx.AsyncClient, headers: dict[str, str], error: str
) -> None:
    response = await client.get("/v1/agents", headers=headers)
    assert response.status_code == 401, response.text
    assert f'error="{error}"' in response.headers["www-authenticate"]


_HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        _HEADER_TEXT,
        _HEADER_TEXT.map(lambda text: "Bearer " + text),
        _HEADER_TEXT.map(lambda text: "Bearer ar_" + text),
        st.from_regex(r"\ABearer ar_[0-9a-f]{16}_[A-Za-z0-9_\-]{43}\Z"),
        _HEADER_TEXT.map(lambda text: "Bearer eyJ" + text),
    ),
    as_api_key=st.booleans(),
)
async def test_garbage_credentials_are_401_never_500(
    client: httpx.AsyncClient, value: str, as_api_key: bool
) -> None:
    raw = value.encode("latin-1")  # any byte a client can put in a header
    headers = {b"X-API-Key": raw} if as_api_key else {b"Authorization": raw}
    response = await client.get("/v1/runs", headers=headers)
    assert response.status_code == 401, (value, response.text)
    assert response.headers["content-type"] == "application/problem+json"
