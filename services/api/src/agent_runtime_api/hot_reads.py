"""The rows the API reads through the Redis read cache (:mod:`agent_runtime_core.cache`).

One :class:`~agent_runtime_core.cache.CachedRows` per kind of row. To cache another kind (a
thread's head, a store item), add a field here, read through it in the service
(``await hot_reads.x.get(tenant, id, lambda: repository.get(id))``) and invalidate it in every
transaction that changes that row (``hot_reads.x.invalidate_after_commit(session, tenant, id)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_runtime_core.cache import CachedRows, ReadCache
from agent_runtime_core.models import Agent, AgentVersion


@dataclass(frozen=True)
class HotReads:
    """Cached kinds of rows; keys ``agent_runtime:cache:<tenant>:<kind>:<id>``."""

    agents: CachedRows[Agent]
    """Live agents by id (``agent``): changed by PATCH, DELETE and every new version."""
    agent_versions: CachedRows[AgentVersion]
    """Versions by ``<agent id>:<number>`` (``agent_version``): immutable, never invalidated."""

    @classmethod
    def build(cls, cache: ReadCache) -> HotReads:
        """The kinds, sharing ``cache``'s connection."""
        return cls(
            agents=cache.rows("agent", Agent), agent_versions=cache.rows("agent_version", AgentVersion)
        )
