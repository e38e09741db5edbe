"""Which role may call which endpoint: the role → endpoint matrix of the whole /v1 API."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
import pytest
from fastapi import Request

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import ROLE_PERMISSIONS, Permission, Principal, Role
from agent_runtime_core.settings import Settings

from .support import build_app

# (method, route path, concrete path, body): every /v1 endpoint and the permission it needs.
# The ids do not exist: an allowed call gets past authorization and then a 404 (or 422).
ENDPOINTS: list[tuple[str, str, str, Permission, object]] = [
    ("GET", "/v1/agents", "/v1/agents", Permission.AGENTS_READ, None),
    ("POST", "/v1/agents", "/v1/agents", Permission.AGENTS_WRITE, {"name": "matrix"}),
    ("GET", "/v1/agents/{agent_id}", "/v1/agents/agt_x", Permission.AGENTS_READ, None),
    ("PATCH", "/v1/agents/{agent_id}", "/v1/agents/agt_x", Permission.AGENTS_WRITE, {}),
    ("DELETE", "/v1/agents/{agent_id}", "/v1/agents/agt_x", Permission.AGENTS_WRITE, None),
    ("GET", "/v1/agents/{agent_id}/status", "/v1/agents/agt_x/status", Permission.AGENTS_READ, None),
    (
        "POST",
        "/v1/agents/{agent_id}/versions",
        "/v1/agents/agt_x/versions",
        Permission.AGENTS_WRITE,
        {"model": "builtin:scripted"},
    ),
    ("GET", "/v1/agents/{agent_id}/versions", "/v1/agents/agt_x/versions", Permission.AGENTS_READ, None),
    (
        "GET",
        "/v1/agents/{agent_id}/versions/{version}",
        "/v1/agents/agt_x/versions/1",
        Permission.AGENTS_READ,
        None,
    ),
    ("GET", "/v1/tools", "/v1/tools", Permission.TOOLS_READ, None),
    ("GET", "/v1/tools/catalog", "/v1/tools/catalog", Permission.TOOLS_READ, None),
    (
        "POST",
        "/v1/tools",
        "/v1/tools",
        Permission.TOOLS_WRITE,
        {
            "name": "rbac_tool",
            "description": "d",
            "parameters": {"type": "object"},
            "http": {"url": "https://x.example.com"},
        },
    ),
    ("GET", "/v1/tools/{tool_id}", "/v1/tools/tool_x", Permission.TOOLS_READ, None),
    (
        "PUT",
        "/v1/tools/{tool_id}",
        "/v1/tools/tool_x",
        Permission.TOOLS_WRITE,
        {
            "name": "rbac_tool",
            "description": "d",
            "parameters": {"type": "object"},
            "http": {"url": "https://x.example.com"},
        },
    ),
    ("DELETE", "/v1/tools/{tool_id}", "/v1/tools/tool_x", Permission.TOOLS_WRITE, None),
    ("GET", "/v1/tools/{tool_id}/revisions", "/v1/tools/tool_x/revisions", Permission.TOOLS_READ, None),
    (
        "GET",
        "/v1/tools/{tool_id}/revisions/{revision}",
        "/v1/tools/tool_x/revisions/1",
        Permission.TOOLS_READ,
        None,
    ),
    ("POST", "/v1/runs", "/v1/runs", Permission.RUNS_CREATE, {"agent_id": "agt_x", "input": "hi"}),
    ("GET", "/v1/runs", "/v1/runs", Permission.RUNS_READ, None),
    ("POST", "/v1/threads", "/v1/threads", Permission.RUNS_CREATE, {}),
    ("GET", "/v1/threads", "/v1/threads", Permission.RUNS_READ, None),
    ("GET", "/v1/threads/{thread_id}", "/v1/threads/thr_x", Permission.RUNS_READ, None),
    ("PATCH", "/v1/threads/{thread_id}", "/v1/threads/thr_x", Permission.RUNS_CREATE, {"metadata": {}}),
    ("DELETE", "/v1/threads/{thread_id}", "/v1/threads/thr_x", Permission.RUNS_CREATE, None),
    ("POST", "/v1/threads/{thread_id}/copy", "/v1/threads/thr_x/copy", Permission.RUNS_CREATE, None),
    ("GET", "/v1/threads/{thread_id}/messages", "/v1/threads/thr_x/messages", Permission.RUNS_READ, None),
    ("GET", "/v1/runs/{run_id}", "/v1/runs/run_x", Permission.RUNS_READ, None),
    ("POST", "/v1/runs/{run_id}/cancel", "/v1/runs/run_x/cancel", Permission.RUNS_CANCEL, None),
    ("GET", "/v1/runs/{run_id}/events", "/v1/runs/run_x/events", Permission.RUNS_READ, None),
    ("GET", "/v1/runs/{run_id}/stream", "/v1/runs/run_x/stream", Permission.RUNS_READ, None),
    ("GET", "/v1/events/stream", "/v1/events/stream?run_id=run_x", Permission.RUNS_READ, None),
    ("GET", "/v1/runs/{run_id}/approvals", "/v1/runs/run_x/approvals", Permission.RUNS_READ, None),
    (
        "GET",
        "/v1/runs/{run_id}/approvals/{approval_id}",
        "/v1/runs/run_x/approvals/apr_x",
        Permission.RUNS_READ,
        None,
    ),
    (
        "POST",
        "/v1/runs/{run_id}/approvals/{approval_id}",
        "/v1/runs/run_x/approvals/apr_x",
        Permission.APPROVALS_DECIDE,
        {"decision": "approve"},
    ),
    ("GET", "/v1/runs/{run_id}/input", "/v1/runs/run_x/input", Permission.RUNS_READ, None),
    ("POST", "/v1/runs/{run_id}/input", "/v1/runs/run_x/input", Permission.APPROVALS_DECIDE, {"answer": "x"}),
    ("GET", "/v1/approvals", "/v1/approvals?status=pending", Permission.RUNS_READ, None),
    ("GET", "/v1/questions", "/v1/questions?status=pending", Permission.RUNS_READ, None),
    ("POST", "/v1/api-keys", "/v1/api-keys", Permission.API_KEYS_MANAGE, {"name": "k", "roles": ["viewer"]}),
    ("GET", "/v1/api-keys", "/v1/api-keys", Permission.API_KEYS_MANAGE, None),
    ("GET", "/v1/api-keys/{key_id}", "/v1/api-keys/key_x", Permission.API_KEYS_MANAGE, None),
    ("DELETE", "/v1/api-keys/{key_id}", "/v1/api-keys/key_x", Permission.API_KEYS_MANAGE, None),
    ("POST", "/v1/secrets", "/v1/secrets", Permission.SECRETS_MANAGE, {"name": "RBAC", "value": "v"}),
    ("GET", "/v1/secrets", "/v1/secrets", Permission.TOOLS_READ, None),
    ("GET", "/v1/secrets/{name}", "/v1/secrets/MISSING", Permission.TOOLS_READ, None),
    ("PUT", "/v1/secrets/{name}", "/v1/secrets/MISSING", Permission.SECRETS_MANAGE, {"value": "v"}),
    ("DELETE", "/v1/secrets/{name}", "/v1/secrets/MISSING", Permission.SECRETS_MANAGE, None),
    ("GET", "/v1/tools/signing-keys", "/v1/tools/signing-keys", Permission.SECRETS_MANAGE, None),
    ("POST", "/v1/tools/signing-keys", "/v1/tools/signing-keys", Permission.SECRETS_MANAGE, {"overlap_s": 0}),
    (
        "PUT",
        "/v1/store/items",
        "/v1/store/items",
        Permission.STORE_WRITE,
        {"namespace": ["rbac"], "key": "k", "value": {}},
    ),
    ("GET", "/v1/store/items", "/v1/store/items?namespace=rbac&key=missing", Permission.STORE_READ, None),
    ("DELETE", "/v1/store/items", "/v1/store/items?namespace=rbac&key=missing", Permission.STORE_WRITE, None),
    ("POST", "/v1/store/items/search", "/v1/store/items/search", Permission.STORE_READ, {}),
    ("POST", "/v1/store/namespaces", "/v1/store/namespaces", Permission.STORE_READ, {}),
    ("POST", "/v1/artifacts", "/v1/artifacts", Permission.ARTIFACTS_WRITE, {}),
    (
        "POST",
        "/v1/artifacts/uploads",
        "/v1/artifacts/uploads",
        Permission.ARTIFACTS_WRITE,
        {"name": "a.txt", "content_type": "text/plain", "size": 1},
    ),
    ("GET", "/v1/artifacts", "/v1/artifacts", Permission.ARTIFACTS_READ, None),
    ("GET", "/v1/artifacts/{artifact_id}", "/v1/artifacts/art_x", Permission.ARTIFACTS_READ, None),
    (
        "GET",
        "/v1/artifacts/{artifact_id}/content",
        "/v1/artifacts/art_x/content",
        Permission.ARTIFACTS_READ,
        None,
    ),
    (
        "GET",
        "/v1/artifacts/{artifact_id}/download-url",
        "/v1/artifacts/art_x/download-url",
        Permission.ARTIFACTS_READ,
        None,
    ),
    (
        "POST",
        "/v1/artifacts/{artifact_id}/complete",
        "/v1/artifacts/art_x/complete",
        Permission.ARTIFACTS_WRITE,
        None,
    ),
    ("DELETE", "/v1/artifacts/{artifact_id}", "/v1/artifacts/art_x", Permission.ARTIFACTS_WRITE, None),
    ("GET", "/v1/audit-log", "/v1/audit-log", Permission.AUDIT_READ, None),
    ("GET", "/v1/usage", "/v1/usage", Permission.USAGE_READ, None),
    ("GET", "/v1/budgets", "/v1/budgets", Permission.BUDGETS_MANAGE, None),
    ("PUT", "/v1/budgets", "/v1/budgets", Permission.BUDGETS_MANAGE, {"daily_tokens": 10**9}),
    ("GET", "/v1/model-prices", "/v1/model-prices", Permission.BUDGETS_MANAGE, None),
    (
        "PUT",
        "/v1/model-prices/{provider}/{model}",
        "/v1/model-prices/openai-compatible/rbac-model",
        Permission.BUDGETS_MANAGE,
        {"input_usd_per_mtok": "1", "output_usd_per_mtok": "2"},
    ),
    (
        "DELETE",
        "/v1/model-prices/{provider}/{model}",
        "/v1/model-prices/openai-compatible/rbac-model-none",
        Permission.BUDGETS_MANAGE,
        None,
    ),
    ("GET", "/v1/admin/providers", "/v1/admin/providers", Permission.PROVIDERS_MANAGE, None),
    (
        "POST",
        "/v1/admin/providers/{endpoint_id}/reset",
        "/v1/admin/providers/openai-000000000000/reset",
        Permission.PROVIDERS_MANAGE,
        None,
    ),
    ("GET", "/v1/limits", "/v1/limits", Permission.USAGE_READ, None),
    (
        "GET",
        "/v1/admin/tenants/{tenant_id}/limits",
        "/v1/admin/tenants/ten_rbac/limits",
        Permission.TENANTS_MANAGE,
        None,
    ),
    (
        "PUT",
        "/v1/admin/tenants/{tenant_id}/limits",
        "/v1/admin/tenants/ten_rbac/limits",
        Permission.TENANTS_MANAGE,
        {"rate_limit_burst": 10},
    ),
    (
        "DELETE",
        "/v1/admin/tenants/{tenant_id}/limits",
        "/v1/admin/tenants/ten_rbac/limits",
        Permission.TENANTS_MANAGE,
        None,
    ),
    ("GET", "/v1/retention", "/v1/retention", Permission.USAGE_READ, None),
    (
        "GET",
        "/v1/admin/tenants/{tenant_id}/retention",
        "/v1/admin/tenants/ten_rbac/retention",
        Permission.TENANTS_MANAGE,
        None,
    ),
    (
        "PUT",
        "/v1/admin/tenants/{tenant_id}/retention",
        "/v1/admin/tenants/ten_rbac/retention",
        Permission.TENANTS_MANAGE,
        {"runs_days": 30},
    ),
    (
        "DELETE",
        "/v1/admin/tenants/{tenant_id}/retention",
        "/v1/admin/tenants/ten_rbac/retention",
        Permission.TENANTS_MANAGE,
        None,
    ),
]


OPERATOR_TENANT_ONLY = {Permission.PROVIDERS_MANAGE, Permission.TENANTS_MANAGE}
"""Permissions that count only in the operators' tenant (``ten_default``); ``clients`` is a
customer tenant's (see ``test_circuit_breakers`` and ``test_tenant_limits`` for the operators'
side)."""


def test_matrix_covers_every_v1_endpoint() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert routes == {(method, path) for method, path, *_ in ENDPOINTS}


@pytest.fixture
async def clients(database_url: str, tenant_id: str) -> AsyncGenerator[dict[Role, httpx.AsyncClient]]:
    """One client per role, all of one tenant; the role travels in a test-only header.
    Temporal is unreachable: no call here needs it to pass authorization. Rate limits are off:
    one role's sweep of every endpoint is more than a tenant's default burst."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", rate_limit_enabled=False)

    def principal(request: Request) -> Principal:
        role = request.headers["x-test-role"]
        return Principal(tenant_id=tenant_id, subject=f"{role}-user", roles=frozenset({role}))

    app.dependency_overrides[get_principal] = principal
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        result = {
            role: httpx.AsyncClient(
                transport=transport, base_url="http://api.test", headers={"x-test-role": role.value}
            )
            for role in Role
        }
        try:
            yield result
        finally:
            for client in result.values():
                await client.aclose()


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_reaches_exactly_the_endpoints_its_permissions_allow(
    clients: dict[Role, httpx.AsyncClient], role: Role
) -> None:
    client = clients[role]
    for method, _, path, permission, body in ENDPOINTS:
        response = await client.request(method, path, json=body)
        # Provider endpoints are the platform's: no role of a customer tenant reaches them.
        allowed = permission in ROLE_PERMISSIONS[role] and permission not in OPERATOR_TENANT_ONLY
        if allowed:
            assert response.status_code not in {401, 403}, (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.text)
            problem = response.json()
            assert problem["code"] == "forbidden" and permission.value in problem["detail"]


