"""Agents and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow


class Agent(SQLModel, table=True):
    """A named agent of a tenant. Its behaviour lives in numbered, immutable versions.

    Deleting an agent only marks it deleted: its runs (and their history) stay readable, and
    its name becomes free for a new agent.
    """

    __tablename__ = "agents"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index(
            "uq_agents_tenant_name_live",
            "tenant_id",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(index=True, max_length=40)
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    latest_version: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class AgentVersion(SQLModel, table=True):
    """One immutable configuration of an agent: model, instructions, tools, limits."""

    __tablename__ = "agent_versions"  # pyright: ignore[reportAssignmentType]

    agent_id: str = Field(primary_key=True, foreign_key="agents.id", max_length=40)
    version: int = Field(primary_key=True)
    tenant_id: str = Field(index=True, max_length=40)
    model: str = Field(max_length=200)
    fallback_models: list[str] = Field(default_factory=list, sa_column=jsonb_column())
    instructions: str = Field(default="")
    tools: list[dict[str, Any]] = Field(default_factory=list, sa_column=jsonb_column())
    model_settings: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    mcp_servers: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    memory: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    """The memory tools' configuration (``MemorySpec``); ``None``: the defaults (agent scope)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
