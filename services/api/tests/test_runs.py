"""Runs end to end in-process: API → Postgres → Temporal dev server → our worker → Postgres."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from .support import TERMINAL_STATUSES, assert_problem, events_of, make_agent, wait_for_status


async def test_run_calls_tools_and_succeeds_with_gap_free_events(
    runtime_api: httpx.AsyncClient, temporal_client: Client
) -> None:
    agent_id = await make_agent(
        runtime_api, instructions="Be brief.", tools=[{"name": "calculator"}, {"name": "current_time"}]
    )
    response = await runtime_api.post(
        "/v1/runs", json={"agent_id": agent_id, "input": "What is (12 + 30) * 7 in Europe/Paris?"}
    )
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "queued"
    assert run["workflow_id"] == f"run-{run['id']}"
    assert run["temporal_ui_url"].endswith(f"/namespaces/default/workflows/run-{run['id']}")

    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert "calculator: 294" in done["output"]
    assert ("current_time: " in done["output"] and "+01:00" in done["output"]) or "+02:00" in done["output"]
    assert done["usage"]["requests"] == 2
    assert done["usage"]["input_tokens"] > 0
    assert done["started_at"] is not None and done["finished_at"] is not None
    assert done["error"] is None

    events = await events_of(runtime_api, run["id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["id"] == f"{run['id']}:{e['seq']}" for e in events)
    types = [e["type"] for e in events]
    assert types[:2] == ["run.queued", "run.started"]
    assert types[-1] == "run.succeeded"
    assert types.count("model.request.started") == 2
    assert types.count("model.request.finished") == 2
    assert types.count("tool.call.started") == 2
    finished_tools = [e["data"] for e in events if e["type"] == "tool.call.finished"]
    assert {t["tool"] for t in finished_tools} == {"calculator", "current_time"}
    assert all(t["ok"] for t in finished_tools)
    assert next(t for t in finished_tools if t["tool"] == "calculator")["result"] == 294

    # Each model request and each tool call was its own activity in the workflow's history.
    handle = temporal_client.get_workflow_handle(run["workflow_id"])
    await handle.result()  # the run row is final a moment before the workflow completes
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    activity_types = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert activity_types.count("agent__agent_runtime__model_request_stream") == 2
    assert activity_types.count("agent__agent_runtime__toolset__builtin__call_tool") == 2
    assert set(activity_types) == {
        "agent__agent_runtime__model_request_stream",
        "agent__agent_runtime__toolset__builtin__call_tool",
    }
    # Our bookkeeping (mark_run_started, finish_run) runs as local activities: history markers.
    markers = [
        event.marker_recorded_event_attributes.marker_name
        async for event in handle.fetch_history_events()
        if event.HasField("marker_recorded_event_attributes")
    ]
    assert markers.count("core_local_activity") == 2


async def test_tools_not_enabled_are_not_offered(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[])
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "2 + 2"})).json()
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded"
    assert done["output"] == "You said: 2 + 2"
    assert "tool.call.started" not in [e["type"] for e in await events_of(runtime_api, run["id"])]


async def test_invalid_tool_arguments_go_back_to_the_model(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}])
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "compute 1 / 0"})).json()
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert "calculator failed" in done["output"]
    finished = [
        e["data"] for e in await events_of(runtime_api, run["id"]) if e["type"] == "tool.call.finished"
    ]
    assert finished and finished[0]["ok"] is False


async def test_request_limit_fails_the_run_readably(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}], limits={"max_requests": 1})
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "3 * 3"})).json()
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "usage_limit_exceeded"
    assert "request_limit" in done["error"]["message"]


async def test_missing_provider_key_fails_with_configuration_error(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    version = await runtime_api.post(f"/v1/agents/{agent_id}/versions", json={"model": "openai:gpt-4o"})
    assert version.status_code == 201
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "hi"})).json()
    assert run["agent_version"] == 2
    done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "configuration_error"
    assert "AGENT_RUNTIME_OPENAI_API_KEY" in done["error"]["message"]


async def test_same_idempotency_key_and_body_returns_the_same_run(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    body = {"agent_id": agent_id, "input": "hello"}
    headers = {"Idempotency-Key": "key-1"}
    first = await runtime_api.post("/v1/runs", json=body, headers=headers)
    second = await runtime_api.post("/v1/runs", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await runtime_api.get("/v1/runs", params={"agent_id": agent_id})).json()["data"]
    assert len(listed) == 1

    other = await runtime_api.post("/v1/runs", json={**body, "input": "bye"}, headers=headers)
    problem = assert_problem(other, 422, "idempotency_key_reused")
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_concurrent_requests_with_one_key_make_one_run(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    body = {"agent_id": agent_id, "input": "hello"}
    responses = await asyncio.gather(
        *[runtime_api.post("/v1/runs", json=body, headers={"Idempotency-Key": "race"}) for _ in range(8)]
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1


async def test_list_runs_filters_by_agent_and_status(runtime_api: httpx.AsyncClient) -> None:
    first = await make_agent(runtime_api)
    second = await make_agent(runtime_api)
    runs = [
        (await runtime_api.post("/v1/runs", json={"agent_id": agent, "input": "x"})).json()["id"]
        for agent in (first, second, first)
    ]
    for run_id in runs:
        await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    mine = (await runtime_api.get("/v1/runs", params={"agent_id": first})).json()["data"]
    assert [r["id"] for r in mine] == [runs[2], runs[0]]
    succeeded = (await runtime_api.get("/v1/runs", params={"status": "succeeded", "limit": 2})).json()
    assert len(succeeded["data"]) == 2 and succeeded["next_cursor"]
    rest = (
        await runtime_api.get("/v1/runs", params={"status": "succeeded", "cursor": succeeded["next_cursor"]})
    ).json()
    assert [r["id"] for r in succeeded["data"] + rest["data"]] == list(reversed(runs))
    assert (await runtime_api.get("/v1/runs", params={"status": "failed"})).json()["data"] == []
    bad = await runtime_api.get("/v1/runs", params={"status": "exploded"})
    assert assert_problem(bad, 422, "validation_error")["errors"][0]["loc"] == ["query", "status", 0]


async def test_list_runs_filters_by_creation_time(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    created = []
    for _ in range(3):
        created.append((await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "x"})).json())
        await asyncio.sleep(0.01)
    first, second, third = created

    async def listed(**params: str) -> list[str]:
        response = await runtime_api.get("/v1/runs", params={"agent_id": agent_id, **params})
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["data"]]

    # `since` is inclusive, `until` exclusive, as in /v1/usage.
    assert await listed(since=second["created_at"]) == [third["id"], second["id"]]
    assert await listed(until=second["created_at"]) == [first["id"]]
    assert await listed(since=first["created_at"], until=third["created_at"]) == [second["id"], first["id"]]
    empty = await runtime_api.get(
        "/v1/runs", params={"since": third["created_at"], "until": first["created_at"]}
    )
    assert assert_problem(empty, 422, "validation_error")["errors"][0]["loc"] == ["query", "since"]
    bad = await runtime_api.get("/v1/runs", params={"until": "yesterday"})
    assert assert_problem(bad, 422, "validation_error")["errors"][0]["loc"] == ["query", "until"]
    for run in created:
        await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)


async def test_run_of_unknown_agent_or_version_is_404(runtime_api: httpx.AsyncClient) -> None:
    assert_problem(
        await runtime_api.post("/v1/runs", json={"agent_id": "agt_x", "input": "x"}), 404, "agent_not_found"
    )
    agent_id = await make_agent(runtime_api)
    response = await runtime_api.post(
        "/v1/runs", json={"agent_id": agent_id, "agent_version": 9, "input": "x"}
    )
    assert_problem(response, 404, "agent_version_not_found")
    assert_problem(await runtime_api.get("/v1/runs/run_nope"), 404, "run_not_found")
    assert_problem(await runtime_api.get("/v1/runs/run_nope/events"), 404, "run_not_found")
    assert_problem(await runtime_api.post("/v1/runs/run_nope/cancel"), 404, "run_not_found")


async def test_run_of_agent_without_version_is_409(runtime_api: httpx.AsyncClient) -> None:
    agent = (await runtime_api.post("/v1/agents", json={"name": "empty"})).json()
    response = await runtime_api.post("/v1/runs", json={"agent_id": agent["id"], "input": "x"})
    assert_problem(response, 409, "agent_has_no_version")


async def test_empty_input_is_422_and_writes_nothing(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    problem = assert_problem(
        await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": ""}), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "input"]
    assert (await runtime_api.get("/v1/runs")).json()["data"] == []


async def test_cancel_of_finished_run_is_409(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "x"})).json()
    await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
    assert_problem(await runtime_api.post(f"/v1/runs/{run['id']}/cancel"), 409, "run_already_finished")


async def test_delete_agent_with_active_run_is_409_then_allowed(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api)
    run = (await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "x"})).json()
    response = await runtime_api.delete(f"/v1/agents/{agent_id}")
    if response.status_code == 409:  # the run had not finished yet
        assert_problem(response, 409, "agent_has_active_runs")
        await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
        response = await runtime_api.delete(f"/v1/agents/{agent_id}")
    assert response.status_code == 204
    # The run of a deleted agent stays readable.
    assert (await runtime_api.get(f"/v1/runs/{run['id']}")).json()["status"] == "succeeded"
