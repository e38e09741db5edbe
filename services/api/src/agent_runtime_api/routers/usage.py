"""``/v1/budgets``, ``/v1/model-prices`` and ``/v1/usage``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from agent_runtime_api.deps import UsageServiceDep, require
from agent_runtime_api.routers.common import problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import Page
from agent_runtime_core.schemas.common import Text, Timestamp
from agent_runtime_core.schemas.usage import (
    BudgetPublic,
    BudgetUpdate,
    ModelPricePublic,
    ModelPriceUpdate,
    UsageReport,
)

router = APIRouter(tags=["usage"])

BudgetAdmin = Annotated[Principal, Depends(require(Permission.BUDGETS_MANAGE))]
UsageReader = Annotated[Principal, Depends(require(Permission.USAGE_READ))]
Provider = Annotated[
    Text, Path(max_length=40, description="`openai`, `anthropic`, `openai-compatible`, `builtin`.")
]
ModelName = Annotated[Text, Path(max_length=200, description="The model name as agent versions spell it.")]
Scope = Annotated[
    Literal["tenant", "global"],
    Query(description="`tenant` (yours) or `global` (every tenant; default tenant's admins only)."),
]


@router.get("/v1/budgets", summary="Get your budgets", responses=problems(403))
async def get_budgets(service: UsageServiceDep, principal: BudgetAdmin) -> BudgetPublic:
    """Your tenant's token and cost budgets and how much of each is used now (UTC day and month)."""
    return await service.get_budget()


@router.put("/v1/budgets", summary="Set your budgets", responses=problems(403))
async def put_budgets(body: BudgetUpdate, service: UsageServiceDep, principal: BudgetAdmin) -> BudgetPublic:
    """Replace your budgets (null: unlimited). They apply to every run's next model request (a
    first budget, where there was none, within the workers' `budget_policy_cache_s`, default 5 s):
    a request that finds a budget used up fails its run with `budget_exceeded`, or with
    `on_exceeded: "wait"` makes the run wait until the period resets."""
    return await service.put_budget(body, updated_by=principal.subject)


@router.get("/v1/model-prices", summary="List price overrides", responses=problems(403))
async def list_model_prices(service: UsageServiceDep, principal: BudgetAdmin) -> Page[ModelPricePublic]:
    """Your price overrides and the global ones. Models not listed are priced by genai-prices."""
    return Page[ModelPricePublic](data=await service.list_prices())


@router.put(
    "/v1/model-prices/{provider}/{model:path}",
    summary="Set a price override",
    # 404: a path no route matches (e.g. a model name with a line break).
    responses=problems(403, 404),
)
async def put_model_price(
    provider: Provider,
    model: ModelName,
    body: ModelPriceUpdate,
    service: UsageServiceDep,
    principal: BudgetAdmin,
    scope: Scope = "tenant",
) -> ModelPricePublic:
    """Price `provider:model` yourself (e.g. a self-hosted model): it wins over genai-prices, and
    a tenant's override wins over a global one. Applies to requests made from now on."""
    return await service.put_price(provider, model, body, scope)


@router.delete(
    "/v1/model-prices/{provider}/{model:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a price override",
    responses=problems(403, 404),
)
async def delete_model_price(
    provider: Provider,
    model: ModelName,
    service: UsageServiceDep,
    principal: BudgetAdmin,
    scope: Scope = "tenant",
) -> None:
    """Remove an override; genai-prices prices the model again."""
    await service.delete_price(provider, model, scope)


@router.get("/v1/usage", summary="Usage and cost", responses=problems(403))
async def get_usage(
    service: UsageServiceDep,
    principal: UsageReader,
    since: Annotated[
        Timestamp | None,
        Query(description="Start (inclusive; no offset: UTC); default: 30 days before `until`."),
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="End (exclusive; no offset: UTC); default: now.")
    ] = None,
    group_by: Annotated[
        list[str],
        Query(description="`day`, `agent`, `model`: repeat or comma-separate to combine (`day,model`)."),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
) -> UsageReport:
    """Model requests, tokens and cost of your tenant over a window, in total and grouped, with
    your budgets' status. Cost counts priced requests; `unpriced_requests` have no known price."""
    return await service.report(since=since, until=until, group_by=group_by)
