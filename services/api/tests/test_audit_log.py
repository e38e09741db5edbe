"""The audit log: every mutating call (refused ones too) and every approval decision, read back
through ``GET /v1/audit-log``; entries cannot be changed."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_runtime_api.audit import READ_ONLY_POSTS, ROUTE_ACTIONS, derived_action
from agent_runtime_api.deps import get_principal
from agent_runtime_core.auth import Principal
from agent_runtime_core.repositories import AuditLogRepository
from agent_runtime_core.settings import Settings

from .support import (
    TERMINAL_STATUSES,
    VERSION,
    assert_problem,
    build_app,
    make_agent,
    open_client,
    pending_approvals,
    start_run,
    wait_for_status,
)


def as_principal(app: FastAPI, tenant_id: str, subject: str, *roles: str) -> None:
    principal = Principal(tenant_id=tenant_id, subject=subject, roles=frozenset(roles or {"admin"}))
    app.dependency_overrides[get_principal] = lambda: principal


@pytest.fixture
async def app(database_url: str, tenant_id: str) -> FastAPI:
    return build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")


@pytest.fixture
async def client(app: FastAPI) -> AsyncGenerator[httpx.AsyncClient]:
    async for c in open_client(app):
        yield c


async def audit_log(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit-log", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_mutating_calls_are_recorded_with_action_outcome_resource_and_request_id(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/agents", json={"name": "audited", "version": VERSION}, headers={"X-Request-ID": "req-create-1"}
    )
    assert created.status_code == 201
    agent_id = created.json()["id"]
    assert (await client.patch(f"/v1/agents/{agent_id}", json={"description": "d"})).status_code == 200
    assert (await client.post(f"/v1/agents/{agent_id}/versions", json=VERSION)).status_code == 201
    assert_problem(await client.post("/v1/agents", json={"name": "audited"}), 409, "agent_name_taken")
    assert_problem(await client.post("/v1/agents", json={"name": ""}), 422, "validation_error")
    assert_problem(
        await client.patch("/v1/agents/agt_nope", json={"description": "x"}), 404, "agent_not_found"
    )
    assert (await client.delete(f"/v1/agents/{agent_id}")).status_code == 204
    await client.get(f"/v1/agents/{agent_id}")  # reads are not audited

    entries = list(reversed(await audit_log(client, limit=100)))
    summary = [(e["action"], e["status_code"], e["outcome"], e["resource_id"]) for e in entries]
    assert summary == [
        ("agents.create", 201, "success", agent_id),
        ("agents.update", 200, "success", agent_id),
        ("agents.versions.create", 201, "success", agent_id),
        ("agents.create", 409, "failed", None),
        ("agents.create", 422, "failed", None),
        ("agents.update", 404, "denied", "agt_nope"),
        ("agents.delete", 204, "success", agent_id),
    ]
    first = entries[0]
    assert first["request_id"] == "req-create-1"
    assert first["actor"] == "test"
    assert first["auth_method"] == "test"
    assert first["method"] == "POST" and first["path"] == "/v1/agents"
    assert first["details"] == {"location": f"/v1/agents/{agent_id}"}
    assert entries[2]["details"] == {"location": f"/v1/agents/{agent_id}/versions/2"}
    assert all(e["id"].startswith("aud_") for e in entries)


async def test_reading_the_log_needs_audit_read_and_refused_calls_are_recorded_as_denied(
    app: FastAPI, client: httpx.AsyncClient, tenant_id: str
) -> None:
    as_principal(app, tenant_id, "dev-1", "developer")
    assert_problem(await client.get("/v1/audit-log"), 403, "forbidden")
    assert_problem(await client.post("/v1/runs/run_nope/cancel"), 404, "run_not_found")
    as_principal(app, tenant_id, "admin-1", "admin")
    [entry] = await audit_log(client, actor="dev-1")  # reads (even refused ones) are not audited
    assert entry["action"] == "runs.cancel"
    assert entry["resource_type"] == "run" and entry["resource_id"] == "run_nope"
    assert (entry["status_code"], entry["outcome"]) == (404, "denied")


async def test_filters_and_cursor_pagination(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for index in range(5):
        response = await client.post("/v1/agents", json={"name": f"a{index}"})
        ids.append(response.json()["id"])
    await client.patch(f"/v1/agents/{ids[0]}", json={"description": "x"})

    assert [e["resource_id"] for e in await audit_log(client, action="agents.update")] == [ids[0]]
    assert len(await audit_log(client, resource_id=ids[0])) == 2
    assert len(await audit_log(client, actor="test")) == 6
    assert await audit_log(client, actor="someone-else") == []
    assert len(await audit_log(client, since=before.isoformat())) == 6
    assert await audit_log(client, until=before.isoformat()) == []
    # One convention for every datetime the API takes (docs/decisions.md): no offset means UTC.
    naive_before = before.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert len(await audit_log(client, since=naive_before)) == 6

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/audit-log", params=params)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)


async def test_the_audit_log_cannot_be_changed_through_the_api_and_is_per_tenant(
    app: FastAPI, client: httpx.AsyncClient, tenant_id: str, other_tenant_id: str
) -> None:
    await client.post("/v1/agents", json={"name": "mine"})
    for method in ("PUT", "PATCH", "DELETE"):
        assert_problem(await client.request(method, "/v1/audit-log"), 405, "method_not_allowed")
    as_principal(app, other_tenant_id, "other-admin")
    assert await audit_log(client) == []


async def test_an_audit_write_failure_is_logged_and_does_not_fail_the_call(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(self: AuditLogRepository, entry: object) -> None:
        raise RuntimeError("audit storage is down")

    monkeypatch.setattr(AuditLogRepository, "add", broken)
    with caplog.at_level(logging.ERROR, logger="agent_runtime_api.audit"):
        response = await client.post("/v1/agents", json={"name": "still-created"})
    assert response.status_code == 201
    assert "AUDIT WRITE FAILED" in caplog.text
    assert "audit storage is down" in caplog.text


def test_every_mutating_route_has_a_stable_action_name(app: FastAPI) -> None:
    mutating = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"} and path.startswith("/v1/")
    }
    # Temporal's codec protocol is served under /v1 but is no part of the OpenAPI document.
    codec = {("POST", "/v1/temporal/codec/decode"), ("POST", "/v1/temporal/codec/encode")}
    assert mutating | codec == set(ROUTE_ACTIONS) | READ_ONLY_POSTS
    assert derived_action("POST", "/v1/api-keys/{key_id}/revoke").action == "api_keys.revoke"
    assert derived_action("DELETE", "/v1/api-keys/{key_id}").resource_type == "api_key"


async def test_approval_decisions_and_answers_are_recorded(
    runtime_api: httpx.AsyncClient, worker_settings: Settings
) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "What is 6 * 7?")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    decided = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"}
    )
    assert decided.status_code == 200
    again = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "reject"}
    )
    assert again.status_code == 409
    await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)

    entries = list(reversed(await audit_log(runtime_api, action="approvals.decide")))
    assert [(e["resource_id"], e["outcome"], e["details"]) for e in entries] == [
        (approval["id"], "success", {"run_id": run_id, "decision": "approve"}),
        (approval["id"], "failed", {"run_id": run_id, "decision": "reject"}),
    ]
    [created] = await audit_log(runtime_api, action="runs.create")
    assert created["resource_id"] == run_id
