"""The long-term memory store: JSON items of a tenant, addressed by a namespace and a key (the
store of LangGraph, which the memory tools and ``/v1/store`` share).

A namespace is a list of labels (``["memories", "agt_…"]``); ``namespace_path`` joins them with
``.`` (labels may not contain one), so a prefix search is an index range scan
(``text_pattern_ops``). Expired items (``expires_at`` passed) are invisible at once and deleted
lazily (see :meth:`agent_runtime_core.repositories.StoreRepository.purge_expired`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Float, Index, Text, text
from sqlmodel import Column, Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow

NAMESPACE_SEPARATOR = "."


class StoreItem(SQLModel, table=True):
    """One item of a tenant's store."""

    __tablename__ = "store_items"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index(
            "ix_store_items_namespace_prefix",
            "tenant_id",
            text("namespace_path text_pattern_ops"),
        ),
        Index(
            "ix_store_items_value",
            "value",
            postgresql_using="gin",
            postgresql_ops={"value": "jsonb_path_ops"},
        ),
        Index("ix_store_items_expires_at", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
    )

    tenant_id: str = Field(primary_key=True, max_length=40)
    namespace_path: str = Field(sa_column=Column(Text, primary_key=True))
    """The labels joined with :data:`NAMESPACE_SEPARATOR`."""
    key: str = Field(sa_column=Column(Text, primary_key=True))
    namespace: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    value: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    expires_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    ttl_s: int | None = Field(default=None)
    """The time to live the item was written with (``None``: it never expires)."""
    embedding: list[float] | None = Field(default=None, sa_column=Column(ARRAY(Float), nullable=True))
    """Unit-length vector of the item's text (``None``: not indexed, or no embedding model)."""
    embedding_model: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The model that made ``embedding``; items of another model are not ranked by a query."""
