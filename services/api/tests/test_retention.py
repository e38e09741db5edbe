"""Retention periods: the operators set a tenant's, the tenant reads what applies to it (and
from where), customers cannot change theirs, and invalid periods are 422 naming the field."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from agent_runtime_api.deps import get_principal
from agent_runtime_core.auth import Principal
from agent_runtime_core.settings import DEFAULT_TENANT_ID

from .support import assert_problem, build_app, client_for, open_client

DEFAULTS = {"retention_threads_days": 30, "retention_runs_days": 90}


@pytest.fixture
async def operator(database_url: str) -> AsyncGenerator[httpx.AsyncClient]:
    """An admin of the operators' tenant, on a deployment keeping threads 30 days, runs 90."""
    app = build_app(database_url, DEFAULT_TENANT_ID, temporal_address="127.0.0.1:1", **DEFAULTS)
    async for client in open_client(app):
        yield client


def retention_url(tenant_id: str) -> str:
    return f"/v1/admin/tenants/{tenant_id}/retention"


async def test_operators_set_a_tenants_retention_and_the_tenant_reads_it(
    operator: httpx.AsyncClient, database_url: str, tenant_id: str
) -> None:
    untouched = (await operator.get(retention_url(tenant_id))).json()
    assert untouched["runs_days"] == {"days": 90, "source": "default"}
    assert untouched["threads_days"] == {"days": 30, "source": "default"}
    assert untouched["artifacts_days"] == {"days": 0, "source": "default"}  # forever
    assert untouched["pending_upload_hours"] == 24
    assert untouched["updated_at"] is None

    put = await operator.put(retention_url(tenant_id), json={"runs_days": 7, "artifacts_days": 0})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["tenant_id"] == tenant_id and body["updated_by"] == "test"
    assert body["runs_days"] == {"days": 7, "source": "tenant"}
    assert body["artifacts_days"] == {"days": 0, "source": "tenant"}
    assert body["threads_days"] == {"days": 30, "source": "default"}

    async for api in client_for(database_url, tenant_id, **DEFAULTS):
        own = (await api.get("/v1/retention")).json()
        assert own["runs_days"] == {"days": 7, "source": "tenant"}
        assert own["threads_days"] == {"days": 30, "source": "default"}

    assert (await operator.delete(retention_url(tenant_id))).status_code == 204
    assert (await operator.delete(retention_url(tenant_id))).status_code == 204  # idempotent
    async for api in client_for(database_url, tenant_id, **DEFAULTS):
        own = (await api.get("/v1/retention")).json()
        assert own["runs_days"] == {"days": 90, "source": "default"}
        assert own["updated_at"] is None


async def test_a_tenant_sees_only_its_own_retention(
    operator: httpx.AsyncClient, database_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    assert (await operator.put(retention_url(tenant_id), json={"runs_days": 1})).status_code == 200
    async for api in client_for(database_url, other_tenant_id, **DEFAULTS):
        own = (await api.get("/v1/retention")).json()
        assert own["tenant_id"] == other_tenant_id
        assert own["runs_days"] == {"days": 90, "source": "default"}


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [("customer", {"admin"}), (DEFAULT_TENANT_ID, {"developer"})],
    ids=["customer-admin", "operators-tenant-developer"],
)
async def test_only_the_operators_admins_manage_retention(
    database_url: str, tenant_id: str, tenant: str, roles: set[str]
) -> None:
    caller_tenant = tenant_id if tenant == "customer" else tenant
    app = build_app(database_url, caller_tenant, temporal_address="127.0.0.1:1")
    app.dependency_overrides[get_principal] = lambda: Principal(
        tenant_id=caller_tenant, subject="someone", roles=frozenset(roles)
    )
    async for api in open_client(app):
        # Not even one's own tenant: a customer must not keep its data longer than agreed.
        for method, body in (("GET", None), ("PUT", {"runs_days": 0}), ("DELETE", None)):
            response = await api.request(method, retention_url(tenant_id), json=body)
            problem = assert_problem(response, 403, "forbidden")
            assert "tenants:manage" in problem["detail"]
        assert (await api.get("/v1/retention")).status_code == 200  # reading one's own is fine


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"runs_days": -1}, ["body", "runs_days"]),
        ({"threads_days": 10**6}, ["body", "threads_days"]),
        ({"artifacts_days": "long"}, ["body", "artifacts_days"]),
        ({"runs": 5}, ["body", "runs"]),
    ],
)
async def test_invalid_retention_is_422_naming_the_field_and_changes_nothing(
    operator: httpx.AsyncClient, tenant_id: str, body: dict[str, Any], loc: list[str]
) -> None:
    assert (await operator.put(retention_url(tenant_id), json={"runs_days": 5})).status_code == 200
    problem = assert_problem(await operator.put(retention_url(tenant_id), json=body), 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [loc]
    assert (await operator.get(retention_url(tenant_id))).json()["runs_days"] == {
        "days": 5,
        "source": "tenant",
    }


async def test_a_malformed_tenant_id_is_422(operator: httpx.AsyncClient) -> None:
    problem = assert_problem(await operator.get(retention_url("not%20a%20tenant")), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path", "tenant_id"]
