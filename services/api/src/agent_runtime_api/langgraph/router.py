"""The LangGraph Platform routes (no ``/v1`` prefix: ``/info``, ``/assistants``, ``/threads``,
``/runs``, ``/store``), each calling the ``/v1`` services. Left out of our OpenAPI document: their
contract is LangGraph's (``langgraph-sdk``), not ours.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message

from agent_runtime_api.body_limit import RUN_INPUT_BODY, body_limit
from agent_runtime_api.deps import (
    AgentServiceDep,
    HumanRequestServiceDep,
    RunServiceDep,
    StoreServiceDep,
    StreamOptionsDep,
    StreamServiceDep,
    ThreadServiceDep,
    UnitOfWorkDep,
    require,
)
from agent_runtime_api.langgraph import messages as lc
from agent_runtime_api.langgraph.events import Part, RunTranslator, interrupt_of, stream_modes
from agent_runtime_api.services.human_requests import HumanRequestService
from agent_runtime_api.services.runs import RunService
from agent_runtime_api.services.streams import StreamService, parse_run_position
from agent_runtime_api.services.threads import ThreadService
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.db import UnitOfWork
from agent_runtime_core.errors import DomainError, ForbiddenError, InvalidRequestError, NotFoundError
from agent_runtime_core.lifecycle import TERMINAL_EVENT_TYPES
from agent_runtime_core.models import (
    Agent,
    AgentVersion,
    HumanRequest,
    HumanRequestKind,
    HumanRequestStatus,
    Run,
)
from agent_runtime_core.schemas import (
    AgentCreate,
    AgentUpdate,
    ApprovalDecision,
    InputAnswer,
    RunCreate,
    StoreItemPut,
    StoreNamespaceList,
    StoreSearch,
    ThreadMessagePublic,
    ThreadPublic,
)
from agent_runtime_core.schemas.store import namespace_problem, parse_namespace

router = APIRouter(include_in_schema=False)
"""Authenticated routes (included with the ``/v1`` authentication and rate limits)."""
public_router = APIRouter(include_in_schema=False)
"""``GET /info`` (no tenant data)."""

GRAPH_ID: Final = "agent"
"""Every assistant's graph: the one generic agent."""
MAX_LISTED: Final = 1000
"""Largest ``offset + limit`` of a search (lists here are offset-paged, ours cursor-paged)."""

AgentsReader = Annotated[Principal, Depends(require(Permission.AGENTS_READ))]
AgentsWriter = Annotated[Principal, Depends(require(Permission.AGENTS_WRITE))]
RunsReader = Annotated[Principal, Depends(require(Permission.RUNS_READ))]
RunsCreator = Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]
RunsCanceller = Annotated[Principal, Depends(require(Permission.RUNS_CANCEL))]
StoreReader = Annotated[Principal, Depends(require(Permission.STORE_READ))]
StoreWriter = Annotated[Principal, Depends(require(Permission.STORE_WRITE))]
M = TypeVar("M", bound=BaseModel)

RUN_STATUS: Final = {
    "queued": "pending",
    "running": "running",
    "waiting": "interrupted",
    "succeeded": "success",
    "failed": "error",
    "timed_out": "timeout",
    "cancelled": "interrupted",
}
"""Our run status → LangGraph's."""


def not_supported(
    what: str, hint: str = "", *, status_code: int = 422, loc: list[str | int] | None = None
) -> DomainError:
    """A clear problem for what the adapter does not do (docs/decisions.md, "LangGraph API")."""
    detail = f"{what} is not supported by Agent Runtime's LangGraph API." + (f" {hint}" if hint else "")
    if status_code == 501:
        return DomainError(detail=detail, status=501, code="not_supported", title="Not implemented")
    return InvalidRequestError(detail, loc=loc or ["body"], code="not_supported")


class Body(BaseModel):
    """A LangGraph request body: fields this adapter does not know are ignored (the SDK sends
    many, mostly ``null`` or defaults); the ones it cannot honour are refused by name."""

    model_config = ConfigDict(extra="allow")


def _refuse(body: BaseModel, fields: Sequence[str], hint: str = "") -> None:
    """422 for the first of ``fields`` the body sets (``None``/``False``/empty count as unset)."""
    extra = body.model_extra or {}
    for name in fields:
        value = getattr(body, name, None) if name in type(body).model_fields else extra.get(name)
        if value not in (None, False, [], {}, ""):
            raise not_supported(f"'{name}'", hint, loc=["body", name])


# ------------------------------------------------------------------------------------- info


@public_router.get("/info")
async def info() -> dict[str, Any]:
    """What LangGraph clients check first."""
    return {
        "version": "0.1.0",
        "langgraph_py_version": None,
        "flags": {
            "assistants": True,
            "crons": False,
            "langsmith": False,
            "langsmith_tracing_replicas": False,
        },
        "host": {"kind": "agent-runtime", "project_id": None, "revision_id": None, "tenant_id": None},
    }


# ------------------------------------------------------------------------------- assistants


def assistant(agent: Agent, version: AgentVersion | None = None) -> dict[str, Any]:
    """An agent (at ``version``, else its latest) as a LangGraph assistant."""
    return {
        "assistant_id": agent.id,
        "graph_id": GRAPH_ID,
        "config": {},
        "context": {},
        "metadata": {},
        "version": version.version if version is not None else agent.latest_version,
        "name": agent.name,
        "description": agent.description or None,
        "created_at": (version or agent).created_at.isoformat(),
        "updated_at": agent.updated_at.isoformat(),
    }


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=10, ge=1, le=MAX_LISTED)
    offset: int = Field(default=0, ge=0, le=MAX_LISTED)


async def _agents(service: AgentServiceDep, body: AssistantSearch) -> list[Agent]:
    if body.metadata or (body.graph_id is not None and body.graph_id != GRAPH_ID):
        return []  # agents carry no metadata; every assistant's graph is "agent"
    page = await service.list(limit=min(body.offset + body.limit, MAX_LISTED), before=None)
    agents = page.items
    if body.name:
        agents = [agent for agent in agents if body.name.lower() in agent.name.lower()]
    return agents


@router.post("/assistants/search")
async def search_assistants(
    body: AssistantSearch, service: AgentServiceDep, _: AgentsReader, response: Response
) -> list[dict[str, Any]]:
    """Agents, newest first."""
    agents = await _agents(service, body)
    found = agents[body.offset : body.offset + body.limit]
    if len(agents) > body.offset + body.limit:
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return [assistant(agent) for agent in found]


