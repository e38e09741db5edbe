"""Crash-proof runs: real worker processes are ``kill -9``-ed mid-run and the Temporal server is
restarted under a run; every run still finishes, nothing completed is executed again, and the
run's events stay gap-free without duplicates. Workers stopped with SIGTERM (``docker stop``, ECS)
let running activities finish within their grace period, or hand them back to be retried elsewhere.

Workers are ``python -m agent_runtime_cli worker`` subprocesses; the API runs in-process; the
model is a local OpenAI-compatible server (``openai-compatible:…``) or the offline
``builtin:scripted`` model, and ``http_get`` fetches from a local server. Recovery times are
printed (``-s``) and only checked against generous bounds: speed targets live in
``bench/crash_recovery.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_cli.embedded import TemporalDevServer
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import ArtifactStatus, RunEvent
from agent_runtime_core.repositories import ArtifactRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES, connect_temporal

from .crash_harness import (
    MODEL_ACTIVITY,
    TOOL_ACTIVITY,
    PutHolder,
    ScriptedChatServer,
    SlowHttpServer,
    WorkerProcess,
    WorkerProcesses,
    activity_records,
    assert_events_consistent,
    attempts_by_type,
    completed_workflow_activities,
    eventually,
    first_event_after,
    run_events,
    serve_chat,
    serve_http,
    wait_polling,
    worker_environment,
    workflow_task_state,
)

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}
RECOVERY_BOUND_S = 30.0
"""A hang guard, not a speed target (``bench/crash_recovery.py`` measures recovery times): a kill
is detected within the 2 s heartbeat timeout (a workflow task's within its 10 s timeout), retried
after 1 s, and a cold replacement worker needs several seconds of imports on a small CI machine,
more while the other test process (``pytest -n 2``) loads both cores."""


# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def worker_processes(tmp_path: Path, worker_settings: Settings) -> Generator[WorkerProcesses]:
    """Spawner of worker processes on this test's queue; all are killed at teardown."""
    env = worker_environment(
        database_url=worker_settings.database_url,
        temporal_address=worker_settings.temporal_address,
        task_queue=worker_settings.temporal_task_queue,
        redis_url=worker_settings.redis_url,
    )
    workers = WorkerProcesses(tmp_path, env)
    try:
        yield workers
    finally:
        workers.close()


@contextlib.asynccontextmanager
async def open_api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over ASGI with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=60) as client:
            yield client


def build_api(settings: Settings, tenant_id: str) -> FastAPI:
    """The API app as this test's tenant sees it."""
    app = create_app(settings.model_copy(update={"database_pool_size": 3}))
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    return app


