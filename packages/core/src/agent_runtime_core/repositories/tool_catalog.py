"""Reads of the workers' tool catalog (deployment-wide: no tenant; workers write it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import CatalogTool


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