@router.post("/assistants/count")
async def count_assistants(body: AssistantSearch, service: AgentServiceDep, _: AgentsReader) -> int:
    """How many agents match (up to 1,000)."""
    body.offset, body.limit = 0, MAX_LISTED
    return len(await _agents(service, body))


class AssistantCreate(Body):
    graph_id: str = Field(max_length=100)
    name: str | None = None
    description: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    assistant_id: str | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None


def _validated(model: type[M], value: Any, loc: list[str | int]) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in [*loc, *first["loc"]])
        raise InvalidRequestError(f"{where}: {first['msg']}", loc=[*loc, *first["loc"]]) from error


@router.post("/assistants")
async def create_assistant(
    body: AssistantCreate, service: AgentServiceDep, _: AgentsWriter
) -> dict[str, Any]:
    """A new agent whose first version is ``context`` (or ``config.configurable``): the body of
    ``POST /v1/agents/{id}/versions`` (``model``, ``instructions``, ``tools``…)."""
    if body.graph_id != GRAPH_ID:
        raise not_supported(f"graph_id '{body.graph_id}'", f"Every assistant runs the graph '{GRAPH_ID}'.")
    _refuse(body, ["assistant_id", "metadata"], "Assistant ids are generated; assistants carry no metadata.")
    version = body.context or (body.config or {}).get("configurable")
    if not version:
        raise InvalidRequestError(
            "context must hold the agent's version (as POST /v1/agents/{id}/versions takes it), e.g. "
            '{"model": "builtin:scripted", "tools": [{"name": "calculator"}]}',
            loc=["body", "context"],
            code="assistant_version_missing",
        )
    name = body.name or "assistant"
    create = _validated(
        AgentCreate, {"name": name, "description": body.description or "", "version": version}, ["body"]
    )
    agent, created = await service.create(create)
    return assistant(agent, created)


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, service: AgentServiceDep, _: AgentsReader) -> dict[str, Any]:
    """One agent."""
    return assistant(await service.get(_id(assistant_id)))


class AssistantPatch(Body):
    name: str | None = None
    description: str | None = None
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


@router.patch("/assistants/{assistant_id}")
async def update_assistant(
    assistant_id: str, body: AssistantPatch, service: AgentServiceDep, _: AgentsWriter
) -> dict[str, Any]:
    """Rename or re-describe an agent (a behaviour change is a new version: ``/v1``)."""
    _refuse(
        body, ["config", "context", "metadata"], "Create a new version with POST /v1/agents/{id}/versions."
    )
    if body.graph_id not in (None, GRAPH_ID):
        raise not_supported(f"graph_id '{body.graph_id}'", loc=["body", "graph_id"])
    update = _validated(AgentUpdate, {"name": body.name, "description": body.description}, ["body"])
    return assistant(await service.update(_id(assistant_id), update))


@router.delete("/assistants/{assistant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_assistant(
    assistant_id: str, service: AgentServiceDep, _: AgentsWriter, delete_threads: bool = False
) -> None:
    """Delete an agent (409 while it has active runs)."""
    if delete_threads:
        raise not_supported(
            "delete_threads", "Threads belong to no assistant here.", loc=["query", "delete_threads"]
        )
    await service.delete(_id(assistant_id))


class VersionSearch(Body):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_LISTED)


@router.post("/assistants/{assistant_id}/versions")
async def assistant_versions(
    assistant_id: str, body: VersionSearch, service: AgentServiceDep, _: AgentsReader
) -> list[dict[str, Any]]:
    """The agent's versions, newest first."""
    agent = await service.get(_id(assistant_id))
    if body.metadata:
        return []
    page = await service.list_versions(agent.id, limit=min(body.offset + body.limit, MAX_LISTED), below=None)
    return [assistant(agent, version) for version in page.items[body.offset :]]


class SetLatest(Body):
    version: int


@router.post("/assistants/{assistant_id}/latest")
async def set_latest_version(
    assistant_id: str, body: SetLatest, service: AgentServiceDep, _: AgentsWriter
) -> dict[str, Any]:
    """Only the newest version can be the latest (a run may pin an older one with ``/v1``)."""
    agent = await service.get(_id(assistant_id))
    if body.version != agent.latest_version:
        raise not_supported(
            "Making an older version the latest",
            "An agent's latest version is always its newest; create a new version with "
            "POST /v1/agents/{id}/versions.",
            loc=["body", "version"],
        )
    return assistant(agent)


_MESSAGES: Final[dict[str, Any]] = {"type": "array", "items": {"type": "object"}}
MESSAGES_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {"messages": _MESSAGES}}
STATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "messages": _MESSAGES,
        "summary": {
            "type": "string",
            "description": "The summary of the oldest turns (the version's `summarize` context strategy).",
        },
    },
}


@router.get("/assistants/{assistant_id}/schemas")
async def assistant_schemas(assistant_id: str, service: AgentServiceDep, _: AgentsReader) -> dict[str, Any]:
    """The state is ``{"messages": [...], "summary"?: str}``; no configuration."""
    await service.get(_id(assistant_id))
    return {
        "graph_id": GRAPH_ID,
        "input_schema": MESSAGES_SCHEMA,
        "output_schema": STATE_SCHEMA,
        "state_schema": STATE_SCHEMA,
        "config_schema": None,
        "context_schema": None,
    }


@router.get("/assistants/{assistant_id}/graph")
async def assistant_graph(assistant_id: str, service: AgentServiceDep, _: AgentsReader) -> dict[str, Any]:
    """The agent loop: the model, then tools, until the model answers."""
    await service.get(_id(assistant_id))
    nodes = ["__start__", "agent", "tools", "__end__"]
    edges = [
        ("__start__", "agent", False),
        ("agent", "tools", True),
        ("tools", "agent", False),
        ("agent", "__end__", True),
    ]
    return {
        "nodes": [{"id": node, "type": "runnable", "data": node} for node in nodes],
        "edges": [{"source": s, "target": t, "conditional": c} for s, t, c in edges],
    }


@router.get("/assistants/{assistant_id}/subgraphs")
async def assistant_subgraphs(assistant_id: str, service: AgentServiceDep, _: AgentsReader) -> dict[str, Any]:
    """None."""
    await service.get(_id(assistant_id))
    return {}


