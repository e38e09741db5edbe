"""Live event streams over Server-Sent Events: one run's, and a tenant's (for dashboards)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent_runtime_api.deps import StreamOptionsDep, StreamServiceDep
from agent_runtime_api.routers.common import AUTH_RESPONSES, AgentIdFilter, RunId, problems
from agent_runtime_api.services.streams import (
    MAX_SEQ,
    OutgoingEvent,
    parse_run_position,
    parse_tenant_cursor,
)
from agent_runtime_core.schemas import Text

router = APIRouter(responses=AUTH_RESPONSES)

LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=200,
        description="Resume after this event (sent by EventSource clients when they reconnect).",
    ),
]

_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "`text/event-stream`: one SSE message per event (`id:`, `event:` = type, `data:` = "
            "the event envelope as JSON) and keep-alive comments (`: ping`)."
        ),
        # OpenAPI 3.1 has no `itemSchema` (3.2): `schema` describes one event, its fields as
        # parsed from the stream (the form SSE-aware tools, e.g. schemathesis, validate).
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["id", "event", "data"],
                    "properties": {
                        "id": {"type": "string", "description": "Position to resume from (`Last-Event-ID`)."},
                        "event": {"type": "string", "description": "The event type, e.g. `run.succeeded`."},
                        "data": {
                            "type": "string",
                            "description": "The event envelope as JSON.",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/RunEventPublic"},
                        },
                    },
                }
            }
        },
    }
}


async def _messages(events: AsyncGenerator[OutgoingEvent]) -> AsyncGenerator[ServerSentEvent]:
    async with contextlib.aclosing(events):  # closed (sessions, Redis reads) when the client goes
        async for event in events:
            yield ServerSentEvent(data=event.data, event=event.type, id=event.id)


@router.get(
    "/v1/runs/{run_id}/stream",
    tags=["runs"],
    summary="Stream a run's events (SSE)",
    response_class=EventSourceResponse,
    responses={**_SSE_RESPONSE, **problems(404)},
)
async def stream_run_events(
    run_id: RunId,
    service: StreamServiceDep,
    options: StreamOptionsDep,
    last_event_id: LastEventId = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="Start after this `seq` (`Last-Event-ID` wins over it)."),
    ] = None,
) -> EventSourceResponse:
    """The run's events as Server-Sent Events: first those already recorded (after
    `Last-Event-ID` or `?after=`, a `seq`; `<run_id>:<seq>` is accepted too), then live ones as
    they happen, including `model.text.delta` while the model is answering. The stream ends
    after the run's terminal event (`run.succeeded`, `run.failed`, `run.cancelled`,
    `run.timed_out`); for a finished run, right after the replay.

    Reconnecting with the last `id:` received gives every remaining event exactly once, in
    order. `curl -N .../v1/runs/run_…/stream` shows it in a terminal.
    """
    after_seq = parse_run_position(run_id, last_event_id, after)
    events = await service.open_run_stream(run_id, after_seq=after_seq)
    return EventSourceResponse(_messages(events), ping=options.keepalive_s)


@router.get(
    "/v1/events/stream",
    tags=["events"],
    summary="Stream all your events (SSE)",
    response_class=EventSourceResponse,
    responses={**_SSE_RESPONSE, **problems(404)},
)
async def stream_tenant_events(
    service: StreamServiceDep,
    options: StreamOptionsDep,
    last_event_id: LastEventId = None,
    agent_id: AgentIdFilter = None,
    run_id: Annotated[Text | None, Query(max_length=40, description="Only this run.")] = None,
) -> EventSourceResponse:
    """Every event of your runs as Server-Sent Events, live, for dashboards; never ends.

    `id:` is the event's `<run_id>:<seq>`. Reconnecting with `Last-Event-ID: <run_id>:<seq>`
    replays your events from shortly (2 s) before that event, then goes on live: nothing is
    lost, and the few events of other runs in that window that you may already have arrive
    again with the same `id` (drop them). Within one connection each event arrives once and
    each run's events in `seq` order.
    """
    cursor = parse_tenant_cursor(last_event_id)
    events = await service.open_tenant_stream(cursor=cursor, run_id=run_id, agent_id=agent_id)
    return EventSourceResponse(_messages(events), ping=options.keepalive_s)
