"""``/v1/agents`` and ``/v1/agents/{agent_id}/versions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from agent_runtime_api.deps import SessionDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, Cursor, Limit, problems
from agent_runtime_api.services.agents import AgentService
from agent_runtime_api.services.presenters import agent_public, agent_version_public
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    AgentVersionCreate,
    AgentVersionPublic,
    Page,
)

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=AUTH_RESPONSES)

AgentReader = Annotated[Principal, Depends(require(Permission.AGENTS_READ))]
AgentWriter = Annotated[Principal, Depends(require(Permission.AGENTS_WRITE))]

AgentId = Annotated[str, Path(max_length=40, description="Agent id (`agt_…`).")]
VersionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="Version number.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an agent",
    responses=problems(409),
)
async def create_agent(
    body: AgentCreate, session: SessionDep, principal: AgentWriter, response: Response
) -> AgentPublic:
    """Create an agent. Pass `version` to create its version 1 in the same call."""
    agent, _ = await AgentService(session, principal.tenant_id).create(body)
    response.headers["Location"] = f"/v1/agents/{agent.id}"
    return agent_public(agent)


@router.get("", summary="List agents", responses=problems())
async def list_agents(
    session: SessionDep, principal: AgentReader, limit: Limit = 20, cursor: Cursor = None
) -> Page[AgentPublic]:
    """Agents of your tenant, newest first."""
    page = await AgentService(session, principal.tenant_id).list(limit=limit, cursor=cursor)
    return Page[AgentPublic](data=[agent_public(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/{agent_id}", summary="Get an agent", responses=problems(404))
async def get_agent(agent_id: AgentId, session: SessionDep, principal: AgentReader) -> AgentPublic:
    """One agent."""
    return agent_public(await AgentService(session, principal.tenant_id).get(agent_id))


@router.patch("/{agent_id}", summary="Update an agent", responses=problems(404, 409))
async def update_agent(
    agent_id: AgentId, body: AgentUpdate, session: SessionDep, principal: AgentWriter
) -> AgentPublic:
    """Change the name or description. To change behaviour, create a new version."""
    return agent_public(await AgentService(session, principal.tenant_id).update(agent_id, body))


@router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an agent",
    responses=problems(404, 409),
)
async def delete_agent(agent_id: AgentId, session: SessionDep, principal: AgentWriter) -> None:
    """Delete an agent. Refused with 409 while it has queued, running or waiting runs.
    Its past runs stay readable."""
    await AgentService(session, principal.tenant_id).delete(agent_id)


@router.post(
    "/{agent_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Create an agent version",
    responses=problems(404),
)
async def create_version(
    agent_id: AgentId,
    body: AgentVersionCreate,
    session: SessionDep,
    principal: AgentWriter,
    response: Response,
) -> AgentVersionPublic:
    """Add the next immutable version; new runs use it unless they pin another."""
    version = await AgentService(session, principal.tenant_id).create_version(agent_id, body)
    response.headers["Location"] = f"/v1/agents/{agent_id}/versions/{version.version}"
    return agent_version_public(version)


@router.get("/{agent_id}/versions", summary="List agent versions", responses=problems(404))
async def list_versions(
    agent_id: AgentId,
    session: SessionDep,
    principal: AgentReader,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AgentVersionPublic]:
    """Versions of an agent, newest first."""
    page = await AgentService(session, principal.tenant_id).list_versions(
        agent_id, limit=limit, cursor=cursor
    )
    return Page[AgentVersionPublic](
        data=[agent_version_public(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get("/{agent_id}/versions/{version}", summary="Get an agent version", responses=problems(404))
async def get_version(
    agent_id: AgentId, version: VersionNumber, session: SessionDep, principal: AgentReader
) -> AgentVersionPublic:
    """One version."""
    found = await AgentService(session, principal.tenant_id).get_version(agent_id, version)
    return agent_version_public(found)
