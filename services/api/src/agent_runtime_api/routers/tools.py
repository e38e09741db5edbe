"""``/v1/tools``: tools a tenant registers once and agent versions reference, and the catalog of
tools the workers serve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from agent_runtime_api.deps import ToolServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, IdCursor, Limit, NumberCursor, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import (
    CatalogList,
    Page,
    Text,
    ToolDefinitionCreate,
    ToolDefinitionPublic,
    ToolRevisionPublic,
)

router = APIRouter(prefix="/v1/tools", tags=["tools"], responses=AUTH_RESPONSES)

ToolReader = Annotated[Principal, Depends(require(Permission.TOOLS_READ))]
ToolWriter = Annotated[Principal, Depends(require(Permission.TOOLS_WRITE))]

ToolId = Annotated[Text, Path(max_length=40, description="Tool id (`tool_…`).")]
RevisionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="Revision number.")]
NameFilter = Annotated[
    Text | None, Query(max_length=64, description="Only the tool with this name (names are unique).")
]


# Declared before `/{tool_id}` so that `catalog` is never read as a tool id.
@router.get("/catalog", summary="List catalog tools", responses=problems())
async def list_catalog(service: ToolServiceDep, _: ToolReader) -> CatalogList:
    """The tools the workers serve by name: the built-in ones, and those of tool packages the
    operator installed (the workers report them when they start). A version enables one with
    `{"name": ...}` alone; naming a tool that is not listed here is a 422. Retired tools are not
    listed."""
    return CatalogList(data=await service.list_catalog())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a tool",
    responses=problems(409),
)
async def create_tool(
    body: ToolDefinitionCreate, service: ToolServiceDep, principal: ToolWriter, response: Response
) -> ToolDefinitionPublic:
    """Register an HTTP tool once, for any agent version of your tenant to use by name
    (`{"tool": {"name": ..., "revision": ...}}`). The definition becomes revision 1.

    422 naming the field: an invalid JSON Schema in `parameters`, an http:// URL where the
    deployment requires https, a header naming a secret your tenant does not have
    (`unknown_secret`), a name that a catalog tool has. 409 `tool_name_taken`: a tool of your
    tenant already has the name."""
    tool, revision = await service.create(body, created_by=principal.subject)
    response.headers["Location"] = f"/v1/tools/{tool.id}"
    return ToolDefinitionPublic.from_rows(tool, revision)


@router.get("", summary="List tools", responses=problems())
async def list_tools(
    service: ToolServiceDep,
    _: ToolReader,
    limit: Limit = 20,
    cursor: IdCursor = None,
    name: NameFilter = None,
) -> Page[ToolDefinitionPublic]:
    """Registered tools of your tenant, newest first, each with its latest revision's definition."""
    page = await service.list(limit=limit, before=cursor, name=name)
    return Page[ToolDefinitionPublic](
        data=[ToolDefinitionPublic.from_rows(tool, revision) for tool, revision in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{tool_id}", summary="Get a tool", responses=problems(404))
async def get_tool(tool_id: ToolId, service: ToolServiceDep, _: ToolReader) -> ToolDefinitionPublic:
    """One registered tool, with its latest revision's definition."""
    tool, revision = await service.get_with_latest(tool_id)
    return ToolDefinitionPublic.from_rows(tool, revision)


@router.put("/{tool_id}", summary="Update a tool", responses=problems(404, 409))
async def update_tool(
    tool_id: ToolId, body: ToolDefinitionCreate, service: ToolServiceDep, principal: ToolWriter
) -> ToolDefinitionPublic:
    """Replace the whole definition: it becomes the next revision, and earlier revisions never
    change. Agent versions keep the revision they copied; versions created from now on that name
    no revision get this one. The name may change if no other tool of yours has it (409
    `tool_name_taken` otherwise). Checked like a new tool (422 naming the field)."""
    tool, revision = await service.update(tool_id, body, created_by=principal.subject)
    return ToolDefinitionPublic.from_rows(tool, revision)


@router.delete(
    "/{tool_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a tool",
    responses=problems(404, 409),
)
async def delete_tool(tool_id: ToolId, service: ToolServiceDep, _: ToolWriter) -> None:
    """Delete a tool. Refused with 409 `tool_in_use`, naming the agents, while the latest version
    of a live agent uses it. Older versions keep their own copy of the definition, so their runs
    are not affected. The name is free again afterwards."""
    await service.delete(tool_id)


@router.get("/{tool_id}/revisions", summary="List tool revisions", responses=problems(404))
async def list_revisions(
    tool_id: ToolId,
    service: ToolServiceDep,
    _: ToolReader,
    limit: Limit = 20,
    cursor: NumberCursor = None,
) -> Page[ToolRevisionPublic]:
    """Revisions of a tool, newest first. Revisions are immutable."""
    page = await service.list_revisions(tool_id, limit=limit, below=cursor)
    return Page[ToolRevisionPublic](
        data=[ToolRevisionPublic.from_row(revision) for revision in page.items], next_cursor=page.next_cursor
    )


@router.get("/{tool_id}/revisions/{revision}", summary="Get a tool revision", responses=problems(404))
async def get_revision(
    tool_id: ToolId, revision: RevisionNumber, service: ToolServiceDep, _: ToolReader
) -> ToolRevisionPublic:
    """One revision of a tool, exactly as agent versions that pinned it copied it."""
    return ToolRevisionPublic.from_row(await service.get_revision(tool_id, revision))