def _id(value: str) -> str:
    """A path id: ours are short; anything longer is no id of ours (404 rather than a 500 deep down)."""
    if not value or len(value) > 40 or "\x00" in value:
        raise NotFoundError("Resource", value[:40].replace("\x00", ""))
    return value


# ---------------------------------------------------------------------------------- threads


@dataclass(frozen=True)
class Ctx:
    """What the thread and run routes use: services that open their own transactions."""

    uow: UnitOfWork
    runs: RunService
    humans: HumanRequestService
    streams: StreamService


def get_ctx(
    uow: UnitOfWorkDep, runs: RunServiceDep, humans: HumanRequestServiceDep, streams: StreamServiceDep
) -> Ctx:
    return Ctx(uow=uow, runs=runs, humans=humans, streams=streams)


CtxDep = Annotated[Ctx, Depends(get_ctx)]


async def history(uow: UnitOfWork, thread_id: str) -> list[ThreadMessagePublic]:
    """Every message of the thread, in order."""
    items: list[ThreadMessagePublic] = []
    after: str | None = None
    while True:
        async with uow.begin() as session:
            page = await ThreadService(session, uow.tenant_id).messages(thread_id, after=after, limit=1000)
        items.extend(page.items)
        if page.next_cursor is None or not page.items:
            return items
        after = page.items[-1].id


async def pending_requests(humans: HumanRequestService, run_id: str) -> list[HumanRequest]:
    """The run's pending approvals and questions."""
    pending: list[HumanRequest] = []
    for kind in (HumanRequestKind.APPROVAL, HumanRequestKind.INPUT):
        page = await humans.list(run_id, kind, limit=100, after=None)
        pending.extend(request for request in page.items if request.status == HumanRequestStatus.PENDING)
    return pending


def _interrupt(request: HumanRequest) -> dict[str, Any]:
    return interrupt_of(request.model_dump(mode="json"))


async def thread_dict(ctx: Ctx, thread: ThreadPublic, *, new: bool = False) -> dict[str, Any]:
    """A thread as LangGraph shows it: its values and pending interrupts (``new``: created in this
    request, not committed yet: no history to read)."""
    interrupts: dict[str, list[dict[str, Any]]] = {}
    if thread.status == "interrupted" and thread.active_run_id is not None:
        pending = await pending_requests(ctx.humans, thread.active_run_id)
        interrupts[thread.active_run_id] = [_interrupt(request) for request in pending]
    messages = [] if new else lc.from_thread(await history(ctx.uow, thread.id))
    values: dict[str, Any] = {"messages": messages}
    if thread.summary is not None:
        values["summary"] = thread.summary.text
    return {
        "thread_id": thread.id,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "state_updated_at": thread.updated_at.isoformat(),
        "metadata": thread.metadata,
        "status": thread.status.value,
        "values": values,
        "interrupts": interrupts,
        "config": {},
        "context": {},
    }


class ThreadCreateBody(Body):
    metadata: dict[str, Any] | None = None
    thread_id: str | None = None
    if_exists: str | None = None
    supersteps: list[Any] | None = None
    ttl: Any = None


@router.post("/threads")
async def create_thread(
    body: ThreadCreateBody, ctx: CtxDep, service: ThreadServiceDep, _: RunsCreator
) -> dict[str, Any]:
    """A new, idle thread."""
    _refuse(body, ["thread_id"], "Thread ids are generated (thr_…); omit it.")
    _refuse(body, ["supersteps", "ttl"])
    return await thread_dict(ctx, await service.create(body.metadata or {}), new=True)


class ThreadSearchBody(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = Field(default=None, max_length=MAX_LISTED)
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=MAX_LISTED)
    offset: int = Field(default=0, ge=0, le=MAX_LISTED)


def _search_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """The metadata to search for. Each agent is also a graph of its own here: ``graph_id``
    naming an agent finds the threads it ran on (agent-chat-ui searches ``{"graph_id": <assistant
    id>}`` for an assistant id that is no UUID, as ours are not); ``None`` when that contradicts
    an ``assistant_id`` also asked for (nothing matches)."""
    if not metadata or metadata.get("graph_id") in (None, GRAPH_ID):
        return metadata
    searched = {key: value for key, value in metadata.items() if key != "graph_id"}
    agent_id = metadata["graph_id"]
    if searched.setdefault("assistant_id", agent_id) != agent_id:
        return None
    return searched | {"graph_id": GRAPH_ID}


async def _threads(service: ThreadService, body: ThreadSearchBody) -> list[ThreadPublic]:
    _refuse(body, ["values"], "Search threads by metadata.")
    metadata = _search_metadata(body.metadata)
    if body.metadata and metadata is None:
        return []
    if body.ids is not None:
        found: list[ThreadPublic] = []
        for thread_id in body.ids:
            with contextlib.suppress(NotFoundError):
                found.append(await service.get(_id(thread_id)))
        threads = [t for t in found if not metadata or metadata.items() <= t.metadata.items()]
    else:
        page = await service.list(
            limit=min(body.offset + body.limit, MAX_LISTED), before=None, metadata=metadata
        )
        threads = page.items
    if body.status is not None:
        threads = [thread for thread in threads if thread.status.value == body.status]
    return threads


@router.post("/threads/search")
async def search_threads(
    body: ThreadSearchBody, ctx: CtxDep, service: ThreadServiceDep, _: RunsReader
) -> list[dict[str, Any]]:
    """Threads, newest first, whose metadata contains ``metadata``."""
    threads = (await _threads(service, body))[body.offset : body.offset + body.limit]
    return [await thread_dict(ctx, thread) for thread in threads]


@router.post("/threads/count")
async def count_threads(body: ThreadSearchBody, service: ThreadServiceDep, _: RunsReader) -> int:
    """How many threads match (up to 1,000)."""
    body.offset, body.limit = 0, MAX_LISTED
    return len(await _threads(service, body))


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, ctx: CtxDep, service: ThreadServiceDep, _: RunsReader) -> dict[str, Any]:
    """One thread with its values and interrupts."""
    return await thread_dict(ctx, await service.get(_id(thread_id)))


class ThreadPatchBody(Body):
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    ttl: Any = None


@router.patch("/threads/{thread_id}")
async def update_thread(
    thread_id: str, body: ThreadPatchBody, ctx: CtxDep, service: ThreadServiceDep, _: RunsCreator
) -> dict[str, Any]:
    """Merge metadata keys."""
    _refuse(body, ["ttl"])
    return await thread_dict(ctx, await service.update(_id(thread_id), body.metadata))


