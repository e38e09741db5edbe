"""The worker's entry in the deployment-wide tool catalog (``tool_catalog``).

The API validates agent versions against the built-in names and this table, and serves it, so it
learns the installed tool packages from the workers instead of a list of its own. Each worker,
once it runs, upserts every tool it serves (built-in ones as ``builtin``, package ones as
``package:<distribution> <version>``) with its identity, then refreshes ``last_seen_at`` every
:data:`CATALOG_REFRESH_INTERVAL`. The write never stops the worker: a failed attempt is logged and
tried again (backing off up to a minute) while the worker serves runs.

Activity half of the worker (database code): workflow code never imports it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from pydantic_ai import FunctionToolset

from agent_runtime_core.catalog import RETIRED_TOOLS
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.tool_catalog import ServedTool, ToolCatalogWriter
from agent_runtime_worker.tools.packages import InstalledToolPackages

logger = logging.getLogger(__name__)

BUILTIN_SOURCE: Final = "builtin"
CATALOG_REFRESH_INTERVAL: Final = timedelta(minutes=10)
"""How often a running worker tells the catalog it still serves its tools (``last_seen_at``)."""
FIRST_RETRY_DELAY: Final = timedelta(seconds=1)
MAX_RETRY_DELAY: Final = timedelta(seconds=60)


def served_tools(
    builtin: FunctionToolset[Any],
    packages: InstalledToolPackages,
    *,
    memory: FunctionToolset[Any] | None = None,
    artifacts: FunctionToolset[Any] | None = None,
) -> list[ServedTool]:
    """Every tool this worker serves, as the catalog lists it (retired built-ins are left out:
    the worker keeps them only so old histories replay); the memory and artifact tools count as built-in."""
    tools: list[ServedTool] = []
    built_in = [
        *builtin.tools.values(),
        *(memory.tools.values() if memory is not None else ()),
        *(artifacts.tools.values() if artifacts is not None else ()),
    ]
    for tool in built_in:
        if tool.name in RETIRED_TOOLS:
            continue
        definition = tool.tool_def
        tools.append(
            ServedTool(
                name=definition.name,
                description=definition.description or "",
                parameters=definition.parameters_json_schema,
                source=BUILTIN_SOURCE,
            )
        )
    for package_tool in packages.tools:
        definition = package_tool.tool.tool_def
        tools.append(
            ServedTool(
                name=definition.name,
                description=definition.description or "",
                parameters=definition.parameters_json_schema,
                source=package_tool.source,
            )
        )
    return tools


def describe(tools: Sequence[ServedTool]) -> str:
    """One line for the start-up log: ``name (source), ...``."""
    return ", ".join(f"{tool.name} ({tool.source})" for tool in tools) or "none"


class CatalogRegistration:
    """Keeps this worker's tools in the catalog while the worker runs."""

    def __init__(
        self,
        database: Database,
        tools: Sequence[ServedTool],
        *,
        worker: str,
        refresh_interval: timedelta = CATALOG_REFRESH_INTERVAL,
    ) -> None:
        """Register ``tools`` in ``database``'s catalog as served by ``worker`` (its identity)."""
        self.database = database
        self.tools = list(tools)
        self.worker = worker
        self.refresh_interval = refresh_interval

    async def register(self) -> None:
        """Upsert every tool once, now (one transaction)."""
        async with system_session_scope(self.database) as session:
            await ToolCatalogWriter(session).upsert(self.tools, worker=self.worker, seen_at=utcnow())

    async def run(self) -> None:
        """Register now, then every ``refresh_interval``, until cancelled; failures are retried."""
        delay = FIRST_RETRY_DELAY
        registered_once = False
        while True:
            try:
                await self.register()
            except Exception:  # the database may be down or migrating: the worker runs on regardless
                logger.warning(
                    "could not register this worker's tools in the catalog; retrying in %.0f s",
                    delay.total_seconds(),
                    exc_info=True,
                )
                await asyncio.sleep(delay.total_seconds())
                delay = min(delay * 2, MAX_RETRY_DELAY)
                continue
            if not registered_once:
                logger.info("registered %d tool(s) in the catalog as %s", len(self.tools), self.worker)
                registered_once = True
            delay = FIRST_RETRY_DELAY
            await asyncio.sleep(self.refresh_interval.total_seconds())
