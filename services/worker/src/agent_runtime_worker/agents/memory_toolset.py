"""The memory tools (``memory_save``, ``memory_search``, ``memory_delete``): the agent's long-term
memory, kept in the tenant's store (``/v1/store``) under the namespace its version configures.

Workflow half: this module defines the tools (names, descriptions, argument schemas) and nothing
else. Each call runs inside the ``memory`` toolset's tool-call activity
(``agent__agent_runtime__toolset__memory__call_tool``), where the backend the worker bound
(:class:`MemoryBackend`, the database) does the reading and writing under the run's tenant. The
namespace travels in the run's deps (``memory_namespace``), computed by the workflow from the
durable ``AgentConfig.memory``; ``None`` means this worker cannot serve the version's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Protocol

from pydantic import Field
from pydantic_ai import FunctionToolset, ModelRetry, RunContext

MEMORY_TOOLSET_ID: Final = "memory"
"""Frozen: it names the activity of every memory tool call."""


class MemoryBackend(Protocol):
    """What the memory tools need from the worker's I/O half."""

    async def save(
        self, tenant_id: str, namespace: list[str], key: str, value: dict[str, Any]
    ) -> dict[str, Any]:
        """Create or replace a memory; a short receipt for the model."""
        ...

    async def search(
        self,
        tenant_id: str,
        namespace: list[str],
        *,
        query: str | None,
        filter: dict[str, Any] | None,
        limit: int,
    ) -> dict[str, Any]:
        """Memories under the namespace, best first."""
        ...

    async def delete(self, tenant_id: str, namespace: list[str], key: str) -> dict[str, Any]:
        """Delete a memory (a receipt saying whether it existed)."""
        ...


def _namespace(ctx: RunContext[Any]) -> list[str]:
    namespace: list[str] | None = getattr(ctx.deps, "memory_namespace", None)
    if not namespace:
        raise ModelRetry(
            "Memory is not available to this run (its memories are kept per thread and the run is "
            "on none, or its memory scope is not served here)."
        )
    return list(namespace)


def build_memory_toolset(
    backend: Callable[[], MemoryBackend],
    *,
    toolset_factory: Callable[[str], FunctionToolset[Any]] | None = None,
) -> FunctionToolset[Any]:
    """The memory tools, calling ``backend()`` (read at call time, inside the activity)."""
    toolset = (
        toolset_factory(MEMORY_TOOLSET_ID)
        if toolset_factory is not None
        else FunctionToolset[Any](id=MEMORY_TOOLSET_ID)
    )

    @toolset.tool
    async def memory_save(
        ctx: RunContext[Any],
        key: Annotated[
            str,
            Field(
                min_length=1,
                max_length=200,
                description="A short, stable name for this memory; saving under it again replaces it.",
                examples=["favourite_colour"],
            ),
        ],
        value: Annotated[
            str | dict[str, Any],
            Field(description="What to remember: a sentence, or a JSON object of facts."),
        ],
    ) -> dict[str, Any]:
        """Remember something for later runs (long-term memory). Use it for facts worth keeping:
        preferences, decisions, names. A text is stored as `{"content": text}`."""
        stored = {"content": value} if isinstance(value, str) else value
        return await backend().save(ctx.deps.tenant_id, _namespace(ctx), key, stored)

    @toolset.tool
    async def memory_search(
        ctx: RunContext[Any],
        query: Annotated[
            str | None,
            Field(default=None, max_length=2000, description="What you are looking for, in words."),
        ] = None,
        filter: Annotated[
            dict[str, Any] | None,
            Field(default=None, description="Only memories whose JSON contains this object."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=20, description="At most this many memories.")] = 5,
    ) -> dict[str, Any]:
        """Look up what was remembered in earlier runs (long-term memory), best matches first.
        Without a query, the most recently saved memories."""
        return await backend().search(
            ctx.deps.tenant_id, _namespace(ctx), query=query, filter=filter, limit=limit
        )

    @toolset.tool
    async def memory_delete(
        ctx: RunContext[Any],
        key: Annotated[
            str, Field(min_length=1, max_length=200, description="The name the memory was saved under.")
        ],
    ) -> dict[str, Any]:
        """Forget one memory (e.g. when it is no longer true)."""
        return await backend().delete(ctx.deps.tenant_id, _namespace(ctx), key)

    return toolset
