"""``/v1/limits`` (your tenant's) and ``/v1/admin/tenants/{tenant_id}/limits`` (operators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from agent_runtime_api.deps import LimitsServiceDep, require, require_platform_operator
from agent_runtime_api.routers.common import problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas.limits import TenantLimitsPublic, TenantLimitsUpdate

router = APIRouter(tags=["limits"])

LimitsReader = Annotated[Principal, Depends(require(Permission.USAGE_READ))]
TenantsManager = Annotated[Principal, Depends(require_platform_operator(Permission.TENANTS_MANAGE))]
TenantId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_\-]{1,40}$", description="The tenant's id (as in its tokens and keys).")
]


@router.get("/v1/limits", summary="Get your limits", responses=problems())
async def get_own_limits(principal: LimitsReader, service: LimitsServiceDep) -> TenantLimitsPublic:
    """The request rate limits and the cap on active runs that apply to your tenant, and whether
    each is your tenant's own (set by the platform's operators) or the deployment's default.
    Over a rate limit: 429 `rate_limited`; at the cap: 429 `active_run_limit` on `POST /v1/runs`."""
    return await service.own(principal.tenant_id)


@router.get("/v1/admin/tenants/{tenant_id}/limits", summary="Get a tenant's limits", responses=problems())
async def get_tenant_limits(
    tenant_id: TenantId, principal: TenantsManager, service: LimitsServiceDep
) -> TenantLimitsPublic:
    """Any tenant's limits (a tenant nobody set limits for has the defaults). Needs
    `tenants:manage` in the operators' tenant (`ten_default`)."""
    del principal
    return await service.get(tenant_id)


@router.put("/v1/admin/tenants/{tenant_id}/limits", summary="Set a tenant's limits", responses=problems())
async def put_tenant_limits(
    tenant_id: TenantId, body: TenantLimitsUpdate, principal: TenantsManager, service: LimitsServiceDep
) -> TenantLimitsPublic:
    """Replace a tenant's own limits (null: the deployment default). They apply at once on this
    API process and within `AGENT_RUNTIME_TENANT_LIMITS_CACHE_S` (10 s) on the others. Lowering
    `max_active_runs` below the runs already active refuses new runs; it stops none. Needs
    `tenants:manage` in the operators' tenant (`ten_default`)."""
    return await service.put(tenant_id, body, updated_by=principal.subject)


@router.delete(
    "/v1/admin/tenants/{tenant_id}/limits",
    summary="Reset a tenant's limits to the defaults",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(),
)
async def delete_tenant_limits(
    tenant_id: TenantId, principal: TenantsManager, service: LimitsServiceDep
) -> Response:
    """Drop a tenant's own limits: the deployment defaults apply again. Needs `tenants:manage` in
    the operators' tenant (`ten_default`)."""
    del principal
    await service.reset(tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
