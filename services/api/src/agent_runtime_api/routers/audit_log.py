"""``/v1/audit-log``: read the tenant's audit log (admins). Entries cannot be changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from agent_runtime_api.deps import SessionDep, require
from agent_runtime_api.routers.common import Cursor, Limit, problems
from agent_runtime_api.services.pages import window
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.models import AuditLogEntry
from agent_runtime_core.repositories import AuditLogRepository, decode_cursor
from agent_runtime_core.schemas import AuditLogEntryPublic, AuditOutcome, Page
from agent_runtime_core.schemas.common import Text, Timestamp

router = APIRouter(prefix="/v1/audit-log", tags=["audit"])

AuditReader = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


def _public(entry: AuditLogEntry) -> AuditLogEntryPublic:
    return AuditLogEntryPublic(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        auth_method=entry.auth_method,
        api_key_id=entry.api_key_id,
        action=entry.action,
        resource_type=entry.resource_type,
        resource_id=entry.resource_id,
        request_id=entry.request_id,
        method=entry.method,
        path=entry.path,
        status_code=entry.status_code,
        outcome=AuditOutcome(entry.outcome),
        details=entry.details,
    )


@router.get("", summary="List audit log entries", responses=problems(403))
async def list_audit_log(
    session: SessionDep,
    principal: AuditReader,
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
    cursor: Cursor = None,
) -> Page[AuditLogEntryPublic]:
    """Every mutating call made in your tenant (refused ones too) and every approval decision,
    newest first. Needs the `audit:read` permission (admins). Entries are append-only: there is
    no way to change or delete them through the API."""
    rows = await AuditLogRepository(session, principal.tenant_id).list(
        limit=limit + 1,
        before_id=decode_cursor(cursor) if cursor else None,
        actor=actor,
        action=action,
        resource_id=resource_id,
        since=since,
        until=until,
    )
    page = window(rows, limit, key=lambda entry: entry.id)
    return Page[AuditLogEntryPublic](data=[_public(e) for e in page.items], next_cursor=page.next_cursor)
