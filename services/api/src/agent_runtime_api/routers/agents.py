"""``/v1/agents`` and ``/v1/agents/{agent_id}/versions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from agent_runtime_api.deps import AgentServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, AgentId, IdCursor, Limit, NumberCursor, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    AgentVersionCreate,
    AgentVersionPublic,
    Page,
)
from agent_runtime_core.schemas.agent_status import AGENT_STATUS_RULE, AgentStatusPublic

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=AUTH_RESPONSES)

AgentReader = Annotated[Principal, Depends(require(Permission.AGENTS_READ))]
AgentWriter = Annotated[Principal, Depends(require(Permission.AGENTS_WRITE))]

VersionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="Version number.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an agent",
    responses=problems(409),
)
async def create_agent(
    body: AgentCreate, service: AgentServiceDep, _: AgentWriter, response: Response
) -> AgentPublic:
    """Create an agent. Pass `version` to create its version 1 in the same call."""
    agent, _version = await service.create(body)
    response.headers["Location"] = f"/v1/agents/{agent.id}"
    return AgentPublic.from_row(agent)


@router.get("", summary="List agents", responses=problems())
async def list_agents(
    service: AgentServiceDep, _: AgentReader, limit: Limit = 20, cursor: IdCursor = None
) -> Page[AgentPublic]:
    """Agents of your tenant, newest first."""
    page = await service.list(limit=limit, before=cursor)
    return Page[AgentPublic](data=[AgentPublic.from_row(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/{agent_id}", summary="Get an agent", responses=problems(404))
async def get_agent(agent_id: AgentId, service: AgentServiceDep, _: AgentReader) -> AgentPublic:
    """One agent."""
    return AgentPublic.from_row(await service.get(agent_id))


@router.patch("/{agent_id}", summary="Update an agent", responses=problems(404, 409))
async def update_agent(
    agent_id: AgentId, body: AgentUpdate, service: AgentServiceDep, _: AgentWriter
) -> AgentPublic:
    """Change the name or description. To change behaviour, create a new version."""
    return AgentPublic.from_row(await service.update(agent_id, body))


@router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an agent",
    responses=problems(404, 409),
)
async def delete_agent(agent_id: AgentId, service: AgentServiceDep, _: AgentWriter) -> None:
    """Delete an agent. Refused with 409 while it has queued, running or waiting runs.
    Its past runs stay readable."""
    await service.delete(agent_id)


@router.get(
    "/{agent_id}/status",
    summary="Get an agent's status",
    responses=problems(404),
    description="What the agent is doing now: its unfinished runs by status and its last error. "
    + AGENT_STATUS_RULE,
)
async def get_agent_status(agent_id: AgentId, service: AgentServiceDep, _: AgentReader) -> AgentStatusPublic:
    return await service.status(agent_id)


@router.post(
    "/{agent_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Create an agent version",
    responses=problems(404),
)
async def create_version(
    agent_id: AgentId,
    body: AgentVersionCreate,
    service: AgentServiceDep,
    _: AgentWriter,
    response: Response,
) -> AgentVersionPublic:
    """Add the next immutable version; new runs use it unless they pin another.

    Tools are catalog tools named alone (`GET /v1/tools/catalog`), inline HTTP tools, or tools
    registered with `/v1/tools` (copied from the revision named, or the latest). MCP servers are
    reached over Streamable HTTP, or started over stdio when the operator installed them.
    A 422 names the field: an unknown or retired catalog tool, an unknown registered tool
    (`unknown_tool`), a header naming a secret that does not exist (`unknown_secret`), an
    http:// URL where https is required, a repeated name."""
    version = await service.create_version(agent_id, body)
    response.headers["Location"] = f"/v1/agents/{agent_id}/versions/{version.version}"
    return AgentVersionPublic.from_row(version, await service.catalog_names())


@router.get("/{agent_id}/versions", summary="List agent versions", responses=problems(404))
async def list_versions(
    agent_id: AgentId,
    service: AgentServiceDep,
    _: AgentReader,
    limit: Limit = 20,
    cursor: NumberCursor = None,
) -> Page[AgentVersionPublic]:
    """Versions of an agent, newest first. A tool retired since a version was created is
    listed with `available: false`."""
    page = await service.list_versions(agent_id, limit=limit, below=cursor)
    catalog = await service.catalog_names()
    return Page[AgentVersionPublic](
        data=[AgentVersionPublic.from_row(v, catalog) for v in page.items], next_cursor=page.next_cursor
    )


@router.get("/{agent_id}/versions/{version}", summary="Get an agent version", responses=problems(404))
async def get_version(
    agent_id: AgentId, version: VersionNumber, service: AgentServiceDep, _: AgentReader
) -> AgentVersionPublic:
    """One version, as it was created. A tool retired since is shown with `available: false`
    (runs of this version get a tool error if the model calls it)."""
    found = await service.get_version(agent_id, version)
    return AgentVersionPublic.from_row(found, await service.catalog_names())
