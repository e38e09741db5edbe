"""The deployment-wide tool catalog (``tool_catalog``): what the workers serve, by name. Workers
write it (:class:`ToolCatalogWriter`); the API reads it (:class:`ToolCatalogRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import CatalogTool


@dataclass(frozen=True)
class ServedTool:
    """A tool a worker serves, as it registers it in the catalog."""

    name: str
    description: str
    parameters: dict[str, Any]
    source: str
    """``builtin``, or ``package:<distribution> <version>``."""


class ToolCatalogWriter:
    """Workers' writes to the catalog. Deployment-wide rows: use a ``system_session_scope`` session
    (tenant sessions cannot write the table)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, tools: Sequence[ServedTool], *, worker: str, seen_at: datetime) -> None:
        """Insert or refresh ``tools`` as served by ``worker`` at ``seen_at``, in one statement.

        A name already in the catalog takes the new description, schema, source and worker and
        ``last_seen_at``; its ``registered_at`` stays the first registration's.
        """
        if not tools:
            return
        rows = [
            {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
                "source": tool.source,
                "worker": worker,
                "registered_at": seen_at,
                "last_seen_at": seen_at,
            }
            # One order for every worker: concurrent upserts lock the rows in the same order.
            for tool in sorted(tools, key=lambda tool: tool.name)
        ]
        statement = insert(CatalogTool).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={
                key: statement.excluded[key]
                for key in ("description", "parameters", "source", "worker", "last_seen_at")
            },
        )
        connection = await self.session.connection()
        await connection.execute(statement)


class ToolCatalogRepository:
    """The tools workers have registered (built-in and from installed packages)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self) -> Sequence[CatalogTool]:
        """Every catalog row, by name."""
        return (await self.session.exec(select(CatalogTool).order_by(col(CatalogTool.name)))).all()

    async def names(self) -> set[str]:
        """The names of every catalog row."""
        return set((await self.session.exec(select(CatalogTool.name))).all())
