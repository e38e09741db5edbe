"""The audit log: who did what to which resource, when, and how it ended. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow


class AuditLogEntry(SQLModel, table=True):
    """One mutating call (or approval decision) by an authenticated principal.

    Rows are never changed: the application role may only insert and read them, and a trigger
    refuses ``UPDATE``/``DELETE``/``TRUNCATE`` for everyone (retention jobs must disable it
    explicitly, as the owner).
    """

    __tablename__ = "audit_log"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_audit_log_tenant_id", "tenant_id", "id"),
        Index("ix_audit_log_tenant_actor", "tenant_id", "actor", "id"),
        Index("ix_audit_log_tenant_resource", "tenant_id", "resource_id", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    actor: str = Field(max_length=200, description="The principal's subject.")
    auth_method: str = Field(max_length=20)
    api_key_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=80, description="Stable name, e.g. `runs.cancel`.")
    resource_type: str = Field(max_length=40)
    resource_id: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, max_length=128)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    status_code: int
    outcome: str = Field(max_length=10, description="success | denied | failed")
    details: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