async def test_viewer_reads_but_cannot_create_an_agent(clients: dict[Role, httpx.AsyncClient]) -> None:
    assert (await clients[Role.DEVELOPER].post("/v1/agents", json={"name": "a"})).status_code == 201
    assert (await clients[Role.VIEWER].get("/v1/agents")).json()["data"][0]["name"] == "a"
    assert (await clients[Role.VIEWER].post("/v1/agents", json={"name": "b"})).status_code == 403
    # Authorization comes before validation: no hints about the body to those who may not call.
    assert (await clients[Role.VIEWER].post("/v1/agents", json={"bogus": 1})).status_code == 403
    assert (await clients[Role.DEVELOPER].post("/v1/agents", json={"bogus": 1})).status_code == 422


async def test_operator_starts_runs_but_cannot_create_agents(clients: dict[Role, httpx.AsyncClient]) -> None:
    created = await clients[Role.DEVELOPER].post(
        "/v1/agents", json={"name": "ops", "version": {"model": "builtin:scripted"}}
    )
    agent_id = created.json()["id"]
    assert (await clients[Role.OPERATOR].post("/v1/agents", json={"name": "mine"})).status_code == 403
    run = await clients[Role.OPERATOR].post(
        "/v1/runs", json={"agent_id": agent_id, "input": "hi"}, headers={"Idempotency-Key": "rbac-1"}
    )
    # Authorized: the run is written; only starting it fails here (Temporal is unreachable).
    assert run.status_code == 503, run.text
    runs = (await clients[Role.VIEWER].get("/v1/runs")).json()["data"]
    assert [r["agent_id"] for r in runs] == [agent_id]
    assert (
        await clients[Role.VIEWER].post("/v1/runs", json={"agent_id": agent_id, "input": "x"})
    ).status_code == 403