@router.delete("/threads/{thread_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_thread(thread_id: str, service: ThreadServiceDep, _: RunsCreator) -> None:
    """Delete a thread (409 ``thread_busy`` while a run has the turn)."""
    await service.delete(_id(thread_id))


def _checkpoint(thread_id: str, checkpoint_id: str) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "checkpoint_ns": "",
        "checkpoint_id": checkpoint_id,
        "checkpoint_map": None,
    }


@dataclass(frozen=True)
class InProgress:
    """The run that has the thread's turn, and its messages so far (not in the history yet: a
    run's turn is appended when it succeeds)."""

    run_id: str
    messages: list[lc.Message]
    interrupts: list[dict[str, Any]]


def _state(
    thread: ThreadPublic, messages: list[ThreadMessagePublic], in_progress: InProgress | None = None
) -> dict[str, Any]:
    """The thread's state after the turns ``messages`` hold (checkpoint ``turn-<seq>``), or, with
    ``in_progress``, while a run has the turn (checkpoint ``<run id>``, child of the last turn's)."""
    turn = messages[-1].seq if messages else 0
    values = lc.from_thread(messages)
    checkpoint, parent = f"turn-{turn}", f"turn-{turn - 1}" if turn > 0 else None
    tasks: list[dict[str, Any]] = []
    interrupts: list[dict[str, Any]] = []
    if in_progress is not None:
        values += in_progress.messages
        checkpoint, parent = in_progress.run_id, f"turn-{turn}"
        interrupts = in_progress.interrupts
        tasks.append(
            {
                "id": in_progress.run_id,
                "name": "agent",
                "path": ["__pregel_pull", "agent"],
                "error": None,
                "interrupts": interrupts,
                "checkpoint": None,
                "state": None,
                "result": None,
            }
        )
    run_id = in_progress.run_id if in_progress is not None else messages[-1].run_id if messages else None
    state: dict[str, Any] = {"messages": values}
    if thread.summary is not None and thread.summary.through_seq <= turn:
        state["summary"] = thread.summary.text  # what the model sees in place of the older turns
    return {
        "values": state,
        "next": ["agent"] if tasks else [],
        "checkpoint": _checkpoint(thread.id, checkpoint),
        "metadata": {"step": turn + (in_progress is not None), "source": "loop", "run_id": run_id},
        "created_at": (
            thread.updated_at if in_progress or not messages else messages[-1].created_at
        ).isoformat(),
        "parent_checkpoint": _checkpoint(thread.id, parent) if parent is not None else None,
        "tasks": tasks,
        "interrupts": interrupts,
    }


async def _in_progress(
    ctx: Ctx, thread: ThreadPublic, messages: list[ThreadMessagePublic]
) -> InProgress | None:
    """The thread's active run with what it said so far (its events replayed), if any."""
    run_id = thread.active_run_id
    if run_id is None or any(message.run_id == run_id for message in messages):
        return None  # idle, or the run ended (its turn appended) since the thread was read
    run = await ctx.runs.get(run_id)
    translator = RunTranslator(
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.agent_id,
        run_input=run.input,
        history=[],
        modes=frozenset(),
    )
    after = 0
    while True:
        page = await ctx.runs.events(run.id, after=after, limit=1000)
        for event in page.items:
            translator.feed(event.seq, event.type, event.data, live_from=event.seq)
        if page.next_cursor is None or not page.items:
            break
        after = page.items[-1].seq
    interrupts: list[dict[str, Any]] = []
    if thread.status == "interrupted":
        interrupts = [_interrupt(request) for request in await pending_requests(ctx.humans, run.id)]
    return InProgress(run_id=run.id, messages=translator.run_messages, interrupts=interrupts)


async def _current_state(
    ctx: Ctx, thread: ThreadPublic, messages: list[ThreadMessagePublic]
) -> dict[str, Any]:
    return _state(thread, messages, await _in_progress(ctx, thread, messages))


@router.get("/threads/{thread_id}/state")
async def get_thread_state(
    thread_id: str, ctx: CtxDep, service: ThreadServiceDep, _: RunsReader, subgraphs: bool = False
) -> dict[str, Any]:
    """The conversation so far, and the pending interrupts (``tasks[].interrupts`` too)."""
    thread = await service.get(_id(thread_id))
    return await _current_state(ctx, thread, await history(ctx.uow, thread.id))


class HistoryBody(Body):
    limit: int = Field(default=10, ge=1, le=1000)
    before: Any = None
    metadata: dict[str, Any] | None = None
    checkpoint: Any = None


@router.post("/threads/{thread_id}/history")
async def thread_history(
    thread_id: str, body: HistoryBody, ctx: CtxDep, service: ThreadServiceDep, _: RunsReader
) -> list[dict[str, Any]]:
    """One state per turn (a "checkpoint" is a turn here), newest first."""
    _refuse(body, ["before", "metadata", "checkpoint"], "Checkpoints are turns; there is no time travel.")
    thread = await service.get(_id(thread_id))
    messages = await history(ctx.uow, thread.id)
    turns = sorted({message.seq for message in messages}, reverse=True)
    states = (
        [await _current_state(ctx, thread, messages)] if thread.active_run_id is not None or not turns else []
    )
    for turn in turns:
        states.append(_state(thread, [m for m in messages if m.seq <= turn]))
    return states[: body.limit]


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
@router.post("/threads/{thread_id}/state/checkpoint")
@router.post("/threads/{thread_id}/state")
async def thread_state_unsupported(_: RunsReader) -> None:
    """Reading old checkpoints or writing state."""
    raise not_supported(
        "Reading a past checkpoint or updating a thread's state",
        "A thread's state is its runs' turns; read it with GET /threads/{id}/state or /history.",
        status_code=501,
    )


@router.post("/threads/{thread_id}/copy")
async def copy_thread(
    thread_id: str, ctx: CtxDep, service: ThreadServiceDep, _: RunsCreator
) -> dict[str, Any]:
    """A new thread with this one's metadata and finished turns."""
    copied = await service.copy(_id(thread_id))
    shown = await thread_dict(ctx, copied, new=True)
    # The copy is not committed yet: read its turns in this request's transaction.
    messages: list[ThreadMessagePublic] = []
    after: str | None = None
    while page := (await service.messages(copied.id, after=after, limit=1000)).items:
        messages.extend(page)
        after = page[-1].id
    shown["values"] = {"messages": lc.from_thread(messages)}
    return shown


