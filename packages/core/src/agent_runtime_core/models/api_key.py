"""API keys: long-lived credentials of a tenant, stored only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow


class ApiKey(SQLModel, table=True):
    """One API key. The secret is never stored: only ``secret_hash`` (SHA-256 of the whole token).

    ``prefix`` is the public, unique part of the token (``ar_<prefix>_<secret>``) used to find
    the row before the tenant is known. ``roles`` is a snapshot taken at creation, never more
    than the creator held; ``scopes`` (permission strings) narrow it further when set.
    """

    __tablename__ = "api_keys"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (Index("ix_api_keys_tenant_id_id", "tenant_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True)
    secret_hash: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=jsonb_column())
    scopes: list[str] | None = Field(default=None, sa_column=jsonb_column(nullable=True))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    expires_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
