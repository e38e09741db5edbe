"""The tools tenants bring: registered tool definitions, their secrets and signing keys, and the
catalog of tools the workers have installed.

* ``tools`` / ``tool_revisions``: a tenant registers a tool once (``/v1/tools``) and every change
  is a new immutable revision; agent versions copy the revision they name, so a run sees exactly
  what its version pinned.
* ``tool_secrets``: values (API tokens) encrypted at rest with envelope encryption
  (:mod:`agent_runtime_core.crypto`); the API never returns them, workers decrypt them inside the
  tool-call activity.
* ``tool_signing_keys``: the per-tenant HMAC keys that sign HTTP tool requests; a rotation keeps
  the previous key valid until ``expires_at`` so receivers can switch without failures.
* ``tool_catalog``: deployment-wide (no tenant), written by workers at start-up with the tools
  they serve (built-in and installed packages); the API validates versions against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, text
from sqlmodel import Column, Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow


class Tool(SQLModel, table=True):
    """A tenant's registered tool; its behaviour lives in numbered, immutable revisions."""

    __tablename__ = "tools"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index(
            "uq_tools_tenant_name_live",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(index=True, max_length=40)
    name: str = Field(max_length=64)
    latest_revision: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ToolRevision(SQLModel, table=True):
    """One immutable definition of a registered tool."""

    __tablename__ = "tool_revisions"  # pyright: ignore[reportAssignmentType]

    tool_id: str = Field(primary_key=True, foreign_key="tools.id", max_length=40)
    revision: int = Field(primary_key=True)
    tenant_id: str = Field(index=True, max_length=40)
    kind: str = Field(default="http", max_length=20)
    description: str = Field(default="")
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    http: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    created_by: str | None = Field(default=None, max_length=200)


class ToolSecret(SQLModel, table=True):
    """A named secret of a tenant, encrypted at rest; write-only over the API."""

    __tablename__ = "tool_secrets"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index(
            "uq_tool_secrets_tenant_name_live",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(index=True, max_length=40)
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=2000)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """An envelope (:class:`agent_runtime_core.crypto.Envelope` serialized)."""
    key_id: str = Field(max_length=200)
    """The key-encryption key that wrapped this value's data key (for rotation)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ToolSigningKey(SQLModel, table=True):
    """A tenant's key for signing HTTP tool requests (HMAC-SHA256), encrypted at rest."""

    __tablename__ = "tool_signing_keys"  # pyright: ignore[reportAssignmentType]

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(index=True, max_length=40)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    expires_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    """``None`` while it is the current key; set when a rotation replaces it (signatures with it
    are still sent until then)."""


class CatalogTool(SQLModel, table=True):
    """A tool a worker serves by name (built-in or from an installed tool package).

    Deployment-wide: every tenant may name it in a version. Workers upsert their tools at
    start-up; ``last_seen_at`` tells operators which workers still serve it.
    """

    __tablename__ = "tool_catalog"  # pyright: ignore[reportAssignmentType]

    name: str = Field(primary_key=True, max_length=64)
    description: str = Field(default="")
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    source: str = Field(max_length=200)
    """``builtin``, or ``package:<distribution> <version>``."""
    worker: str = Field(default="", max_length=200)
    """Identity of the last worker that registered it."""
    registered_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
