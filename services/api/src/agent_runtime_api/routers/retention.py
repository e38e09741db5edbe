"""``/v1/retention`` (your tenant's) and ``/v1/admin/tenants/{tenant_id}/retention`` (operators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from agent_runtime_api.deps import RetentionServiceDep, require, require_platform_operator
from agent_runtime_api.routers.common import problems
from agent_runtime_api.routers.limits import TenantId
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas.retention import TenantRetentionPublic, TenantRetentionUpdate

router = APIRouter(tags=["retention"])

RetentionReader = Annotated[Principal, Depends(require(Permission.USAGE_READ))]
TenantsManager = Annotated[Principal, Depends(require_platform_operator(Permission.TENANTS_MANAGE))]


@router.get("/v1/retention", summary="Get your retention periods", responses=problems())
async def get_own_retention(
    principal: RetentionReader, service: RetentionServiceDep
) -> TenantRetentionPublic:
    """How long your finished runs, idle threads and artifacts are kept before the daily cleanup
    deletes them (0 days: forever), and whether each period is your tenant's own (set by the
    platform's operators) or the deployment's default. The audit log and the usage ledger are
    never deleted by it."""
    return await service.own(principal.tenant_id)


@router.get(
    "/v1/admin/tenants/{tenant_id}/retention",
    summary="Get a tenant's retention periods",
    responses=problems(),
)
async def get_tenant_retention(
    tenant_id: TenantId, principal: TenantsManager, service: RetentionServiceDep
) -> TenantRetentionPublic:
    """Any tenant's retention periods (a tenant nobody set them for has the defaults). Needs
    `tenants:manage` in the operators' tenant (`ten_default`)."""
    del principal
    return await service.get(tenant_id)


@router.put(
    "/v1/admin/tenants/{tenant_id}/retention",
    summary="Set a tenant's retention periods",
    responses=problems(),
)
async def put_tenant_retention(
    tenant_id: TenantId, body: TenantRetentionUpdate, principal: TenantsManager, service: RetentionServiceDep
) -> TenantRetentionPublic:
    """Replace a tenant's own retention periods in days (null: the deployment default; 0: keep
    forever). The next daily cleanup applies them; shortening a period deletes what is now past
    it. Needs `tenants:manage` in the operators' tenant (`ten_default`)."""
    return await service.put(tenant_id, body, updated_by=principal.subject)


@router.delete(
    "/v1/admin/tenants/{tenant_id}/retention",
    summary="Reset a tenant's retention periods to the defaults",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(),
)
async def delete_tenant_retention(
    tenant_id: TenantId, principal: TenantsManager, service: RetentionServiceDep
) -> Response:
    """Drop a tenant's own retention periods: the deployment defaults apply again. Needs
    `tenants:manage` in the operators' tenant (`ten_default`)."""
    del principal
    await service.reset(tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