@router.post("/threads/prune")
@router.get("/threads/{thread_id}/stream")
@router.get("/threads/{thread_id}/runs")
@router.delete("/threads/{thread_id}/runs/{run_id}")
async def thread_unsupported(_: RunsReader) -> None:
    """Pruning, thread-wide streams, listing and deleting runs."""
    raise not_supported(
        "This thread operation",
        "Supported: create, search, count, get, patch, delete, copy, state, history and runs "
        "(create, stream, wait, get, join, join_stream, cancel).",
        status_code=501,
    )


# ------------------------------------------------------------------------------------- runs


def run_dict(run: Run) -> dict[str, Any]:
    """A run as LangGraph shows it."""
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": run.agent_id,
        "created_at": run.created_at.isoformat(),
        "updated_at": (run.finished_at or run.started_at or run.created_at).isoformat(),
        "status": RUN_STATUS.get(run.status.value, "pending"),
        "metadata": {},
        "multitask_strategy": run.multitask_strategy or "reject",
        "kwargs": {"input": {"messages": [{"type": "human", "content": run.input}]}},
    }


class Command(Body):
    resume: Any = None
    goto: Any = None
    update: Any = None


class RunBody(Body):
    assistant_id: str = Field(min_length=1, max_length=40)
    input: dict[str, Any] | None = None
    command: Command | None = None
    stream_mode: str | list[str] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


UNSUPPORTED_RUN_FIELDS: Final = (
    "checkpoint",
    "checkpoint_id",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "after_seconds",
    "feedback_keys",
)
# ``stream_subgraphs`` is accepted: our graph has no subgraphs (``/assistants/{id}/subgraphs`` is
# empty), so a stream with it is the stream without it. agent-chat-ui sends it on every submit.


@dataclass(frozen=True)
class Started:
    """A run a LangGraph call started or resumed, and the first event of it that is new."""

    run: Run
    live_from: int


async def start_run(
    ctx: Ctx, principal: Principal, thread_id: str | None, body: RunBody, *, streamed: bool = False
) -> Started:
    """Start a run (``input``), or resume the thread's interrupted one (``command.resume``).
    ``on_disconnect='cancel'`` is for ``streamed`` requests: the stream cancels the run if its
    client leaves before the run ends or waits for a human."""
    _refuse(body, UNSUPPORTED_RUN_FIELDS, "See docs/decisions.md, 'LangGraph API'.")
    if body.if_not_exists == "create":
        raise not_supported(
            "if_not_exists='create'",
            "Create the thread first (POST /threads).",
            loc=["body", "if_not_exists"],
        )
    if body.on_disconnect == "cancel":
        if not streamed:
            raise not_supported(
                "on_disconnect='cancel' without a stream",
                "Runs go on when a client disconnects; cancel them.",
                loc=["body", "on_disconnect"],
            )
        _require_cancel(principal, "on_disconnect='cancel'")
    if body.on_completion == "delete":
        raise not_supported("on_completion='delete'", loc=["body", "on_completion"])
    if body.command is not None:
        # agent-chat-ui resumes with `submit({}, {command})`: an empty input is no input.
        if body.input:
            raise InvalidRequestError("Send either input or command, not both.", loc=["body", "command"])
        return await resume(ctx, principal, thread_id, body.assistant_id, body.command)
    text = lc.input_text(body.input)
    created = await ctx.runs.create(
        _validated(
            RunCreate,
            {
                "agent_id": body.assistant_id,
                "input": text,
                "thread_id": thread_id,
                "multitask_strategy": body.multitask_strategy or "reject",
            },
            ["body"],
        ),
        None,
    )
    if thread_id is not None:
        await stamp_thread(ctx.uow, thread_id, body.assistant_id)
    return Started(run=created.run, live_from=1)


async def stamp_thread(uow: UnitOfWork, thread_id: str, assistant_id: str) -> None:
    """Record on the thread's metadata the assistant that last ran on it, as LangGraph does
    (``{"graph_id": "agent", "assistant_id": …}``): UIs list an assistant's threads by it
    (agent-chat-ui searches ``metadata.graph_id``/``assistant_id``). Written only when it changes."""
    stamp = {"graph_id": GRAPH_ID, "assistant_id": assistant_id}
    async with uow.begin() as session:
        threads = ThreadService(session, uow.tenant_id)
        if not stamp.items() <= (await threads.get(thread_id)).metadata.items():
            await threads.update(thread_id, stamp)


def _require_cancel(principal: Principal, what: str) -> None:
    if not principal.can(Permission.RUNS_CANCEL):
        raise ForbiddenError(f"{what} needs the 'runs:cancel' permission", permission=Permission.RUNS_CANCEL)


async def resume(
    ctx: Ctx, principal: Principal, thread_id: str | None, assistant_id: str, command: Command
) -> Started:
    """Resolve the pending approvals/questions of the thread's waiting run with ``command.resume``
    and go on following that run (the resumed run is the same run here)."""
    _refuse(command, ["goto", "update"], "Only command.resume is supported.")
    if thread_id is None:
        raise InvalidRequestError(
            "command.resume needs a thread.", loc=["body", "command"], code="not_supported"
        )
    if "resume" not in command.model_fields_set:
        raise InvalidRequestError("command needs resume.", loc=["body", "command", "resume"])
    if not principal.can(Permission.APPROVALS_DECIDE):
        raise ForbiddenError(
            "resuming an interrupt needs the 'approvals:decide' permission",
            permission=Permission.APPROVALS_DECIDE,
        )
    async with ctx.uow.begin() as session:
        thread = await ThreadService(session, ctx.uow.tenant_id).get(thread_id)
    run = await ctx.runs.get(thread.active_run_id) if thread.active_run_id else None
    pending = await pending_requests(ctx.humans, run.id) if run is not None else []
    if run is None or not pending:
        raise DomainError(
            detail=f"Thread '{thread_id}' has no pending interrupt to resume.",
            status=409,
            code="no_pending_interrupt",
            title="Conflict",
        )
    if run.agent_id != assistant_id:
        raise InvalidRequestError(
            f"The interrupted run is of assistant '{run.agent_id}'.", loc=["body", "assistant_id"]
        )
    live_from = run.last_event_seq + 1
    for request, value in _resume_values(pending, command.resume):
        if request.kind == HumanRequestKind.APPROVAL:
            await ctx.humans.decide(run.id, request.id, _approval(value), principal.subject)
        else:
            answer = _validated(
                InputAnswer,
                {"request_id": request.id, "answer": _answer(value)},
                ["body", "command", "resume"],
            )
            await ctx.humans.answer(run.id, answer, principal.subject)
    return Started(run=await ctx.runs.get(run.id), live_from=live_from)


