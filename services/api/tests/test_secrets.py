"""Tool secrets and signing keys over the real app: write-only values, names unique per tenant,
tenants isolated, rotations with an overlap and never two current keys, and a value that never
shows up in a response, a log line or the audit log."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlmodel import select

from agent_runtime_api.deps import get_principal
from agent_runtime_core.auth import Principal, Role
from agent_runtime_core.crypto import EnvelopeCipher, LocalKeyRing, decode_local_key
from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.models import AuditLogEntry, ToolSecret
from agent_runtime_core.repositories import SigningKeyRepository, ToolSecretRepository

from .support import TEST_SECRETS_KEYS, assert_problem, build_app, client_for, open_client

DISTINCTIVE = "zq-DISTINCTIVE-secret-value-7731"
"""A value that must never leave the API once sent."""
SECRET_FIELDS = {"id", "name", "description", "created_at", "updated_at"}


def secrets_cipher() -> EnvelopeCipher:
    """The cipher of the tests' app (the fixed test key)."""
    keys = {key_id: decode_local_key(key) for key_id, key in TEST_SECRETS_KEYS.items()}
    return EnvelopeCipher(LocalKeyRing(keys, "test-1"))


async def stored_values(database: Database, tenant_id: str, *names: str) -> dict[str, str]:
    """What a worker would get for ``names``."""
    async with session_scope(database, tenant_id) as session:
        return await ToolSecretRepository(session, tenant_id, secrets_cipher()).secret_values(names)


ClientFor = Callable[[str, Role], httpx.AsyncClient]


@pytest.fixture
async def as_role(database_url: str, tenant_id: str) -> AsyncGenerator[ClientFor]:
    """Clients of one app; each says its tenant and role in test-only headers."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")

    def principal(request: Request) -> Principal:
        role = request.headers.get("x-test-role", "admin")
        tenant = request.headers.get("x-test-tenant", tenant_id)
        return Principal(tenant_id=tenant, subject=f"{role}-user", roles=frozenset({role}))

    app.dependency_overrides[get_principal] = principal
    clients: list[httpx.AsyncClient] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

        def make(tenant: str, role: Role) -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                transport=transport,
                base_url="http://api.test",
                headers={"x-test-role": role.value, "x-test-tenant": tenant},
            )
            clients.append(client)
            return client

        try:
            yield make
        finally:
            for client in clients:
                await client.aclose()


@pytest.fixture
def api(as_role: ClientFor, tenant_id: str) -> httpx.AsyncClient:
    """A developer of the test's tenant."""
    return as_role(tenant_id, Role.DEVELOPER)


