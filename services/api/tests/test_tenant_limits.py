"""Per-tenant limits set by the platform's operators: rate limits (real Redis) and the active-run
cap (real Temporal and Postgres), read back by the tenant, refused to customer admins."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings

from .support import assert_problem, build_app, client_for, make_agent, open_client


@pytest.fixture
async def operator(database_url: str) -> AsyncGenerator[httpx.AsyncClient]:
    """An admin of the operators' tenant."""
    app = build_app(database_url, DEFAULT_TENANT_ID, temporal_address="127.0.0.1:1")
    async for client in open_client(app):
        yield client


def limits_url(tenant_id: str) -> str:
    return f"/v1/admin/tenants/{tenant_id}/limits"


async def test_operators_set_a_tenants_limits_and_the_tenant_reads_them(
    operator: httpx.AsyncClient, database_url: str, tenant_id: str
) -> None:
    defaults = Settings()
    untouched = await operator.get(limits_url(tenant_id))
    assert untouched.status_code == 200
    assert untouched.json()["rate_limit_burst"] == {"value": defaults.rate_limit_burst, "source": "default"}
    assert untouched.json()["updated_at"] is None

    put = await operator.put(limits_url(tenant_id), json={"rate_limit_burst": 7, "max_active_runs": 2})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["tenant_id"] == tenant_id and body["updated_by"] == "test"
    assert body["rate_limit_burst"] == {"value": 7, "source": "tenant"}
    assert body["max_active_runs"] == {"value": 2, "source": "tenant"}
    assert body["rate_limit_per_minute"] == {"value": defaults.rate_limit_per_minute, "source": "default"}

    async for api in client_for(database_url, tenant_id):
        own = (await api.get("/v1/limits")).json()
        assert own["rate_limit_burst"] == {"value": 7, "source": "tenant"}
        assert own["max_active_runs"] == {"value": 2, "source": "tenant"}
        assert own["rate_limits_enforced"] is True

    assert (await operator.delete(limits_url(tenant_id))).status_code == 204
    assert (await operator.delete(limits_url(tenant_id))).status_code == 204  # idempotent
    async for api in client_for(database_url, tenant_id):
        own = (await api.get("/v1/limits")).json()
        assert own["rate_limit_burst"] == {"value": defaults.rate_limit_burst, "source": "default"}
        assert own["updated_at"] is None

    # The operators' calls are in their own audit log, with the tenant they changed.
    entries = (await operator.get("/v1/audit-log", params={"limit": 100})).json()["data"]
    changed = [e["action"] for e in entries if e["resource_id"] == tenant_id]
    assert changed == ["tenant_limits.reset", "tenant_limits.reset", "tenant_limits.set"]


async def test_a_tenants_own_burst_limit_is_enforced_and_others_keep_the_default(
    operator: httpx.AsyncClient, database_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    assert (await operator.put(limits_url(tenant_id), json={"rate_limit_burst": 2})).status_code == 200
    async for api in client_for(database_url, tenant_id):
        statuses = [(await api.get("/v1/agents")).status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and 429 in statuses[2:], statuses
        refused = await api.get("/v1/agents")
        assert_problem(refused, 429, "rate_limited")
        assert refused.headers["ratelimit-limit"] == "2"
    async for api in client_for(database_url, other_tenant_id):
        assert [(await api.get("/v1/agents")).status_code for _ in range(4)] == [200] * 4


async def test_a_tenants_own_active_run_cap_is_enforced(
    operator: httpx.AsyncClient, worker_settings: Settings, tenant_id: str
) -> None:
    assert (await operator.put(limits_url(tenant_id), json={"max_active_runs": 1})).status_code == 200
    # The real Temporal server with no worker polling: runs stay queued (active).
    app = create_app(worker_settings.model_copy(update={"max_active_runs_per_tenant": 100}))
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    async for api in open_client(app):
        agent_id = await make_agent(api)
        first = await api.post("/v1/runs", json={"agent_id": agent_id, "input": "1"})
        assert first.status_code == 202, first.text
        second = await api.post("/v1/runs", json={"agent_id": agent_id, "input": "2"})
        body = assert_problem(second, 429, "active_run_limit")
        assert "limit is 1" in body["detail"]


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [("customer", {"admin"}), (DEFAULT_TENANT_ID, {"developer"})],
    ids=["customer-admin", "operators-tenant-developer"],
)
async def test_only_the_operators_admins_manage_limits(
    database_url: str, tenant_id: str, tenant: str, roles: set[str]
) -> None:
    caller_tenant = tenant_id if tenant == "customer" else tenant
    app = build_app(database_url, caller_tenant, temporal_address="127.0.0.1:1")
    app.dependency_overrides[get_principal] = lambda: Principal(
        tenant_id=caller_tenant, subject="someone", roles=frozenset(roles)
    )
    async for api in open_client(app):
        # Not even one's own tenant: a customer must not raise its own limits.
        for method, body in (("GET", None), ("PUT", {"rate_limit_burst": 10**5}), ("DELETE", None)):
            response = await api.request(method, limits_url(tenant_id), json=body)
            problem = assert_problem(response, 403, "forbidden")
            assert "tenants:manage" in problem["detail"]
        assert (await api.get("/v1/limits")).status_code == 200  # reading one's own is fine


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"rate_limit_burst": 0}, ["body", "rate_limit_burst"]),
        ({"rate_limit_per_minute": -1}, ["body", "rate_limit_per_minute"]),
        ({"max_active_runs": 10**7}, ["body", "max_active_runs"]),
        ({"max_active_runs": "many"}, ["body", "max_active_runs"]),
        ({"rate_limit": 5}, ["body", "rate_limit"]),
    ],
)
async def test_invalid_limits_are_422_naming_the_field_and_change_nothing(
    operator: httpx.AsyncClient, tenant_id: str, body: dict[str, Any], loc: list[str]
) -> None:
    assert (await operator.put(limits_url(tenant_id), json={"rate_limit_burst": 5})).status_code == 200
    problem = assert_problem(await operator.put(limits_url(tenant_id), json=body), 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [loc]
    assert (await operator.get(limits_url(tenant_id))).json()["rate_limit_burst"]["value"] == 5


async def test_a_malformed_tenant_id_is_422(operator: httpx.AsyncClient) -> None:
    problem = assert_problem(await operator.get(limits_url("not%20a%20tenant")), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "tenant_id"]