def _resume_values(pending: list[HumanRequest], value: Any) -> list[tuple[HumanRequest, Any]]:
    """One value for the only pending request, a map by interrupt id (request id), or LangChain's
    human-in-the-loop answer ``{"decisions": [...]}``: one decision per pending request, in the
    order of the interrupts (what agent-chat-ui sends)."""
    by_id = {request.id: request for request in pending}
    mapping = lc.as_dict(value)
    if mapping and set(mapping) <= set(by_id):
        return [(by_id[key], item) for key, item in mapping.items()]
    if mapping is not None and set(mapping) == {"decisions"}:
        decisions = lc.as_list(mapping["decisions"]) or []
        if len(decisions) != len(pending):
            raise InvalidRequestError(
                f"{len(decisions)} decisions for {len(pending)} pending interrupts "
                f"({', '.join(by_id)}); send one decision per interrupt, in their order.",
                loc=["body", "command", "resume", "decisions"],
                code="resume_ambiguous",
            )
        return list(zip(pending, decisions, strict=True))
    if len(pending) == 1:
        return [(pending[0], value)]
    raise InvalidRequestError(
        f"{len(pending)} interrupts are pending ({', '.join(by_id)}); resume with a map of "
        "interrupt id to value.",
        loc=["body", "command", "resume"],
        code="resume_ambiguous",
    )


APPROVE: Final = {"approve", "approved", "accept", "yes", "y", "ok"}
REJECT: Final = {"reject", "rejected", "deny", "denied", "no", "n", "ignore"}


def _approval(value: Any) -> ApprovalDecision:
    """``True``/``"approve"``/``{"approve": true}``/``{"decision": "approve"}``/``{"type":
    "approve"}`` approve; ``False``/``"reject"``/``{"approve": false, "reason": …}``/``{"decision":
    "reject", "reason": …}``/``{"type": "reject", "message": …}`` reject (the reason is told to the
    model). LangChain's ``{"type": "edit", …}`` is refused: a call is approved as the model made it."""
    reason: Any = None
    decision: Any = value
    if (fields := lc.as_dict(value)) is not None:
        reason = fields.get("reason", fields.get("message"))
        decision = fields.get("approve", fields.get("decision", fields.get("type")))
    if decision == "edit":
        raise not_supported("Editing a tool call", "Approve or reject it.", loc=["body", "command", "resume"])
    if isinstance(decision, str):
        decision = True if decision.lower() in APPROVE else False if decision.lower() in REJECT else None
    if not isinstance(decision, bool):
        raise InvalidRequestError(
            'An approval resumes with true/"approve", false/"reject", or {"approve": bool, "reason": "…"}.',
            loc=["body", "command", "resume"],
            code="invalid_resume",
        )
    return _validated(
        ApprovalDecision,
        {
            "decision": "approve" if decision else "reject",
            "reason": reason if isinstance(reason, str) else None,
        },
        ["body", "command", "resume"],
    )


def _answer(value: Any) -> Any:
    fields = lc.as_dict(value)
    return fields.get("answer") if fields is not None else value


async def _history_before(uow: UnitOfWork, run: Run) -> list[lc.Message]:
    if run.thread_id is None:
        return []
    before: list[ThreadMessagePublic] = []
    for message in await history(uow, run.thread_id):
        if message.run_id == run.id:
            break
        before.append(message)
    return lc.from_thread(before)


async def follow(
    ctx: Ctx, run: Run, modes: frozenset[str], *, live_from: int
) -> AsyncGenerator[tuple[list[Part], str | None]]:
    """The LangGraph parts of the run's events from ``live_from`` on (earlier ones are replayed
    silently to rebuild the state), grouped by event with the event's ``seq`` as SSE id; ends
    when the run ends or waits for a human."""
    translator = RunTranslator(
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.agent_id,
        run_input=run.input,
        history=await _history_before(ctx.uow, run),
        modes=modes,
    )
    waits_end_from = max(live_from, run.last_event_seq)
    opened = live_from <= 1
    events = await ctx.streams.open_run_stream(run.id, after_seq=0)
    async with contextlib.aclosing(events):
        async for event in events:
            seq = int(event.id)
            envelope = json.loads(event.data)
            data = lc.as_dict(lc.as_dict(envelope) and envelope.get("data")) or {}
            if not opened and seq >= live_from:
                opened = True
                if opening := translator.opening():
                    yield opening, None
            parts = translator.feed(seq, event.type, data, live_from=waits_end_from)
            if event.type in TERMINAL_EVENT_TYPES:
                outcome = event.type.removeprefix("run.")
                if outcome == "succeeded" and run.thread_id is not None:
                    with contextlib.suppress(NotFoundError):  # deleted meanwhile: keep what we built
                        translator.replace_messages(lc.from_thread(await history(ctx.uow, run.thread_id)))
                parts += translator.closing(outcome)
            if seq >= live_from:
                yield parts, str(seq)
            if translator.done:
                return


def _sse(parts: list[Part], seq: str | None) -> list[ServerSentEvent]:
    """One SSE message per part. Every part of event ``seq`` carries an id: ``<seq>.<index>``, and
    the group's last one ``<seq>``, so a client that lost the connection in the middle of a group
    resumes after the last part it got (no repeated message chunk) and a plain ``<seq>`` still
    means "after the whole event"."""
    messages: list[ServerSentEvent] = []
    for index, (name, data) in enumerate(parts):
        event_id = None if seq is None else seq if index == len(parts) - 1 else f"{seq}.{index}"
        messages.append(ServerSentEvent(data=json.dumps(data, default=str), event=name, id=event_id))
    return messages