@pytest.fixture
async def api(worker_settings: Settings, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """The API in-process, on the session's Postgres and Temporal and this test's queue."""
    async with open_api(build_api(worker_settings, tenant_id)) as client:
        yield client


# -------------------------------------------------------------------------------------- helpers


async def make_agent(api: httpx.AsyncClient, model: str, tools: list[dict[str, Any]]) -> str:
    body = {"name": f"crash-{time.monotonic_ns()}", "version": {"model": model, "tools": tools}}
    response = await api.post("/v1/agents", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def start_run(api: httpx.AsyncClient, agent_id: str, text: str) -> str:
    response = await api.post("/v1/runs", json={"agent_id": agent_id, "input": text})
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def wait_for_status(
    api: httpx.AsyncClient, run_id: str, statuses: set[str], timeout_s: float = 30
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        return run if run["status"] in statuses else None

    async def describe() -> str:
        return str((await api.get(f"/v1/runs/{run_id}")).json())

    try:
        return await eventually(probe, timeout_s=timeout_s)
    except AssertionError:
        raise AssertionError(f"run {run_id} not in {statuses}: {await describe()}") from None


def report(test: str, **seconds: float | None) -> None:
    figures = ", ".join(f"{name}={value:.2f}s" for name, value in seconds.items() if value is not None)
    print(f"\n[recovery] {test}: {figures}")


# ---------------------------------------------------------------------------------------- tests


@pytest.mark.timeout(90)
async def test_worker_killed_during_a_model_request_resumes_on_a_new_worker(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    async with serve_chat(ScriptedChatServer(stall={2})) as model:
        worker_processes.env["AGENT_RUNTIME_OPENAI_BASE_URL"] = model.base_url
        first = worker_processes.spawn()
        agent_id = await make_agent(api, "openai-compatible:slow-llm", [{"name": "calculator"}])
        await wait_polling(temporal_client, task_queue, first)
        run_id = await start_run(api, agent_id, "What is 6 * 7?")

        # Step 1 (a calculator call) and the tool ran; step 2 streams its first chunk and stalls.
        await asyncio.wait_for(model.stalled.wait(), timeout=30)

        async def step_two_started() -> bool:
            events = await run_events(database, tenant_id, run_id)
            return sum(e.type == "model.request.started" for e in events) >= 2

        await eventually(step_two_started, timeout_s=10, message="step 2 wrote no event")
        before_kill = await run_events(database, tenant_id, run_id)
        first.kill()
        assert first.killed_at is not None and first.killed_at_wall is not None

        second = worker_processes.spawn()  # cold: the only worker died, a new one comes up
        await wait_polling(temporal_client, task_queue, second)
        ready_s = time.monotonic() - first.killed_at
        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert done["output"] == model.answer
        assert [r.has_tool_results for r in model.requests] == [False, True, True]
        retry = model.requests[2]  # step 2 again, not a re-run of step 1

    # Temporal: every completed step ran once; only the killed model request took a 2nd attempt.
    handle = temporal_client.get_workflow_handle(f"run-{run_id}")
    records = await completed_workflow_activities(handle)
    assert all(r.completed for r in records)
    assert attempts_by_type(records) == {
        "mark_run_started": [1],
        MODEL_ACTIVITY: [1, 2],
        TOOL_ACTIVITY: [1],
        "finish_run": [1],
    }

    # Postgres: gap-free, no duplicate writes; what was written before the kill is untouched.
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    assert [(e.seq, e.type, e.data) for e in events[: len(before_kill)]] == [
        (e.seq, e.type, e.data) for e in before_kill
    ]
    assert [e.type for e in events].count("tool.call.started") == 1
    finished = [e.data for e in events if e.type == "model.request.finished"]
    assert [f["step"] for f in finished] == [1, 2]
    assert finished[1]["text"] == model.answer

    next_event = first_event_after(events, first.killed_at_wall)
    assert next_event is not None
    retry_s = retry.received_at - first.killed_at
    next_event_s = next_event.at.timestamp() - first.killed_at_wall
    assert retry_s - ready_s < RECOVERY_BOUND_S  # once a worker is back, the retry starts at once
    assert retry_s < 60  # ... and a new worker cannot take forever to come up
    report(
        "model request, cold replacement worker",
        replacement_ready=ready_s,
        retried_request=retry_s,
        next_event=next_event_s,
    )


@pytest.mark.timeout(90)
async def test_worker_killed_during_a_tool_call_retries_only_that_call_with_the_same_key(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    async with serve_http(SlowHttpServer(hang={1})) as target:
        first = worker_processes.spawn()
        agent_id = await make_agent(api, "builtin:scripted", [{"name": "calculator"}, {"name": "http_get"}])
        await wait_polling(temporal_client, task_queue, first)
        run_id = await start_run(api, agent_id, f"What is 6 * 7? fetch {target.url}")
        handle = temporal_client.get_workflow_handle(f"run-{run_id}")

        # Both tools run in parallel: the calculator finishes, http_get hangs on its request.
        await asyncio.wait_for(target.hanging.wait(), timeout=30)

        async def calculator_completed() -> bool:
            return any(r.tool_name == "calculator" and r.completed for r in await activity_records(handle))

        await eventually(calculator_completed, timeout_s=10, message="the calculator did not complete")
        # A second worker is already running when the first dies (one of several workers).
        second = worker_processes.spawn()
        await wait_polling(temporal_client, task_queue, second)
        first.kill()
        assert first.killed_at is not None and first.killed_at_wall is not None

        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert "calculator: 42" in done["output"]
        assert "fetched ok" in done["output"]
        assert len(target.arrivals) == 2  # the killed attempt and its retry
        retry_s = target.arrivals[1] - first.killed_at

    records = await completed_workflow_activities(handle)
    assert all(r.completed for r in records)
    tools = {r.tool_name: r for r in records if r.activity_type == TOOL_ACTIVITY}
    assert set(tools) == {"calculator", "http_get"}
    assert tools["calculator"].attempt == 1  # completed before the kill: not run again
    assert tools["http_get"].attempt == 2
    assert attempts_by_type(records)[MODEL_ACTIVITY] == [1, 1]
    assert attempts_by_type(records)["mark_run_started"] == [1]
    assert attempts_by_type(records)["finish_run"] == [1]

    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    started_events = [e.data for e in events if e.type == "tool.call.started"]
    started = {data["tool"]: data for data in started_events}  # the last attempt of each tool
    finished = {e.data["tool"]: e.data for e in events if e.type == "tool.call.finished"}
    assert set(started) == set(finished) == {"calculator", "http_get"}
    for data in started_events:
        assert data["idempotency_key"] == f"{run_id}:{data['tool_call_id']}"
        # Every attempt gets the tool call id from the one scheduled input: the key is stable.
        assert (
            tools[data["tool"]].tool_call_id == data["tool_call_id"] == finished[data["tool"]]["tool_call_id"]
        )
    # Each attempt leaves its own started event, with the same idempotency key.
    assert [d["attempt"] for d in started_events if d["tool"] == "http_get"] == [1, 2]
    assert [d["attempt"] for d in started_events if d["tool"] == "calculator"] == [1]
    assert finished["http_get"]["ok"] is True

    next_event = first_event_after(events, first.killed_at_wall)
    assert next_event is not None
    assert next_event.type == "tool.call.started"
    assert next_event.data["attempt"] == 2
    next_event_s = next_event.at.timestamp() - first.killed_at_wall
    assert retry_s < RECOVERY_BOUND_S
    assert next_event_s < RECOVERY_BOUND_S
    report("tool call, standby worker", retried_request=retry_s, next_event=next_event_s)


@pytest.mark.timeout(90)
async def test_worker_killed_during_an_http_tool_call_resends_it_with_the_same_idempotency_key(
    worker_processes: WorkerProcesses,
    worker_settings: Settings,
    temporal_client: Client,
    task_queue: str,
    tenant_id: str,
) -> None:
    settings = worker_settings.model_copy(
        update={"tools_require_https": False, "tools_allow_private_networks": True}
    )
    async with (
        open_api(build_api(settings, tenant_id)) as api,
        serve_http(SlowHttpServer(hang={1})) as target,
    ):
        first = worker_processes.spawn()
        tool = {
            "name": "create_ticket",
            "description": "Open a ticket.",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
            },
            "http": {"method": "POST", "url": target.url, "timeout_s": 60},
        }
        agent_id = await make_agent(api, "builtin:scripted", [tool])
        await wait_polling(temporal_client, task_queue, first)
        run_id = await start_run(api, agent_id, 'title="Printer on fire"')

        await asyncio.wait_for(target.hanging.wait(), timeout=30)  # the POST is out, unanswered
        second = worker_processes.spawn()
        await wait_polling(temporal_client, task_queue, second)
        first.kill()

        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert "fetched ok" in done["output"]
        events = (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()["data"]

    # The killed attempt's request and the retry's carry the same key: the receiver can dedupe.
    assert len(target.headers) == 2
    keys = [headers["idempotency-key"] for headers in target.headers]
    started = [e["data"] for e in events if e["type"] == "tool.call.started"]
    assert [data["attempt"] for data in started] == [1, 2]
    assert keys == [f"{run_id}:{started[0]['tool_call_id']}"] * 2
    assert all(json.loads(body) == {"title": "Printer on fire"} for body in target.bodies)


async def wait_for_approval_wait(
    api: httpx.AsyncClient, temporal_client: Client, run_id: str
) -> dict[str, Any]:
    """The run's pending approval, once the workflow is idle waiting for it."""

    async def pending() -> list[dict[str, Any]]:
        approvals = (await api.get(f"/v1/runs/{run_id}/approvals")).json()["data"]
        return [a for a in approvals if a["status"] == "pending"]

    [approval] = await eventually(pending, timeout_s=30, message="no approval was requested")
    await wait_for_status(api, run_id, {"waiting"})
    # The row says `waiting` as soon as the (local) activity that opened the request commits,
    # while the workflow task that ran it is still going; killing the worker then is the next
    # test's case (a worker dying inside a workflow task), so wait until that task is done.
    handle = temporal_client.get_workflow_handle(f"run-{run_id}")

    async def idle() -> bool:
        return await workflow_task_state(handle) is None

    await eventually(idle, timeout_s=10, message="the workflow never became idle")
    return approval


async def assert_approved_run_completed_once(
    api: httpx.AsyncClient, temporal_client: Client, database: Database, tenant_id: str, run_id: str
) -> list[RunEvent]:
    done = await wait_for_status(api, run_id, TERMINAL, timeout_s=30)
    assert done["status"] == "succeeded", done
    assert "calculator: 42" in done["output"]
    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    assert all(r.completed for r in records)
    assert attempts_by_type(records) == {
        "mark_run_started": [1],
        MODEL_ACTIVITY: [1, 1],
        "open_human_requests": [1],
        "resolve_human_request": [1],
        "close_human_wait": [1],
        TOOL_ACTIVITY: [1],
        "finish_run": [1],
    }
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    types = [e.type for e in events]
    assert types.count("approval.requested") == types.count("approval.decided") == 1
    assert types.index("approval.decided") < types.index("run.resumed") < types.index("tool.call.started")
    return events


@pytest.mark.timeout(90)
async def test_worker_killed_while_waiting_for_approval_resumes_when_approved(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    first = worker_processes.spawn()
    agent_id = await make_agent(api, "builtin:scripted", [{"name": "calculator", "requires_approval": True}])
    await wait_polling(temporal_client, task_queue, first)
    run_id = await start_run(api, agent_id, "What is 6 * 7?")
    approval = await wait_for_approval_wait(api, temporal_client, run_id)
    first.kill()
    assert first.killed_at is not None and first.killed_at_wall is not None

    # The decision is sent right away: it waits in Temporal until the new worker is up.
    second = worker_processes.spawn()
    ready = asyncio.create_task(wait_polling(temporal_client, task_queue, second))
    decided = await api.post(f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"})
    decided_s = time.monotonic() - first.killed_at
    assert decided.status_code == 200, (decided.text, second.log())
    assert decided.json()["status"] == "approved"
    await ready
    events = await assert_approved_run_completed_once(api, temporal_client, database, tenant_id, run_id)
    next_event = first_event_after(events, first.killed_at_wall)
    assert next_event is not None and next_event.type == "approval.decided"
    assert decided_s < 60
    report(
        "approval wait, decision sent before the replacement worker is up",
        decision_answered=decided_s,
        next_event=next_event.at.timestamp() - first.killed_at_wall,
    )


@pytest.mark.timeout(90)
async def test_worker_dying_inside_a_workflow_task_is_replaced_after_the_task_timeout(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    """The narrow window no heartbeat covers: Temporal handed the worker a workflow task (here:
    the approval's update) and the worker dies before completing it. Temporal only notices
    when the workflow task timeout (default 10 s) expires."""
    first = worker_processes.spawn()
    agent_id = await make_agent(api, "builtin:scripted", [{"name": "calculator", "requires_approval": True}])
    await wait_polling(temporal_client, task_queue, first)
    run_id = await start_run(api, agent_id, "What is 6 * 7?")
    approval = await wait_for_approval_wait(api, temporal_client, run_id)
    handle = temporal_client.get_workflow_handle(f"run-{run_id}")

    first.pause()  # frozen: its open polls still receive the update's workflow task
    decision = asyncio.create_task(
        api.post(f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"})
    )

    async def handed_to_the_frozen_worker() -> bool:
        return await workflow_task_state(handle) == "started"

    await eventually(handed_to_the_frozen_worker, timeout_s=10, message="no workflow task was started")
    first.kill()
    assert first.killed_at is not None
    second = worker_processes.spawn()
    decided = await decision
    decided_s = time.monotonic() - first.killed_at
    assert decided.status_code == 200, (decided.text, second.log())
    await assert_approved_run_completed_once(api, temporal_client, database, tenant_id, run_id)
    history = [event async for event in handle.fetch_history_events()]
    assert any(event.HasField("workflow_task_timed_out_event_attributes") for event in history)
    assert decided_s < RECOVERY_BOUND_S
    report("worker died inside a workflow task (update)", decision_answered=decided_s)


@pytest.fixture
async def own_temporal() -> AsyncGenerator[TemporalDevServer]:
    """A Temporal dev server of this test alone (it gets restarted), SQLite in a temp dir."""
    server = TemporalDevServer.in_temp_dir(
        headless=True, search_attributes=dict(SEARCH_ATTRIBUTE_TYPES), log_level="error", grace_period_s=5
    )
    server.start()
    try:
        await server.wait_ready_async(timeout_s=60)
        yield server
    finally:
        await asyncio.to_thread(server.close)


@pytest.mark.timeout(120)
async def test_run_in_flight_finishes_after_the_temporal_server_restarts(
    own_temporal: TemporalDevServer,
    worker_settings: Settings,
    worker_processes: WorkerProcesses,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    settings = worker_settings.model_copy(update={"temporal_address": own_temporal.address})
    worker_processes.env["AGENT_RUNTIME_TEMPORAL_ADDRESS"] = own_temporal.address
    client = await connect_temporal(own_temporal.address)
    async with serve_http(SlowHttpServer(hang={1})) as target:
        worker = worker_processes.spawn()
        async with open_api(build_api(settings, tenant_id)) as api:
            agent_id = await make_agent(api, "builtin:scripted", [{"name": "http_get"}])
            await wait_polling(client, task_queue, worker)
            run_id = await start_run(api, agent_id, f"fetch {target.url}")
            await asyncio.wait_for(target.hanging.wait(), timeout=30)

            # Temporal goes away with the tool call in flight; the call finishes while it is
            # down (its completion cannot be reported), then Temporal comes back on the same
            # ports and SQLite file.
            stopped_at = time.monotonic()
            await asyncio.to_thread(own_temporal.stop)
            target.release.set()
            await asyncio.sleep(1)
            own_temporal.start()
            await own_temporal.wait_ready_async(timeout_s=60)
            back_at = time.monotonic()

            done = await wait_for_status(api, run_id, TERMINAL, timeout_s=60)
            finished_s = time.monotonic() - back_at
            assert done["status"] == "succeeded", (done, worker.log())
            assert "fetched ok" in done["output"]
            assert worker.alive(), worker.log()  # the same worker reconnected

    records = await completed_workflow_activities(client.get_workflow_handle(f"run-{run_id}"))
    assert all(r.completed for r in records)
    [tool] = [r for r in records if r.activity_type == TOOL_ACTIVITY]
    assert tool.attempt in {1, 2}
    assert len(target.arrivals) == tool.attempt  # the tool ran again only if Temporal retried it
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    report(
        f"Temporal restart under a tool call (tool attempts: {tool.attempt})",
        downtime=back_at - stopped_at,
        run_finished_after_restart=finished_s,
    )


@pytest.mark.timeout(120)
async def test_worker_killed_mid_turn_leaves_the_thread_consistent_and_the_turn_appended_once(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    """A thread run's worker dies while its ``http_get`` call hangs: the run is finished by the
    standby worker, its turn is appended once, the run enqueued behind it (admitted before the
    kill) gets the turn afterwards and sees it, and the thread ends idle."""
    async with serve_http(SlowHttpServer(hang={1})) as target:
        first = worker_processes.spawn()
        agent_id = await make_agent(api, "builtin:scripted", [{"name": "http_get"}])
        created = await api.post("/v1/threads", json={"metadata": {}})
        assert created.status_code == 201, created.text
        thread_id = created.json()["id"]
        await wait_polling(temporal_client, task_queue, first)

        prompt = f"fetch {target.url}"
        started = await api.post(
            "/v1/runs", json={"agent_id": agent_id, "input": prompt, "thread_id": thread_id}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        await asyncio.wait_for(target.hanging.wait(), timeout=30)  # mid-turn: the tool call hangs

        # The next turn is admitted while the first run has the turn: it waits for it.
        queued = await api.post(
            "/v1/runs",
            json={
                "agent_id": agent_id,
                "input": "What did I say?",
                "thread_id": thread_id,
                "multitask_strategy": "enqueue",
            },
        )
        assert queued.status_code == 202, queued.text
        next_id = queued.json()["id"]
        thread = (await api.get(f"/v1/threads/{thread_id}")).json()
        assert thread["active_run_id"] == run_id and thread["queued_run_ids"] == [next_id]
        assert (await api.get(f"/v1/runs/{next_id}")).json()["status"] == "queued"

        second = worker_processes.spawn()
        await wait_polling(temporal_client, task_queue, second)
        first.kill()

        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert "fetched ok" in done["output"]
        assert len(target.arrivals) == 2  # the killed attempt and its retry
        after = await wait_for_status(api, next_id, TERMINAL, timeout_s=45)
        assert after["status"] == "succeeded", (after, second.log())
        assert after["output"] == f'You told me earlier: "{prompt}"'  # it saw the first turn

    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    attempts = attempts_by_type(records)
    assert attempts[TOOL_ACTIVITY] == [2]
    assert attempts["mark_run_started"] == [1]
    assert attempts["finish_thread_run"] == [1]
    assert "finish_run" not in attempts

    # One turn per run, in admission order; nothing of the killed attempt is doubled.
    messages = (await api.get(f"/v1/threads/{thread_id}/messages", params={"limit": 100})).json()
    assert messages["next_cursor"] is None
    turns = [(m["seq"], m["run_id"]) for m in messages["data"]]
    assert sorted(set(turns)) == [(1, run_id), (2, next_id)], turns
    prompts = [
        (m["seq"], p["content"])
        for m in messages["data"]
        for p in m["parts"]
        if p["part_kind"] == "user-prompt"
    ]
    assert prompts == [(1, prompt), (2, "What did I say?")]
    kinds = [p["part_kind"] for m in messages["data"] if m["seq"] == 1 for p in m["parts"]]
    assert kinds.count("tool-call") == kinds.count("tool-return") == 1

    thread = (await api.get(f"/v1/threads/{thread_id}")).json()
    assert thread["status"] == "idle", thread
    assert thread["active_run_id"] is None and thread["queued_run_ids"] == []

    for each in (run_id, next_id):
        assert_events_consistent(await run_events(database, tenant_id, each))
    events = await run_events(database, tenant_id, run_id)
    assert [d.data["attempt"] for d in events if d.type == "tool.call.started"] == [1, 2]


@contextlib.asynccontextmanager
async def object_storage(s3_settings: dict[str, object]) -> AsyncIterator[ObjectStorage]:
    store = ObjectStorage(Settings.model_validate(s3_settings))
    try:
        yield store
    finally:
        await store.aclose()


async def download(storage: ObjectStorage, key: str) -> bytes | None:
    found = await storage.download(key)
    if found is None:
        return None
    try:
        return b"".join([chunk async for chunk in found.chunks()])
    finally:
        await found.close()


ARTIFACTS_TOOL_ACTIVITY = "agent__agent_runtime__toolset__artifacts__call_tool"
ARTIFACT_CONTENT = "Quarterly numbers"


@pytest.mark.timeout(120)
async def test_worker_killed_while_writing_an_artifact_leaves_a_pending_row_its_retry_finishes(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
    s3_settings: dict[str, object],
) -> None:
    endpoint = s3_settings["s3_endpoint_url"]
    assert isinstance(endpoint, str)
    async with PutHolder(endpoint) as proxy, object_storage(s3_settings) as storage:
        await storage.ensure_bucket()  # not through the proxy
        for name, value in {**s3_settings, "s3_endpoint_url": proxy.url}.items():
            rendered = str(value).lower() if isinstance(value, bool) else str(value)
            worker_processes.env[f"AGENT_RUNTIME_{name.upper()}"] = rendered
        first = worker_processes.spawn()
        agent_id = await make_agent(api, "builtin:scripted", [{"name": "artifact_write"}])
        await wait_polling(temporal_client, task_queue, first)
        run_id = await start_run(api, agent_id, f'Write name=report.md content="{ARTIFACT_CONTENT}"')

        # The upload of the file's bytes is in flight (held by the proxy): its row is written
        # first, pending and naming the object's key, so no object can exist that no row names.
        await asyncio.wait_for(proxy.held.wait(), timeout=30)
        bucket = f"/{s3_settings['s3_bucket']}/"
        held_key = unquote(proxy.puts[0].split(" ")[1].split("?")[0].removeprefix(bucket))

        async def rows() -> list[Any]:
            async with session_scope(database, tenant_id) as session:
                return list(await ArtifactRepository(session, tenant_id).list(limit=100, run_id=run_id))

        def pending_of_the_held_upload(found: list[Any]) -> bool:
            return [(a.status, a.size, a.object_key) for a in found] == [
                (ArtifactStatus.PENDING, 0, held_key)
            ]

        assert pending_of_the_held_upload(await rows()), [(a.status, a.object_key) for a in await rows()]
        first.kill()
        assert first.killed_at is not None
        # After the kill: that row still (the sweep's, were the call never retried); no object.
        assert pending_of_the_held_upload(await rows())
        assert await download(storage, held_key) is None

        second = worker_processes.spawn()
        await wait_polling(temporal_client, task_queue, second)
        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=60)
        recovered_s = time.monotonic() - first.killed_at
        assert done["status"] == "succeeded", (done, second.log())
        assert len(proxy.puts) == 2, proxy.puts  # the held upload and the retry's

        # Postgres: the same row, now ready, of the exact bytes; no second row.
        artifacts = await rows()
        assert len(artifacts) == 1, [(a.id, a.status) for a in artifacts]
        artifact = artifacts[0]
        data = ARTIFACT_CONTENT.encode()
        assert artifact.status == ArtifactStatus.READY
        assert (artifact.name, artifact.content_type) == ("report.md", "text/markdown")
        assert artifact.size == len(data)
        assert artifact.sha256 == hashlib.sha256(data).hexdigest()
        # S3: the retry wrote the key the row named from the start; it holds exactly the content.
        assert artifact.object_key == held_key and "/artifacts/" in held_key, held_key
        assert await download(storage, artifact.object_key) == data

    # Temporal: the write ran again (a 2nd attempt of its activity), the rest once.
    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    assert all(r.completed for r in records)
    attempts = attempts_by_type(records)
    assert attempts[ARTIFACTS_TOOL_ACTIVITY] == [2], attempts
    assert attempts["finish_run"] == [1]

    # Events: one artifact.created, and run.succeeded lists exactly that artifact.
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    assert [e.data["attempt"] for e in events if e.type == "tool.call.started"] == [1, 2]
    created = [e for e in events if e.type == "artifact.created"]
    assert len(created) == 1, [e.data for e in created]
    assert created[0].data["artifact_id"] == artifact.id
    assert created[0].data["size"] == len(data)
    assert events[-1].type == "run.succeeded"
    assert events[-1].data["artifacts"] == [
        {"id": artifact.id, "name": "report.md", "content_type": "text/markdown", "size": len(data)}
    ]
    report("artifact write killed mid-upload", recovered=recovered_s)


# ------------------------------------------------------------------------ graceful stop (SIGTERM)


async def run_with_hanging_http_get(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    target: SlowHttpServer,
    first_env: dict[str, str] | None = None,
) -> tuple[str, WorkerProcess, WorkerProcess]:
    """Start a run whose ``http_get`` call hangs on the first worker, once its calculator call has
    completed; a second worker is polling by then. Returns the run id and both workers."""
    first = worker_processes.spawn({**worker_processes.env, **(first_env or {})})
    agent_id = await make_agent(api, "builtin:scripted", [{"name": "calculator"}, {"name": "http_get"}])
    await wait_polling(temporal_client, task_queue, first)
    run_id = await start_run(api, agent_id, f"What is 6 * 7? fetch {target.url}")
    handle = temporal_client.get_workflow_handle(f"run-{run_id}")
    await asyncio.wait_for(target.hanging.wait(), timeout=30)

    async def calculator_completed() -> bool:
        return any(r.tool_name == "calculator" and r.completed for r in await activity_records(handle))

    await eventually(calculator_completed, timeout_s=10, message="the calculator did not complete")
    second = worker_processes.spawn()
    await wait_polling(temporal_client, task_queue, second)
    return run_id, first, second


@pytest.mark.timeout(90)
async def test_sigterm_lets_a_running_activity_finish_then_the_worker_exits_0(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    async with serve_http(SlowHttpServer(hang={1})) as target:
        run_id, first, second = await run_with_hanging_http_get(
            api, worker_processes, temporal_client, task_queue, target
        )
        first.terminate()  # default grace period (25 s): http_get is still waiting for its answer
        await asyncio.sleep(0.5)
        first.terminate()  # a second SIGTERM (an impatient operator) changes nothing
        await asyncio.sleep(0.5)
        assert first.alive(), f"the worker did not wait for its running activity:\n{first.log()}"
        released_at = time.monotonic()
        target.release.set()
        assert await first.exited(timeout_s=30) == 0, first.log()
        exit_s = time.monotonic() - released_at
        assert "SIGTERM again: the worker is already shutting down" in first.log()

        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert "fetched ok" in done["output"]
        assert len(target.arrivals) == 1  # the call finished on the stopping worker: never resent

    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    tools = {r.tool_name: r for r in records if r.activity_type == TOOL_ACTIVITY}
    assert tools["http_get"].attempt == 1 and tools["http_get"].completed
    assert tools["calculator"].attempt == 1
    assert attempts_by_type(records)[MODEL_ACTIVITY] == [1, 1]
    # The stopping worker took no new task: step 2 ran on the second worker.
    model_requests = [r for r in records if r.activity_type == MODEL_ACTIVITY]
    assert [r.identity for r in model_requests] == [first.identity, second.identity]
    assert tools["http_get"].identity == first.identity
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    assert [e.data["tool"] for e in events if e.type == "tool.call.started"].count("http_get") == 1
    report("SIGTERM, activity finishes in the grace period", exit_after_release=exit_s)


@pytest.mark.timeout(90)
async def test_sigterm_cancels_an_activity_that_outlives_the_grace_period_and_it_is_retried_elsewhere(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    grace_s = 1.0
    async with serve_http(SlowHttpServer(hang={1})) as target:
        run_id, first, second = await run_with_hanging_http_get(
            api,
            worker_processes,
            temporal_client,
            task_queue,
            target,
            first_env={"AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S": str(grace_s)},
        )
        first.terminate()  # the held request is never answered: the grace period runs out
        assert first.killed_at is not None
        assert await first.exited(timeout_s=30) == 0, first.log()
        exit_s = time.monotonic() - first.killed_at

        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert "fetched ok" in done["output"]
        assert len(target.arrivals) == 2  # the cancelled attempt and its retry
        retry_s = target.arrivals[1] - first.killed_at

    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    tools = {r.tool_name: r for r in records if r.activity_type == TOOL_ACTIVITY}
    assert tools["http_get"].attempt == 2 and tools["http_get"].completed
    assert tools["http_get"].identity == second.identity
    # Handed back by the stopping worker, not found dead by a missed heartbeat or a timeout.
    assert tools["http_get"].last_failure is not None
    assert not tools["http_get"].last_failure.startswith("timeout"), tools["http_get"].last_failure
    assert tools["calculator"].attempt == 1
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    started = [e.data for e in events if e.type == "tool.call.started" and e.data["tool"] == "http_get"]
    assert [d["attempt"] for d in started] == [1, 2]
    assert exit_s < grace_s + 10  # a hang guard: grace, then cancellation, closing and exit
    assert retry_s < RECOVERY_BOUND_S
    report(
        f"SIGTERM, activity outlives a 1 s grace period (attempt 1: {tools['http_get'].last_failure!r})",
        exit=exit_s,
        retried_request=retry_s,
    )


@pytest.mark.timeout(90)
async def test_sigterm_cancels_a_model_request_that_outlives_the_grace_period_and_it_is_retried_elsewhere(
    api: httpx.AsyncClient,
    worker_processes: WorkerProcesses,
    temporal_client: Client,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    async with serve_chat(ScriptedChatServer(stall={2})) as model:
        worker_processes.env["AGENT_RUNTIME_OPENAI_BASE_URL"] = model.base_url
        first = worker_processes.spawn(
            {**worker_processes.env, "AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S": "1"}
        )
        agent_id = await make_agent(api, "openai-compatible:slow-llm", [{"name": "calculator"}])
        await wait_polling(temporal_client, task_queue, first)
        run_id = await start_run(api, agent_id, "What is 6 * 7?")
        await asyncio.wait_for(model.stalled.wait(), timeout=30)  # step 2 streams, then stalls
        second = worker_processes.spawn()
        await wait_polling(temporal_client, task_queue, second)

        first.terminate()
        assert first.killed_at is not None
        assert await first.exited(timeout_s=30) == 0, first.log()
        exit_s = time.monotonic() - first.killed_at
        done = await wait_for_status(api, run_id, TERMINAL, timeout_s=45)
        assert done["status"] == "succeeded", (done, second.log())
        assert done["output"] == model.answer
        assert [r.has_tool_results for r in model.requests] == [False, True, True]
        retry_s = model.requests[2].received_at - first.killed_at

    records = await completed_workflow_activities(temporal_client.get_workflow_handle(f"run-{run_id}"))
    model_requests = [r for r in records if r.activity_type == MODEL_ACTIVITY]
    assert [r.attempt for r in model_requests] == [1, 2]
    assert model_requests[1].identity == second.identity
    assert model_requests[1].last_failure is not None
    assert not model_requests[1].last_failure.startswith("timeout"), model_requests[1].last_failure
    assert attempts_by_type(records)[TOOL_ACTIVITY] == [1]
    events = await run_events(database, tenant_id, run_id)
    assert_events_consistent(events)
    finished = [e.data for e in events if e.type == "model.request.finished"]
    assert [f["step"] for f in finished] == [1, 2]
    assert exit_s < 1 + 10
    assert retry_s < RECOVERY_BOUND_S
    report(
        f"SIGTERM, model request outlives a 1 s grace period ({model_requests[1].last_failure!r})",
        exit=exit_s,
        retried_request=retry_s,
    )
