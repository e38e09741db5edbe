"""Live event streams (SSE) end to end on real servers: uvicorn → API → Postgres + Redis, runs
executed by our worker on the Temporal dev server, models streaming from a local server."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from temporalio.testing import WorkflowEnvironment

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.models import Agent, AgentVersion, Run, RunEvent
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.main import build_worker

from .sse import Message, messages, read_events, serve
from .support import FAST_STREAMS, TERMINAL_EVENTS, assert_problem, stream_app

WORDS = ["Streaming", "text", "arrives", "while", "the", "model", "is", "still", "answering"]


@pytest.fixture
async def live(
    worker_settings: Settings, running_worker: object, tenant_id: str
) -> AsyncGenerator[httpx.AsyncClient]:
    """A client of a real API server with a worker behind it."""
    async with (
        serve(stream_app(worker_settings, tenant_id)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        yield client


def chat_server(*, delay_s: float, fail_first: bool = False) -> FastAPI:
    """An OpenAI-compatible chat server streaming WORDS one by one, ``delay_s`` apart. With
    ``fail_first``, the first request breaks off after two words (the next one succeeds)."""
    app = FastAPI()
    calls: list[int] = []

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> StreamingResponse:  # pyright: ignore[reportUnusedFunction]
        body = await request.json()
        calls.append(1)
        attempt = len(calls)
        base = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }

        async def chunks() -> AsyncIterator[str]:
            for index, word in enumerate(WORDS):
                if fail_first and attempt == 1 and index == 2:
                    error = {"error": {"message": "upstream broke", "type": "server_error", "code": 500}}
                    yield f"data: {json.dumps(error)}\n\n"
                    return
                text = word if index == 0 else " " + word
                delta = {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}
                yield f"data: {json.dumps({**base, 'choices': [delta]})}\n\n"
                await asyncio.sleep(delay_s)
            done = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield f"data: {json.dumps({**base, 'choices': [done]})}\n\n"
            usage = {"prompt_tokens": 5, "completion_tokens": len(WORDS), "total_tokens": 5 + len(WORDS)}
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@asynccontextmanager
async def slow_stack(
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    *,
    delay_s: float,
    fail_first: bool = False,
) -> AsyncGenerator[tuple[httpx.AsyncClient, str]]:
    """API + worker whose `openai-compatible:` model streams slowly; yields (client, agent_id)."""
    async with serve(chat_server(delay_s=delay_s, fail_first=fail_first)) as model_url:
        settings = worker_settings.model_copy(update={"openai_base_url": f"{model_url}/v1"})
        async with (
            build_worker(temporal_env.client, settings, database),
            serve(stream_app(settings, tenant_id)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=20) as client,
        ):
            agent_id = await make_agent(client, model="openai-compatible:slow")
            yield client, agent_id


async def make_agent(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **version: Any) -> str:
    body = {"name": f"agent-{uuid.uuid4().hex[:8]}", "version": {"model": "builtin:scripted", **version}}
    response = await client.post("/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def start_run(
    client: httpx.AsyncClient,
    agent_id: str,
    text: str = "What is 6 * 7?",
    headers: dict[str, str] | None = None,
) -> str:
    response = await client.post("/v1/runs", json={"agent_id": agent_id, "input": text}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def recorded(
    client: httpx.AsyncClient, run_id: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The run's events as Postgres has them (the REST list)."""
    response = await client.get(f"/v1/runs/{run_id}/events", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def finished_run(client: httpx.AsyncClient, **version: Any) -> tuple[str, list[dict[str, Any]]]:
    """A scripted run (two model requests, a tool call, streamed text) that has finished."""
    run_id = await start_run(client, await make_agent(client, tools=[{"name": "calculator"}], **version))
    events, closed = await read_events(client, f"/v1/runs/{run_id}/stream")
    assert closed and events[-1].event == "run.succeeded"
    return run_id, await recorded(client, run_id)


def as_recorded(events: list[Message]) -> list[dict[str, Any]]:
    """Check the SSE fields against the envelope; return the envelopes."""
    for event in events:
        envelope = event.envelope
        assert event.id == str(envelope["seq"])
        assert event.event == envelope["type"]
        assert envelope["id"] == f"{envelope['run_id']}:{envelope['seq']}"
    return [event.envelope for event in events]


# ------------------------------------------------------------------------------------ run stream


async def test_stream_of_a_finished_run_replays_every_event_then_closes(live: httpx.AsyncClient) -> None:
    run_id, stored = await finished_run(live)
    events, closed = await read_events(live, f"/v1/runs/{run_id}/stream")
    assert closed
    assert as_recorded(events) == stored
    types = [e["type"] for e in stored]
    assert types[0] == "run.queued" and types[-1] == "run.succeeded"
    # The answer was streamed as deltas that add up to the finished text.
    final_step = max(e["data"]["step"] for e in stored if e["type"] == "model.request.finished")
    deltas = [e["data"] for e in stored if e["type"] == "model.text.delta"]
    assert deltas and all(d["step"] == final_step and d["attempt"] == 1 for d in deltas)
    assert [d["index"] for d in deltas] == list(range(len(deltas)))
    finished = next(
        e["data"] for e in stored if e["type"] == "model.request.finished" and e["data"]["step"] == final_step
    )
    assert "".join(d["delta"] for d in deltas) == finished["text"]
    assert "calculator: 42" in finished["text"]


async def test_resuming_at_every_position_yields_exactly_the_remaining_events(
    live: httpx.AsyncClient,
) -> None:
    run_id, stored = await finished_run(live)
    for position in range(len(stored) + 1):
        style = position % 3
        url = f"/v1/runs/{run_id}/stream"
        headers: dict[str, str] = {}
        if style == 0:
            headers["Last-Event-ID"] = str(position)
        elif style == 1:
            headers["Last-Event-ID"] = f"{run_id}:{position}"
        else:
            url += f"?after={position}"
        events, closed = await read_events(live, url, headers=headers)
        assert closed, position
        assert as_recorded(events) == stored[position:], position
    # The header wins over ?after= (a reconnecting EventSource keeps its original URL).
    events, _ = await read_events(live, f"/v1/runs/{run_id}/stream?after=0", headers={"Last-Event-ID": "3"})
    assert [e.id for e in events] == [str(e["seq"]) for e in stored[3:]]


async def test_reconnecting_at_any_point_of_a_live_run_sees_each_event_once_in_order(
    worker_settings: Settings, temporal_env: WorkflowEnvironment, database: Database, tenant_id: str
) -> None:
    rng = random.Random(7)
    async with slow_stack(worker_settings, temporal_env, database, tenant_id, delay_s=0.05) as (
        client,
        agent_id,
    ):
        run_id = await start_run(client, agent_id, "hello")
        seen: list[Message] = []
        connections = 0
        while not seen or seen[-1].event not in TERMINAL_EVENTS:
            headers = {"Last-Event-ID": seen[-1].id or ""} if seen else {}
            batch, _ = await read_events(
                client, f"/v1/runs/{run_id}/stream", headers=headers, limit=rng.randint(1, 3)
            )
            seen += batch
            connections += 1
        assert connections > 3
        assert as_recorded(seen) == await recorded(client, run_id)


async def test_text_deltas_reach_the_client_while_the_model_is_still_answering(
    worker_settings: Settings, temporal_env: WorkflowEnvironment, database: Database, tenant_id: str
) -> None:
    async with slow_stack(worker_settings, temporal_env, database, tenant_id, delay_s=0.1) as (
        client,
        agent_id,
    ):
        run_id = await start_run(client, agent_id, "hello")
        events, closed = await read_events(client, f"/v1/runs/{run_id}/stream")
        assert closed
        by_type = {e.event: e for e in reversed(events)}  # first of each type
        deltas = [e for e in events if e.event == "model.text.delta"]
        finished = by_type["model.request.finished"]
        # The first words were on the client long before the model finished (it streams for ~1 s).
        assert finished.received_at - deltas[0].received_at > 0.5
        assert deltas[0].envelope["data"]["delta"] == WORDS[0]
        assert len(deltas) >= 4  # coalesced (at most one write per 50 ms), not one per word...
        assert len(deltas) <= len(WORDS)
        text = "".join(d.envelope["data"]["delta"] for d in deltas)
        assert text == " ".join(WORDS) == finished.envelope["data"]["text"]


async def test_a_retried_model_request_streams_again_under_its_own_attempt(
    worker_settings: Settings, temporal_env: WorkflowEnvironment, database: Database, tenant_id: str
) -> None:
    async with slow_stack(
        worker_settings, temporal_env, database, tenant_id, delay_s=0.01, fail_first=True
    ) as (client, agent_id):
        run_id = await start_run(client, agent_id, "hello")
        events, closed = await read_events(client, f"/v1/runs/{run_id}/stream")
        assert closed and events[-1].event == "run.succeeded", events[-1].data
        stored = as_recorded(events)
        assert stored == await recorded(client, run_id)
        started = [e["data"] for e in stored if e["type"] == "model.request.started"]
        assert [s["attempt"] for s in started] == [1, 2]
        deltas = [e["data"] for e in stored if e["type"] == "model.text.delta"]
        first = "".join(d["delta"] for d in deltas if d["attempt"] == 1)
        second = "".join(d["delta"] for d in deltas if d["attempt"] == 2)
        assert first and " ".join(WORDS[:2]).startswith(first)  # what it streamed before it broke
        finished = next(e["data"] for e in stored if e["type"] == "model.request.finished")
        assert second == finished["text"] == " ".join(WORDS)
        assert finished["attempt"] == 2


async def test_run_stream_fills_in_what_redis_lost_or_reordered(
    database: Database, tenant_id: str, worker_settings: Settings
) -> None:
    """Events committed but never published, and published out of order, still arrive once
    and in order (from Postgres)."""
    run_id = await insert_run(database, tenant_id)
    bus = EventBus.from_settings(worker_settings)
    assert bus is not None
    async with (
        serve(stream_app(worker_settings, tenant_id)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        reader = asyncio.create_task(read_events(client, f"/v1/runs/{run_id}/stream?after=1"))
        await asyncio.sleep(0.3)  # the stream follows Redis by now
        lost = await append(database, tenant_id, run_id, "model.request.started")
        await bus.publish([await append(database, tenant_id, run_id, "tool.call.started")])
        fourth = await append(database, tenant_id, run_id, "tool.call.finished")
        fifth = await append(database, tenant_id, run_id, "model.request.finished")
        await bus.publish([fifth])
        await bus.publish([fourth])
        await bus.publish([fifth, fourth])  # duplicates
        terminal = await append(database, tenant_id, run_id, "run.succeeded")  # never published
        events, closed = await reader
    await bus.aclose()
    assert closed
    assert [e.id for e in events] == ["2", "3", "4", "5", "6"]
    assert [e.event for e in events] == [
        lost.type,
        "tool.call.started",
        fourth.type,
        fifth.type,
        terminal.type,
    ]


async def test_streams_work_from_postgres_alone_when_redis_is_down(
    worker_settings: Settings, temporal_env: WorkflowEnvironment, database: Database, tenant_id: str
) -> None:
    settings = worker_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{find_free_port()}/0"})
    async with (
        build_worker(temporal_env.client, settings, database),
        serve(stream_app(settings, tenant_id)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        agent_id = await make_agent(client, tools=[{"name": "calculator"}])
        tenant_reader = asyncio.create_task(
            collect_until(
                client, "/v1/events/stream", lambda seen: any(e.event in TERMINAL_EVENTS for e in seen)
            )
        )
        await asyncio.sleep(0.2)
        run_id = await start_run(client, agent_id)
        events, closed = await read_events(client, f"/v1/runs/{run_id}/stream")
        tenant_events = await tenant_reader
        stored = await recorded(client, run_id)
    assert closed and events[-1].event == "run.succeeded"
    assert as_recorded(events) == stored
    assert [e.envelope for e in tenant_events] == stored
    assert [e.id for e in tenant_events] == [f"{run_id}:{e['seq']}" for e in stored]


async def test_idle_streams_send_keepalive_comments(live: httpx.AsyncClient) -> None:
    comments: list[str] = []
    async with asyncio.timeout(5), live.stream("GET", "/v1/events/stream") as response:
        async for message in messages(response):
            if message.comment is not None:
                comments.append(message.comment)
                if len(comments) == 2:
                    break
    assert all(comment.startswith("ping") for comment in comments)


async def test_stream_errors_are_problems(live: httpx.AsyncClient, other_tenant_id: str) -> None:
    assert_problem(await live.get("/v1/runs/run_nope/stream"), 404, "run_not_found")
    run_id, _ = await finished_run(live)
    for bad, code in [
        *[
            (value, "invalid_last_event_id")
            for value in ("abc", "-1", "run_other:3", f"{run_id}:x", "1" * 30)
        ],
        ("x" * 201, "validation_error"),
    ]:
        problem = assert_problem(
            await live.get(f"/v1/runs/{run_id}/stream", headers={"Last-Event-ID": bad}), 422, code
        )
        assert problem["errors"][0]["loc"] == ["header", "Last-Event-ID"]
    problem = assert_problem(await live.get(f"/v1/runs/{run_id}/stream?after=-1"), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["query", "after"]
    # Another tenant's run does not exist for you.
    other = {"x-test-tenant": other_tenant_id}
    assert_problem(await live.get(f"/v1/runs/{run_id}/stream", headers=other), 404, "run_not_found")
    # Tenant stream: cursors are <run_id>:<seq> of one of your events; filters must exist.
    for bad in ("7", f"{run_id}:999", "run_nope:1"):
        problem = assert_problem(
            await live.get("/v1/events/stream", headers={"Last-Event-ID": bad}), 422, "invalid_last_event_id"
        )
        assert problem["errors"][0]["loc"] == ["header", "Last-Event-ID"]
    assert_problem(
        await live.get("/v1/events/stream", headers={**other, "Last-Event-ID": f"{run_id}:1"}),
        422,
        "invalid_last_event_id",
    )
    assert_problem(await live.get("/v1/events/stream?run_id=run_nope"), 404, "run_not_found")
    assert_problem(await live.get("/v1/events/stream?agent_id=agt_nope"), 404, "agent_not_found")


# --------------------------------------------------------------------------------- tenant stream


async def collect_until(
    client: httpx.AsyncClient,
    url: str,
    done: Callable[[list[Message]], bool],
    *,
    headers: dict[str, str] | None = None,
    sink: list[Message] | None = None,
    timeout_s: float = 20,
) -> list[Message]:
    """Events of a never-ending stream until ``done(events)`` (also appended to ``sink``, which
    keeps them when the task is cancelled)."""
    seen: list[Message] = [] if sink is None else sink
    async with asyncio.timeout(timeout_s), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for message in messages(response):
            if message.comment is None:
                seen.append(message)
                if done(seen):
                    return seen
    raise AssertionError("the tenant stream ended")


def finished_runs(run_ids: set[str]) -> Callable[[list[Message]], bool]:
    def done(seen: list[Message]) -> bool:
        return run_ids <= {e.envelope["run_id"] for e in seen if e.event in TERMINAL_EVENTS}

    return done


def by_run(events: list[Message]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        envelope = event.envelope
        assert event.id == envelope["id"] and event.event == envelope["type"]
        runs.setdefault(envelope["run_id"], []).append(envelope)
    return runs


def never(seen: list[Message]) -> bool:
    return False


async def test_tenant_stream_shows_only_your_events_filtered_and_in_order(
    live: httpx.AsyncClient, other_tenant_id: str
) -> None:
    other = {"x-test-tenant": other_tenant_id}
    first_agent = await make_agent(live, tools=[{"name": "calculator"}])
    second_agent = await make_agent(live)
    other_agent = await make_agent(live, headers=other)
    early = await start_run(live, first_agent)  # already under way when the streams open
    urls = {
        "all": ("/v1/events/stream", None),
        "agent": (f"/v1/events/stream?agent_id={first_agent}", None),
        "run": (f"/v1/events/stream?run_id={early}", None),
        "other": ("/v1/events/stream", other),
    }
    seen: dict[str, list[Message]] = {name: [] for name in urls}
    tasks = [
        asyncio.create_task(collect_until(live, url, never, headers=headers, sink=seen[name]))
        for name, (url, headers) in urls.items()
    ]
    await asyncio.sleep(0.3)
    runs = {
        "first": await start_run(live, first_agent),
        "second": await start_run(live, second_agent, "hi"),
        "other": await start_run(live, other_agent, "hi", headers=other),
    }
    for name, run_id in runs.items():
        events, closed = await read_events(
            live, f"/v1/runs/{run_id}/stream", headers=other if name == "other" else None
        )
        assert closed and events[-1].event == "run.succeeded"
    await read_events(live, f"/v1/runs/{early}/stream")
    await asyncio.sleep(FAST_STREAMS.reconcile_interval_s * 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    stored = {run_id: await recorded(live, run_id) for run_id in (early, runs["first"], runs["second"])}
    stored[runs["other"]] = await recorded(live, runs["other"], headers=other)
    mine = by_run(seen["all"])
    assert set(mine) == {early, runs["first"], runs["second"]}  # never another tenant's
    # Runs that started after the stream opened: every event, once, in order.
    assert mine[runs["first"]] == stored[runs["first"]]
    assert mine[runs["second"]] == stored[runs["second"]]
    # The run that was under way: the rest of its events (from shortly before we connected).
    assert mine[early] == stored[early][-len(mine[early]) :]
    assert by_run(seen["other"]) == {runs["other"]: stored[runs["other"]]}
    by_agent = by_run(seen["agent"])
    assert set(by_agent) == {early, runs["first"]}
    assert by_agent[runs["first"]] == stored[runs["first"]]
    assert by_run(seen["run"]) == {early: mine[early]}


async def test_tenant_stream_resumes_after_last_event_id_without_losing_events(
    live: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(live, tools=[{"name": "calculator"}])
    run_ids = [await start_run(live, agent_id) for _ in range(3)]
    first, _ = await read_events(live, f"/v1/runs/{run_ids[0]}/stream")
    for run_id in run_ids[1:]:
        await read_events(live, f"/v1/runs/{run_id}/stream")
    cursor = first[len(first) // 2].envelope  # somewhere in the middle of the first run
    resumed = await collect_until(
        live,
        "/v1/events/stream",
        finished_runs(set(run_ids)),
        headers={"Last-Event-ID": cursor["id"]},
    )
    runs = by_run(resumed)
    assert runs[run_ids[0]] == (await recorded(live, run_ids[0]))[cursor["seq"] :]
    for run_id in run_ids[1:]:
        stored = await recorded(live, run_id)
        assert runs[run_id] == stored[-len(runs[run_id]) :]  # the rest of each run, in order
    assert len({e.id for e in resumed}) == len(resumed)  # once per connection


# ----------------------------------------------------------------------------------- helpers


async def insert_run(database: Database, tenant_id: str) -> str:
    """A run with its `run.queued` event, written directly (no workflow)."""
    agent_id, run_id = new_agent_id(), new_run_id()
    async with session_scope(database, tenant_id) as session:
        session.add(Agent(id=agent_id, tenant_id=tenant_id, name=agent_id, latest_version=1))
        await session.flush()
        session.add(AgentVersion(agent_id=agent_id, version=1, tenant_id=tenant_id, model="builtin:scripted"))
        await session.flush()
        run = Run(
            id=run_id, tenant_id=tenant_id, agent_id=agent_id, agent_version=1, input="x", workflow_id=run_id
        )
        await RunRepository(session, tenant_id).create(run, {})
    return run_id


async def append(database: Database, tenant_id: str, run_id: str, event_type: str) -> RunEvent:
    """Append and commit one event (not published)."""
    async with session_scope(database, tenant_id) as session:
        written = await RunEventRepository(session, tenant_id).append_to_run(
            run_id, [(event_type, {}, uuid.uuid4().hex)]
        )
    assert written
    return written[0]