def stream_position(run_id: str, last_event_id: str | None) -> tuple[int, int]:
    """Where a rejoin resumes: ``(first seq to send, parts of that seq already sent)``, from a
    ``Last-Event-ID`` of ``<seq>`` (after the whole event) or ``<seq>.<index>`` (after that part)."""
    if last_event_id is not None:
        head, dot, index = last_event_id.strip().rpartition(".")
        if dot and index.isdigit() and len(index) <= 4:
            return parse_run_position(run_id, head, None), int(index) + 1
    return parse_run_position(run_id, last_event_id, None) + 1, 0


def _stream_response(
    ctx: Ctx,
    run: Run,
    modes: frozenset[str],
    live_from: int,
    keepalive_s: float,
    *,
    sent_parts: int = 0,
    cancel_on_disconnect: bool = False,
) -> EventSourceResponse:
    """The run's LangGraph stream from event ``live_from`` on, the first ``sent_parts`` parts of
    that event left out (a client resuming in the middle of it has them). With
    ``cancel_on_disconnect`` (``on_disconnect='cancel'``, what ``useStream`` asks for unless the
    stream is resumable), a client that leaves before the run ends or waits for a human cancels it
    (agent-chat-ui's Cancel button only closes its stream)."""
    followed = False

    async def body() -> AsyncGenerator[ServerSentEvent]:
        nonlocal followed
        yield ServerSentEvent(data=json.dumps({"run_id": run.id, "attempt": 1}), event="metadata")
        async with contextlib.aclosing(follow(ctx, run, modes, live_from=live_from)) as groups:
            async for parts, event_id in groups:
                messages = _sse(parts, event_id)
                if sent_parts and event_id == str(live_from):
                    messages = messages[sent_parts:]
                for message in messages:
                    yield message
        followed = True
        yield ServerSentEvent(event="end", data="null")

    async def on_client_disconnect(_message: Message) -> None:
        # Called when the client leaves, not when the server shuts down (runs outlive the API).
        if cancel_on_disconnect and not followed:
            with contextlib.suppress(DomainError):  # it ended meanwhile
                await ctx.runs.cancel(run.id)

    headers = {}
    if run.thread_id is not None:
        query = "&".join(f"stream_mode={mode}" for mode in sorted(modes))
        headers = {
            "Location": f"/threads/{run.thread_id}/runs/{run.id}/stream?{query}",
            "Content-Location": f"/threads/{run.thread_id}/runs/{run.id}",
        }
    return EventSourceResponse(
        body(), ping=keepalive_s, headers=headers, client_close_handler_callable=on_client_disconnect
    )


async def wait_values(ctx: Ctx, run: Run, *, live_from: int = 1) -> dict[str, Any]:
    """The state once the run ended or waits for a human (``{"__error__": …}`` when it failed)."""
    last: dict[str, Any] | None = None
    async with contextlib.aclosing(follow(ctx, run, frozenset({"values"}), live_from=live_from)) as groups:
        async for parts, _ in groups:
            for name, data in parts:
                if name == "error":
                    return {"__error__": data}
                if name == "values":
                    last = data
    return last if last is not None else await _final_values(ctx, await ctx.runs.get(run.id))


async def _final_values(ctx: Ctx, run: Run) -> dict[str, Any]:
    values: dict[str, Any] = {"messages": []}
    if run.thread_id is not None:
        values["messages"] = lc.from_thread(await history(ctx.uow, run.thread_id))
        if run.status.value == "waiting":
            values["messages"].append(lc.human(f"{run.id}:0", run.input))
    else:
        values["messages"] = [lc.human(f"{run.id}:0", run.input)]
        if run.output is not None:
            values["messages"].append(lc.ai(f"{run.id}:1", lc.as_text(run.output)))
    if run.status.value == "waiting":
        pending = await pending_requests(ctx.humans, run.id)
        if pending:
            values["__interrupt__"] = [_interrupt(request) for request in pending]
    return values


@router.post("/threads/{thread_id}/runs", openapi_extra=body_limit(RUN_INPUT_BODY))
async def create_thread_run(
    thread_id: str, body: RunBody, ctx: CtxDep, principal: RunsCreator, response: Response
) -> dict[str, Any]:
    """Start a run on the thread (or resume its interrupt) in the background."""
    started = await start_run(ctx, principal, _id(thread_id), body)
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{started.run.id}"
    return run_dict(started.run)


@router.post("/threads/{thread_id}/runs/stream", openapi_extra=body_limit(RUN_INPUT_BODY))
async def stream_thread_run(
    thread_id: str, body: RunBody, ctx: CtxDep, principal: RunsCreator, options: StreamOptionsDep
) -> EventSourceResponse:
    """Start (or resume) a run and stream it in LangGraph's SSE format."""
    modes = stream_modes(body.stream_mode)
    started = await start_run(ctx, principal, _id(thread_id), body, streamed=True)
    return _stream_response(
        ctx,
        started.run,
        modes,
        started.live_from,
        options.keepalive_s,
        cancel_on_disconnect=body.on_disconnect == "cancel",
    )


@router.post("/threads/{thread_id}/runs/wait", openapi_extra=body_limit(RUN_INPUT_BODY))
async def wait_thread_run(
    thread_id: str, body: RunBody, ctx: CtxDep, principal: RunsCreator, response: Response
) -> dict[str, Any]:
    """Start (or resume) a run and answer the thread's values once it ends or is interrupted."""
    started = await start_run(ctx, principal, _id(thread_id), body)
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{started.run.id}"
    return await wait_values(ctx, started.run, live_from=started.live_from)


@router.post("/runs", openapi_extra=body_limit(RUN_INPUT_BODY))
async def create_run(body: RunBody, ctx: CtxDep, principal: RunsCreator) -> dict[str, Any]:
    """A run without a thread, in the background."""
    return run_dict((await start_run(ctx, principal, None, body)).run)


@router.post("/runs/stream", openapi_extra=body_limit(RUN_INPUT_BODY))
async def stream_run(
    body: RunBody, ctx: CtxDep, principal: RunsCreator, options: StreamOptionsDep
) -> EventSourceResponse:
    """A run without a thread, streamed."""
    modes = stream_modes(body.stream_mode)
    started = await start_run(ctx, principal, None, body, streamed=True)
    return _stream_response(
        ctx,
        started.run,
        modes,
        started.live_from,
        options.keepalive_s,
        cancel_on_disconnect=body.on_disconnect == "cancel",
    )


