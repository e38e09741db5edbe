"""``/v1/audit-log``: read the tenant's audit log (admins). Entries cannot be changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from agent_runtime_api.deps import AuditLogServiceDep, require
from agent_runtime_api.routers.common import IdCursor, Limit, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import AuditLogEntryPublic, Page
from agent_runtime_core.schemas.common import Text, Timestamp

router = APIRouter(prefix="/v1/audit-log", tags=["audit"])

AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("", summary="List audit log entries", responses=problems(403))
async def list_audit_log(
    service: AuditLogServiceDep,
    _: AuditReader,
    actor: Annotated[Text | None, Query(max_length=200, description="Only this subject's calls.")] = None,
    action: Annotated[
        Text | None, Query(max_length=80, description="Only this action, e.g. `runs.cancel`.")
    ] = None,
    resource_id: Annotated[
        Text | None, Query(max_length=200, description="Only calls on this resource id.")
    ] = None,
    since: Annotated[
        Timestamp | None, Query(description="Only entries at or after this time (no offset: UTC).")
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="Only entries before this time (no offset: UTC).")
    ] = None,
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[AuditLogEntryPublic]:
    """Every mutating call made in your tenant (refused ones too) and every approval decision,
    newest first. Needs the `audit:read` permission (admins). Entries are append-only: there is
    no way to change or delete them through the API."""
    page = await service.list(
        limit=limit,
        before=cursor,
        actor=actor,
        action=action,
        resource_id=resource_id,
        since=since,
        until=until,
    )
    return Page[AuditLogEntryPublic](
        data=[AuditLogEntryPublic.from_row(e) for e in page.items], next_cursor=page.next_cursor
    )
