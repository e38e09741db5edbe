"""Cancelling and timing out runs whose tool call is in flight (a real, slow HTTP server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from .support import TERMINAL_STATUSES, assert_problem, events_of, make_agent, wait_for_status


@pytest.fixture
async def slow_server() -> AsyncGenerator[tuple[str, asyncio.Event]]:
    """An HTTP server that accepts a request and never answers; the event fires on a request."""
    requested = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        requested.set()
        try:
            await asyncio.sleep(60)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/slow", requested
        server.close()


async def test_cancel_reaches_the_running_tool_and_ends_the_run_cancelled(
    runtime_api: httpx.AsyncClient,
    slow_server: tuple[str, asyncio.Event],
    temporal_client: Client,
) -> None:
    url, requested = slow_server
    agent_id = await make_agent(runtime_api, tools=[{"name": "http_get"}])
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": f"fetch {url}"})).json()
    await asyncio.wait_for(requested.wait(), timeout=20)  # the tool activity is now mid-request
    assert (await runtime_api.get(f"/v1/runs/{run['id']}")).json()["status"] == "running"

    started = time.monotonic()
    response = await runtime_api.post(f"/v1/runs/{run['id']}/cancel")
    assert response.status_code == 202
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES, timeout_s=20)
    assert done["status"] == "cancelled"
    assert done["error"]["code"] == "cancelled"
    assert time.monotonic() - started < 10  # heartbeats deliver the cancel well before the 60 s sleep
    types = [e["type"] for e in await events_of(runtime_api, run["id"])]
    assert types[-1] == "run.cancelled"
    assert "tool.call.finished" not in types
    handle = temporal_client.get_workflow_handle(run["workflow_id"])
    with pytest.raises(WorkflowFailureError):  # the run row is final a moment before the workflow
        await handle.result()
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.CANCELED
    assert_problem(await runtime_api.post(f"/v1/runs/{run['id']}/cancel"), 409, "run_already_finished")


async def test_run_timeout_ends_the_run_timed_out(
    runtime_api: httpx.AsyncClient, slow_server: tuple[str, asyncio.Event]
) -> None:
    url, requested = slow_server
    agent_id = await make_agent(runtime_api, tools=[{"name": "http_get"}], limits={"run_timeout_s": 2})
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": f"fetch {url}"})).json()
    await asyncio.wait_for(requested.wait(), timeout=20)
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES, timeout_s=20)
    assert done["status"] == "timed_out"
    assert done["error"]["code"] == "timed_out"
    assert "2 s" in done["error"]["message"]
    assert (await events_of(runtime_api, run["id"]))[-1]["type"] == "run.timed_out"
