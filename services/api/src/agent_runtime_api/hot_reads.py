"""The rows the API reads through the Redis read cache (:mod:`agent_runtime_core.cache`).

One :class:`~agent_runtime_core.cache.CachedRows` per kind of row. To cache another kind, add a
field here, read through it in the service
(``await hot_reads.x.get(tenant, id, lambda: repository.get(id))``) and invalidate it in every
transaction that changes that row (``hot_reads.x.invalidate_after_commit(session, tenant, id)``,
or, for rows the worker writes too, in the repository: ``agent_runtime_core.cache``).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_runtime_core.cache import STORE_ITEM, THREAD, CachedRows, ReadCache
from agent_runtime_core.models import Agent, AgentVersion
from agent_runtime_core.schemas import StoreItemPublic, ThreadPublic


@dataclass(frozen=True)
class HotReads:
    """Cached kinds of rows; keys ``agent_runtime:cache:<tenant>:<kind>:<id>``."""

    agents: CachedRows[Agent]
    """Live agents by id (``agent``): changed by PATCH, DELETE and every new version."""
    agent_versions: CachedRows[AgentVersion]
    """Versions by ``<agent id>:<number>`` (``agent_version``): immutable, never invalidated."""
    threads: CachedRows[ThreadPublic]
    """Thread heads by thread id (``thread``): the thread as ``GET /v1/threads/{id}`` shows it,
    with its latest summary, but not its active run's status (read live: a run's status changes
    on every transition). Invalidated by every flush of the thread's row, in the API or the
    worker (admission, metadata, delete, hand-over at a run's end), and by a new summary."""
    store_items: CachedRows[StoreItemPublic]
    """Store items by ``[*namespace, key]`` (``store_item``), without their embedding:
    invalidated by every put and delete (``/v1/store``, LangGraph ``/store``, the worker's
    memory tools); never cached past their ``expires_at``."""

    @classmethod
    def build(cls, cache: ReadCache) -> HotReads:
        """The kinds, sharing ``cache``'s connection."""
        return cls(
            agents=cache.rows("agent", Agent),
            agent_versions=cache.rows("agent_version", AgentVersion),
            threads=cache.rows(THREAD, ThreadPublic),
            store_items=cache.rows(STORE_ITEM, StoreItemPublic, expires_at=lambda item: item.expires_at),
        )
