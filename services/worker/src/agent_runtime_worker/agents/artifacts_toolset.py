"""The artifact tools (``artifact_list``, ``artifact_read``, ``artifact_write``): the files a run
was given (``POST /v1/runs`` ``artifact_ids``) and the files it writes.

Workflow half: this module defines the tools (names, descriptions, argument schemas) and nothing
else. Each call runs inside the ``artifacts`` toolset's tool-call activity
(``agent__agent_runtime__toolset__artifacts__call_tool``), where the backend the worker bound
(:class:`ArtifactBackend`: Postgres and the object storage) does the reading and writing as the
run's tenant. The backend reads the run's input artifacts from the run's row, so nothing about
them travels in the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Protocol

from pydantic import Field
from pydantic_ai import FunctionToolset, RunContext

ARTIFACTS_TOOLSET_ID: Final = "artifacts"
"""Frozen: it names the activity of every artifact tool call."""

MAX_READ_CHARS: Final = 20_000
"""``artifact_read`` returns at most this many characters per call (``next_offset`` goes on)."""
MAX_WRITE_CHARS: Final = 1_000_000
"""``artifact_write`` stores at most this many characters."""


class ArtifactBackend(Protocol):
    """What the artifact tools need from the worker's I/O half."""

    async def list(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        """The run's input artifacts and its outputs so far."""
        ...

    async def read(
        self, tenant_id: str, run_id: str, artifact_id: str, *, offset: int, max_chars: int
    ) -> dict[str, Any]:
        """A page of an artifact's text (one the run may read)."""
        ...

    async def write(
        self,
        tenant_id: str,
        run_id: str,
        tool_call_id: str,
        *,
        name: str,
        content: str,
        content_type: str,
    ) -> dict[str, Any]:
        """Store an output artifact of the run (once per tool call)."""
        ...


def build_artifacts_toolset(
    backend: Callable[[], ArtifactBackend],
    *,
    toolset_factory: Callable[[str], FunctionToolset[Any]] | None = None,
) -> FunctionToolset[Any]:
    """The artifact tools, calling ``backend()`` (read at call time, inside the activity)."""
    toolset = (
        toolset_factory(ARTIFACTS_TOOLSET_ID)
        if toolset_factory is not None
        else FunctionToolset[Any](id=ARTIFACTS_TOOLSET_ID)
    )

    @toolset.tool
    async def artifact_list(ctx: RunContext[Any]) -> dict[str, Any]:
        """List the files of this run: those it was given (`inputs`) and those it wrote so far
        (`outputs`), each with its `id`, `name`, `content_type` and `size` in bytes."""
        return await backend().list(ctx.deps.tenant_id, ctx.deps.run_id)

    @toolset.tool
    async def artifact_read(
        ctx: RunContext[Any],
        artifact_id: Annotated[
            str,
            Field(
                min_length=1,
                max_length=40,
                description="The file's id (`art_…`), from `artifact_list` or the user's message.",
            ),
        ],
        offset: Annotated[
            int, Field(ge=0, description="Start at this character (a previous call's `next_offset`).")
        ] = 0,
        max_chars: Annotated[
            int, Field(ge=1, le=MAX_READ_CHARS, description="At most this many characters.")
        ] = MAX_READ_CHARS,
    ) -> dict[str, Any]:
        """Read the text of one of this run's files (text, Markdown, JSON, CSV or PDF). Long files
        come in pages: when `next_offset` is not null, call again with `offset=next_offset`."""
        return await backend().read(
            ctx.deps.tenant_id, ctx.deps.run_id, artifact_id, offset=offset, max_chars=max_chars
        )

    @toolset.tool
    async def artifact_write(
        ctx: RunContext[Any],
        name: Annotated[
            str,
            Field(
                min_length=1,
                max_length=255,
                description="The file name, without any folder.",
                examples=["report.md"],
            ),
        ],
        content: Annotated[str, Field(max_length=MAX_WRITE_CHARS, description="The file's text.")],
        content_type: Annotated[
            str, Field(max_length=255, description="Its media type.", examples=["text/markdown"])
        ] = "text/plain",
    ) -> dict[str, Any]:
        """Save a text file as a result of this run (the user can download it). Returns its `id`."""
        return await backend().write(
            ctx.deps.tenant_id,
            ctx.deps.run_id,
            ctx.tool_call_id or name,
            name=name,
            content=content,
            content_type=content_type,
        )

    return toolset