async def create_secret(api: httpx.AsyncClient, name: str, value: str = "v", **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/secrets", json={"name": name, "value": value, **extra})
    assert response.status_code == 201, response.text
    return response.json()


# ---------------------------------------------------------------------------------- secrets


async def test_secret_lifecycle_create_read_replace_delete(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    created = await api.post(
        "/v1/secrets", json={"name": "GITHUB_TOKEN", "value": "ghp_one", "description": "CI bot"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == SECRET_FIELDS
    assert (
        body["id"].startswith("sec_") and body["name"] == "GITHUB_TOKEN" and body["description"] == "CI bot"
    )
    assert created.headers["location"] == "/v1/secrets/GITHUB_TOKEN"

    one = (await api.get("/v1/secrets/GITHUB_TOKEN")).json()
    assert one == body
    listed = (await api.get("/v1/secrets")).json()
    assert listed == {"data": [body], "next_cursor": None}
    assert await stored_values(database, tenant_id, "GITHUB_TOKEN", "MISSING") == {"GITHUB_TOKEN": "ghp_one"}

    replaced = await api.put("/v1/secrets/GITHUB_TOKEN", json={"value": "ghp_two"})
    assert replaced.status_code == 200, replaced.text
    assert set(replaced.json()) == SECRET_FIELDS
    assert replaced.json()["description"] == "CI bot"  # not given: unchanged
    assert replaced.json()["updated_at"] > body["updated_at"]
    assert await stored_values(database, tenant_id, "GITHUB_TOKEN") == {"GITHUB_TOKEN": "ghp_two"}
    described = await api.put("/v1/secrets/GITHUB_TOKEN", json={"value": "ghp_two", "description": ""})
    assert described.json()["description"] == ""

    assert (await api.delete("/v1/secrets/GITHUB_TOKEN")).status_code == 204
    assert_problem(await api.get("/v1/secrets/GITHUB_TOKEN"), 404, "secret_not_found")
    assert_problem(await api.delete("/v1/secrets/GITHUB_TOKEN"), 404, "secret_not_found")
    assert_problem(await api.put("/v1/secrets/GITHUB_TOKEN", json={"value": "x"}), 404, "secret_not_found")
    assert (await api.get("/v1/secrets")).json()["data"] == []
    assert await stored_values(database, tenant_id, "GITHUB_TOKEN") == {}

    # The name is free again once deleted.
    again = await create_secret(api, "GITHUB_TOKEN", "ghp_three")
    assert again["id"] != body["id"]
    assert await stored_values(database, tenant_id, "GITHUB_TOKEN") == {"GITHUB_TOKEN": "ghp_three"}


async def test_a_live_name_is_taken_409(api: httpx.AsyncClient) -> None:
    await create_secret(api, "API_KEY")
    duplicate = await api.post("/v1/secrets", json={"name": "API_KEY", "value": "other"})
    problem = assert_problem(duplicate, 409, "secret_name_taken")
    assert "PUT /v1/secrets/API_KEY" in problem["detail"]


async def test_concurrent_creates_of_one_name_make_one_secret(api: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(api.post("/v1/secrets", json={"name": "RACE", "value": f"v{i}"}) for i in range(3))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409], [r.text for r in responses]


async def test_secrets_list_is_paged_newest_first(api: httpx.AsyncClient) -> None:
    for index in range(5):
        await create_secret(api, f"S{index}")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/secrets", params=params)).json()
        seen += [s["name"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["S4", "S3", "S2", "S1", "S0"]
    assert_problem(await api.get("/v1/secrets", params={"cursor": "bogus"}), 422, "invalid_cursor")


async def test_another_tenants_secret_is_404_and_never_listed(
    as_role: ClientFor, tenant_id: str, other_tenant_id: str, database: Database
) -> None:
    mine = as_role(tenant_id, Role.DEVELOPER)
    theirs = as_role(other_tenant_id, Role.DEVELOPER)
    await create_secret(theirs, "SHARED_NAME", "theirs")
    assert_problem(await mine.get("/v1/secrets/SHARED_NAME"), 404, "secret_not_found")
    assert_problem(await mine.put("/v1/secrets/SHARED_NAME", json={"value": "x"}), 404, "secret_not_found")
    assert_problem(await mine.delete("/v1/secrets/SHARED_NAME"), 404, "secret_not_found")
    assert (await mine.get("/v1/secrets")).json()["data"] == []
    # Names are per tenant: the same name is free here.
    await create_secret(mine, "SHARED_NAME", "mine")
    assert await stored_values(database, tenant_id, "SHARED_NAME") == {"SHARED_NAME": "mine"}
    assert await stored_values(database, other_tenant_id, "SHARED_NAME") == {"SHARED_NAME": "theirs"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "1STARTS_WITH_DIGIT", "value": "v"}, ["body", "name"]),
        ({"name": "has-dash", "value": "v"}, ["body", "name"]),
        ({"name": "A" * 65, "value": "v"}, ["body", "name"]),
        ({"name": "EMPTY", "value": ""}, ["body", "value"]),
        ({"name": "LONG", "value": "x" * 16385}, ["body", "value"]),
        ({"name": "NUL", "value": "a\u0000b"}, ["body", "value"]),
        ({"name": "NUMBER", "value": 42}, ["body", "value"]),
        ({"name": "EXTRA", "value": "v", "shown": True}, ["body", "shown"]),
    ],
)
async def test_invalid_secrets_are_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    problem = assert_problem(await api.post("/v1/secrets", json=body), 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc


async def test_longest_allowed_value_is_stored(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    await create_secret(api, "BIG", "é" * 16384)
    assert await stored_values(database, tenant_id, "BIG") == {"BIG": "é" * 16384}


async def test_invalid_name_in_the_path_is_422(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/secrets/bad-name"), 422, "validation_error")
    assert_problem(await api.delete("/v1/secrets/" + "A" * 65), 422, "validation_error")


async def test_without_a_configured_key_secrets_are_refused_with_503(
    database_url: str, tenant_id: str
) -> None:
    async for client in client_for(database_url, tenant_id, secrets_keys={}, secrets_active_key_id=None):
        refused = await client.post("/v1/secrets", json={"name": "TOKEN", "value": "v"})
        problem = assert_problem(refused, 503, "secrets_not_configured")
        assert "AGENT_RUNTIME_SECRETS_KEYS" in problem["detail"]
        assert_problem(await client.post("/v1/tools/signing-keys", json={}), 503, "secrets_not_configured")
        # Metadata needs no key.
        assert (await client.get("/v1/secrets")).status_code == 200
        assert (await client.get("/v1/tools/signing-keys")).status_code == 200


async def test_the_value_never_appears_in_responses_logs_audit_or_the_database(
    as_role: ClientFor, database: Database, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    api = as_role(tenant_id, Role.ADMIN)  # admins also read the audit log
    caplog.set_level(logging.DEBUG)
    responses = [
        await api.post("/v1/secrets", json={"name": "LEAK_TEST", "value": DISTINCTIVE, "description": "d"}),
        await api.post("/v1/secrets", json={"name": "LEAK_TEST", "value": DISTINCTIVE}),  # 409
        await api.post("/v1/secrets", json={"name": "bad name", "value": DISTINCTIVE}),  # 422 name
        await api.post("/v1/secrets", json={"name": "LONG", "value": DISTINCTIVE * 1000}),  # 422 length
        await api.post("/v1/secrets", json={"name": "NUL", "value": DISTINCTIVE + "\u0000"}),  # 422 NUL
        await api.post("/v1/secrets", json={"name": "EXTRA", "value": DISTINCTIVE, "echo": DISTINCTIVE[:3]}),
        await api.post("/v1/secrets", json={"name": "TYPE", "value": [DISTINCTIVE]}),  # 422 type
        await api.get("/v1/secrets"),
        await api.get("/v1/secrets/LEAK_TEST"),
        await api.put("/v1/secrets/LEAK_TEST", json={"value": DISTINCTIVE + "-2"}),
        await api.put("/v1/secrets/MISSING", json={"value": DISTINCTIVE}),  # 404
        await api.put("/v1/secrets/LEAK_TEST", json={"value": DISTINCTIVE, "bogus": 1}),  # 422
        await api.post("/v1/tools/signing-keys", json={"overlap_s": 60}),
        await api.get("/v1/tools/signing-keys"),
        await api.get("/v1/audit-log"),
        await api.delete("/v1/secrets/LEAK_TEST"),
    ]
    assert [r.status_code for r in responses] == [
        201, 409, 422, 422, 422, 422, 422, 200, 200, 200, 404, 422, 201, 200, 200, 204
    ]  # fmt: skip
    for response in responses:
        assert DISTINCTIVE not in response.text, response.text
        assert DISTINCTIVE not in str(response.headers)
    assert caplog.records, "expected the requests to log something"
    assert DISTINCTIVE not in caplog.text
    for record in caplog.records:
        assert DISTINCTIVE not in record.getMessage()

    async with system_session_scope(database) as session:
        entries = (
            await session.exec(select(AuditLogEntry).where(AuditLogEntry.tenant_id == tenant_id))
        ).all()
        rows = (await session.exec(select(ToolSecret).where(ToolSecret.tenant_id == tenant_id))).all()
    actions = {entry.action for entry in entries}
    assert {"secrets.create", "secrets.update", "secrets.delete", "signing_keys.rotate"} <= actions
    for entry in entries:
        assert DISTINCTIVE not in entry.model_dump_json()
    create = next(e for e in entries if e.action == "secrets.create" and e.status_code == 201)
    assert create.resource_type == "secret" and create.resource_id == "LEAK_TEST"
    assert rows and all(DISTINCTIVE.encode() not in row.ciphertext for row in rows)


# ----------------------------------------------------------------------------- signing keys


async def signing_material(database: Database, tenant_id: str, now: datetime) -> list[tuple[str, bytes]]:
    async with session_scope(database, tenant_id) as session:
        keys = await SigningKeyRepository(session, tenant_id, secrets_cipher()).signing_keys(now)
    return [(key.key_id, key.secret) for key in keys]


def decode_secret(secret: str) -> bytes:
    """The HMAC key a receiver uses: the shown text's bytes (32 random bytes, base64url)."""
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    return secret.encode()


async def test_rotation_makes_a_new_current_key_and_keeps_the_previous_for_the_overlap(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    assert await signing_material(database, tenant_id, datetime.now(UTC)) == []

    first = await api.post("/v1/tools/signing-keys")  # no body: the default overlap
    assert first.status_code == 201, first.text
    first_body = first.json()
    assert set(first_body) == {"id", "secret", "created_at", "previous_key_expires_at"}
    assert first_body["id"].startswith("sig_") and first_body["previous_key_expires_at"] is None
    assert first.headers["cache-control"] == "no-store"
    first_secret = decode_secret(first_body["secret"])
    assert len(first_secret) == 43

    before = datetime.now(UTC)
    second = (await api.post("/v1/tools/signing-keys", json={"overlap_s": 3600})).json()
    expires = datetime.fromisoformat(second["previous_key_expires_at"])
    assert before + timedelta(seconds=3590) < expires < datetime.now(UTC) + timedelta(seconds=3610)
    second_secret = decode_secret(second["secret"])
    assert second_secret != first_secret

    listed = (await api.get("/v1/tools/signing-keys")).json()["data"]
    assert [(k["id"], k["current"]) for k in listed] == [(second["id"], True), (first_body["id"], False)]
    assert listed[0]["expires_at"] is None and listed[1]["expires_at"] == second["previous_key_expires_at"]
    for key in listed:
        assert set(key) == {"id", "created_at", "expires_at", "current"}

    # The worker signs with the current key first, then the previous one until it expires.
    now = datetime.now(UTC)
    assert await signing_material(database, tenant_id, now) == [
        (second["id"], second_secret),
        (first_body["id"], first_secret),
    ]
    assert await signing_material(database, tenant_id, expires + timedelta(seconds=1)) == [
        (second["id"], second_secret)
    ]

    # Overlap 0: the previous key stops at once.
    third = (await api.post("/v1/tools/signing-keys", json={"overlap_s": 0})).json()
    current = await signing_material(database, tenant_id, datetime.now(UTC))
    assert [key_id for key_id, _ in current] == [third["id"], first_body["id"]]


@pytest.mark.parametrize("overlap_s", [-1, 7 * 24 * 3600 + 1, "soon", None])
async def test_overlap_outside_0_to_7_days_is_422(api: httpx.AsyncClient, overlap_s: object) -> None:
    response = await api.post("/v1/tools/signing-keys", json={"overlap_s": overlap_s})
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "overlap_s"]


async def test_concurrent_rotations_leave_exactly_one_current_key(api: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(api.post("/v1/tools/signing-keys", json={}) for _ in range(4)))
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    keys = (await api.get("/v1/tools/signing-keys")).json()["data"]
    assert len(keys) == 4
    assert sum(key["current"] for key in keys) == 1
    # Each rotation retired exactly the key current before it: one first key, a chain after.
    previous = [r.json()["previous_key_expires_at"] for r in responses]
    assert previous.count(None) == 1


async def test_signing_keys_are_per_tenant(as_role: ClientFor, tenant_id: str, other_tenant_id: str) -> None:
    mine = await as_role(tenant_id, Role.ADMIN).post("/v1/tools/signing-keys", json={})
    theirs_client = as_role(other_tenant_id, Role.ADMIN)
    assert (await theirs_client.get("/v1/tools/signing-keys")).json()["data"] == []
    theirs = (await theirs_client.post("/v1/tools/signing-keys", json={})).json()
    # Their first key does not retire mine.
    assert theirs["previous_key_expires_at"] is None
    listed = (await as_role(tenant_id, Role.ADMIN).get("/v1/tools/signing-keys")).json()["data"]
    assert [k["id"] for k in listed] == [mine.json()["id"]] and listed[0]["current"]


# ---------------------------------------------------------------------------------- access


async def test_viewers_read_secret_metadata_but_cannot_write_or_touch_signing_keys(
    as_role: ClientFor, tenant_id: str
) -> None:
    developer = as_role(tenant_id, Role.DEVELOPER)
    viewer = as_role(tenant_id, Role.VIEWER)
    await create_secret(developer, "READ_ME")
    assert (await viewer.get("/v1/secrets")).json()["data"][0]["name"] == "READ_ME"
    assert (await viewer.get("/v1/secrets/READ_ME")).status_code == 200
    refused = [
        await viewer.post("/v1/secrets", json={"name": "NOPE", "value": "v"}),
        await viewer.put("/v1/secrets/READ_ME", json={"value": "v"}),
        await viewer.delete("/v1/secrets/READ_ME"),
        await viewer.get("/v1/tools/signing-keys"),
        await viewer.post("/v1/tools/signing-keys", json={}),
        # Authorization before validation: no hints about the body.
        await viewer.post("/v1/secrets", json={"bogus": 1}),
    ]
    for response in refused:
        problem = assert_problem(response, 403, "forbidden")
        assert "secrets:manage" in problem["detail"]
    assert (await developer.get("/v1/secrets/READ_ME")).status_code == 200


async def test_openapi_documents_the_value_as_write_only(database_url: str, tenant_id: str) -> None:
    spec: dict[str, Any] = {}
    async for client in open_client(build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")):
        spec = (await client.get("/openapi.json")).json()
    value = spec["components"]["schemas"]["SecretCreate"]["properties"]["value"]
    assert value["writeOnly"] is True and value["maxLength"] == 16384 and value["description"]
    public = spec["components"]["schemas"]["SecretPublic"]["properties"]
    assert "value" not in public
    for path in ("/v1/secrets", "/v1/secrets/{name}", "/v1/tools/signing-keys"):
        for operation in spec["paths"][path].values():
            assert operation["description"] and operation["summary"], path