@router.post("/runs/wait", openapi_extra=body_limit(RUN_INPUT_BODY))
async def wait_run(body: RunBody, ctx: CtxDep, principal: RunsCreator) -> dict[str, Any]:
    """A run without a thread; its values once it ended."""
    started = await start_run(ctx, principal, None, body)
    return await wait_values(ctx, started.run)


async def _thread_run(ctx: Ctx, thread_id: str, run_id: str) -> Run:
    run = await ctx.runs.get(_id(run_id))
    if run.thread_id != thread_id:
        raise NotFoundError("Run", run_id)
    return run


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_thread_run(thread_id: str, run_id: str, ctx: CtxDep, _: RunsReader) -> dict[str, Any]:
    """One run of the thread."""
    return run_dict(await _thread_run(ctx, thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_thread_run(thread_id: str, run_id: str, ctx: CtxDep, _: RunsReader) -> dict[str, Any]:
    """Wait for the run to end (or be interrupted); the thread's values."""
    return await wait_values(ctx, await _thread_run(ctx, thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_thread_run_stream(
    thread_id: str,
    run_id: str,
    ctx: CtxDep,
    principal: RunsReader,
    options: StreamOptionsDep,
    stream_mode: Annotated[list[str] | None, Query(max_length=20)] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> EventSourceResponse:
    """The run's stream: from its start, or after ``Last-Event-ID`` (a rejoin after a drop)."""
    run = await _thread_run(ctx, thread_id, run_id)
    if cancel_on_disconnect:
        _require_cancel(principal, "cancel_on_disconnect")
    modes = stream_modes([mode for mode in stream_mode or [] if mode] or None)
    live_from, sent_parts = stream_position(run.id, last_event_id)
    return _stream_response(
        ctx,
        run,
        modes,
        live_from,
        options.keepalive_s,
        sent_parts=sent_parts,
        cancel_on_disconnect=cancel_on_disconnect,
    )


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_thread_run(
    thread_id: str,
    run_id: str,
    ctx: CtxDep,
    _: RunsCanceller,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Cancel the run (``action=rollback`` is a multitask strategy of the next run here)."""
    if action != "interrupt":
        raise not_supported(
            "action='rollback'",
            "Start the next run with multitask_strategy 'rollback'.",
            loc=["query", "action"],
        )
    run = await _thread_run(ctx, thread_id, run_id)
    await ctx.runs.cancel(run.id)
    if wait:
        await wait_values(ctx, run)
    return Response(status_code=status.HTTP_202_ACCEPTED if not wait else status.HTTP_204_NO_CONTENT)


@router.api_route("/runs/crons", methods=["POST"])
@router.api_route("/runs/crons/search", methods=["POST"])
@router.api_route("/runs/crons/count", methods=["POST"])
@router.api_route("/runs/crons/{cron_id}", methods=["DELETE", "PATCH"])
@router.api_route("/threads/{thread_id}/runs/crons", methods=["POST"])
@router.api_route("/runs/batch", methods=["POST"])
@router.api_route("/runs/cancel", methods=["POST"])
async def runs_unsupported(request: Request, _: RunsReader) -> None:
    """Crons, batches and bulk cancels."""
    what = "Crons" if "/crons" in request.url.path else f"{request.method} {request.url.path}"
    raise not_supported(what, "Schedule runs outside, and start them one by one.", status_code=501)


# ------------------------------------------------------------------------------------ store


class StorePut(StoreItemPut):
    model_config = ConfigDict(extra="ignore")
    ttl: float | None = Field(default=None, gt=0, description="Minutes.")


class StoreDelete(Body):
    namespace: list[str] = Field(max_length=10)
    key: str = Field(min_length=1, max_length=1024)


class StoreSearchBody(StoreSearch):
    model_config = ConfigDict(extra="ignore")


class StoreNamespacesBody(StoreNamespaceList):
    model_config = ConfigDict(extra="ignore")


@router.put("/store/items", status_code=status.HTTP_204_NO_CONTENT)
async def put_item(body: StorePut, service: StoreServiceDep, _: StoreWriter) -> None:
    """Create or replace an item (``ttl`` in minutes)."""
    ttl_s = body.ttl_s if body.ttl is None else max(1, round(body.ttl * 60))
    await service.put(body.namespace, body.key, body.value, index=body.index, ttl_s=ttl_s)


def _item(item: Any) -> dict[str, Any]:
    return {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": dict(item.value),
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


def _namespace(joined: str, loc: list[str | int]) -> list[str]:
    labels = parse_namespace(joined)
    if problem := namespace_problem(labels):
        raise InvalidRequestError(f"namespace: {problem}", loc=loc)
    return labels


@router.get("/store/items")
async def get_item(
    service: StoreServiceDep,
    _: StoreReader,
    namespace: Annotated[str, Query(max_length=2600)] = "",
    key: Annotated[str, Query(min_length=1, max_length=1024)] = "",
    refresh_ttl: bool | None = None,
) -> dict[str, Any]:
    """One item (404 if none)."""
    if refresh_ttl:
        raise not_supported("refresh_ttl", loc=["query", "refresh_ttl"])
    if not key:
        raise InvalidRequestError("key is required", loc=["query", "key"])
    return _item(await service.get(_namespace(namespace, ["query", "namespace"]), key))


@router.delete("/store/items", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(body: StoreDelete, service: StoreServiceDep, _: StoreWriter) -> None:
    """Delete an item (deleting a missing one succeeds, as in LangGraph)."""
    if problem := namespace_problem(body.namespace):
        raise InvalidRequestError(f"namespace: {problem}", loc=["body", "namespace"])
    with contextlib.suppress(NotFoundError):
        await service.delete(body.namespace, body.key)


@router.post("/store/items/search")
async def search_items(body: StoreSearchBody, service: StoreServiceDep, _: StoreReader) -> dict[str, Any]:
    """Items under a namespace prefix, by filter and query."""
    found = await service.search(
        body.namespace_prefix, filter=body.filter, query=body.query, limit=body.limit, offset=body.offset
    )
    return {"items": [_item(hit.item) | {"score": hit.score} for hit in found]}


@router.post("/store/namespaces")
async def list_namespaces(
    body: StoreNamespacesBody, service: StoreServiceDep, _: StoreReader
) -> dict[str, Any]:
    """Namespaces holding items."""
    namespaces = await service.list_namespaces(
        prefix=body.prefix, suffix=body.suffix, max_depth=body.max_depth, limit=body.limit, offset=body.offset
    )
    return {"namespaces": namespaces}
