"""``/v1/admin/providers``: model-provider endpoints and their circuit breakers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from agent_runtime_api.deps import ProviderServiceDep, require_platform_operator
from agent_runtime_api.routers.common import problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import ProviderEndpointList, ProviderEndpointPublic

router = APIRouter(prefix="/v1/admin/providers", tags=["providers"])


ProvidersManager = Annotated[Principal, Depends(require_platform_operator(Permission.PROVIDERS_MANAGE))]
EndpointId = Annotated[
    str,
    Path(max_length=100, pattern=r"^[a-z0-9-]+$", description="Endpoint id (`<provider>-<hash>`)."),
]


@router.get("", summary="List provider endpoints and their circuit breakers", responses=problems(403, 503))
async def list_providers(principal: ProvidersManager, service: ProviderServiceDep) -> ProviderEndpointList:
    """Every provider endpoint (provider + base URL) the workers have sent model requests to, with
    its circuit breaker: `closed` (requests go through), `open` (requests skip to the next fallback
    model without an HTTP call until `next_probe_at`) or `half_open` (one probe request is out).
    Endpoints are deployment-wide: every tenant's runs share them, so only the platform's
    operators see them: `providers:manage` in the default tenant (`ten_default`)."""
    del principal
    return await service.list()


@router.post(
    "/{endpoint_id}/reset",
    summary="Close a provider endpoint's circuit breaker",
    responses=problems(403, 404, 503),
)
async def reset_provider(
    endpoint_id: EndpointId, principal: ProvidersManager, service: ProviderServiceDep
) -> ProviderEndpointPublic:
    """Close the breaker and forget its failures: the next request goes to the provider again.
    Needs `providers:manage` in the default tenant (`ten_default`)."""
    del principal
    return await service.reset(endpoint_id)
