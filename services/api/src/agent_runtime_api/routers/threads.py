"""``/v1/threads``: conversations whose runs see earlier turns, one run at a time."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from agent_runtime_api.deps import RunReader, ThreadServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, IdCursor, Limit, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.schemas import (
    Page,
    Text,
    ThreadCreate,
    ThreadMessagePublic,
    ThreadPublic,
    ThreadUpdate,
)

router = APIRouter(prefix="/v1/threads", tags=["threads"], responses=AUTH_RESPONSES)

# Threads are conversations of runs: whoever may start runs may keep conversations, whoever may
# read runs may read them (docs/decisions.md, "Threads").
ThreadWriter = Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]

ThreadId = Annotated[Text, Path(max_length=40, description="Thread id (`thr_…`).")]
MetadataFilter = Annotated[
    Text | None,
    Query(
        alias="metadata",
        max_length=2000,
        description='Only threads whose metadata contains this JSON object, e.g. `{"user":"u_42"}`.',
    ),
]


def metadata_filter(metadata: MetadataFilter = None) -> dict[str, Any] | None:
    """The ``?metadata=`` JSON object (422 ``invalid_metadata_filter`` if it is not one)."""
    if metadata is None:
        return None
    try:
        value = json.loads(metadata)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            "metadata must be a JSON object", loc=["query", "metadata"], code="invalid_metadata_filter"
        )
    return value  # pyright: ignore[reportUnknownVariableType]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a thread", responses=problems())
async def create_thread(
    body: ThreadCreate, service: ThreadServiceDep, _: ThreadWriter, response: Response
) -> ThreadPublic:
    """Start a conversation. Run its turns with `POST /v1/runs` and `thread_id`."""
    thread = await service.create(body.metadata)
    response.headers["Location"] = f"/v1/threads/{thread.id}"
    return thread


@router.get("", summary="List threads", responses=problems())
async def list_threads(
    service: ThreadServiceDep,
    _: RunReader,
    metadata: Annotated[dict[str, Any] | None, Depends(metadata_filter)],
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[ThreadPublic]:
    """Threads of your tenant, newest first; `metadata` keeps those whose metadata contains it."""
    page = await service.list(limit=limit, before=cursor, metadata=metadata)
    return Page[ThreadPublic](data=page.items, next_cursor=page.next_cursor)


@router.get("/{thread_id}", summary="Get a thread", responses=problems(404))
async def get_thread(thread_id: ThreadId, service: ThreadServiceDep, _: RunReader) -> ThreadPublic:
    """One thread and its state: `idle`, `busy` (with `active_run_id`) or `interrupted` (the
    active run waits for a human), and the runs queued for the turn."""
    return await service.get(thread_id)


@router.patch("/{thread_id}", summary="Update a thread's metadata", responses=problems(404))
async def update_thread(
    thread_id: ThreadId, body: ThreadUpdate, service: ThreadServiceDep, _: ThreadWriter
) -> ThreadPublic:
    """Set the given metadata keys (the others are kept)."""
    return await service.update(thread_id, body.metadata)


@router.delete(
    "/{thread_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a thread",
    responses=problems(404, 409),
)
async def delete_thread(thread_id: ThreadId, service: ThreadServiceDep, _: ThreadWriter) -> None:
    """Delete a thread and its history (it is a 404 afterwards, runs can no longer name it).
    409 `thread_busy` while a run has the turn. Its runs stay readable."""
    await service.delete(thread_id)


@router.post(
    "/{thread_id}/copy",
    status_code=status.HTTP_201_CREATED,
    summary="Copy a thread",
    responses=problems(404),
)
async def copy_thread(
    thread_id: ThreadId, service: ThreadServiceDep, _: ThreadWriter, response: Response
) -> ThreadPublic:
    """A new, idle thread with this one's metadata, turns and summaries: a branch of the
    conversation. A run still in progress on the source is not part of the copy (its turn is
    appended only when it ends); later turns of either thread do not reach the other."""
    thread = await service.copy(thread_id)
    response.headers["Location"] = f"/v1/threads/{thread.id}"
    return thread


@router.get("/{thread_id}/messages", summary="List a thread's messages", responses=problems(404))
async def list_thread_messages(
    thread_id: ThreadId,
    service: ThreadServiceDep,
    _: RunReader,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")] = 100,
    cursor: IdCursor = None,
) -> Page[ThreadMessagePublic]:
    """The conversation in order, as the model sees it: user prompts, the model's answers and
    tool calls, tool results. Only succeeded runs' turns are in it, each appended whole."""
    page = await service.messages(thread_id, after=cursor, limit=limit)
    return Page[ThreadMessagePublic](data=page.items, next_cursor=page.next_cursor)
