"""The memory tools in real runs (API, worker, Temporal, the offline scripted model): one run of
an agent saves a memory, a later run of the same agent finds it; versions configure the scope."""

from __future__ import annotations

import httpx
import pytest

from .support import assert_problem, events_of, make_agent, start_run, wait_for_status

pytestmark = pytest.mark.timeout(120)

MEMORY_TOOLS = [{"name": "memory_save"}, {"name": "memory_search"}]


async def test_a_memory_saved_by_one_run_is_found_by_the_next_run_of_the_agent(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(
        runtime_api, tools=MEMORY_TOOLS, memory={"store_namespace": {"scope": "agent"}}
    )

    first = await start_run(
        runtime_api, agent_id, "Remember this: key=colour value='my favourite is teal' query=nothing"
    )
    assert (await wait_for_status(runtime_api, first, {"succeeded", "failed"}, timeout_s=60))[
        "status"
    ] == "succeeded"
    saved = await runtime_api.get(
        "/v1/store/items", params={"namespace": f"memories.{agent_id}", "key": "colour"}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["value"] == {"content": "my favourite is teal"}

    second = await start_run(runtime_api, agent_id, "What do you know? key=pet value=cat query=teal")
    assert (await wait_for_status(runtime_api, second, {"succeeded", "failed"}, timeout_s=60))[
        "status"
    ] == "succeeded"
    finished = {
        event["data"]["tool"]: event["data"]
        for event in await events_of(runtime_api, second)
        if event["type"] == "tool.call.finished"
    }
    assert finished["memory_search"]["ok"] is True
    memories = finished["memory_search"]["result"]["memories"]
    assert [memory["key"] for memory in memories] == ["colour"]
    assert memories[0]["value"] == {"content": "my favourite is teal"}
    assert finished["memory_save"]["result"] == {"saved": True, "key": "pet"}

    listed = await runtime_api.post("/v1/store/namespaces", json={"prefix": ["memories", agent_id]})
    assert listed.json()["namespaces"] == [["memories", agent_id]]


async def test_the_user_memory_scope_is_refused_until_runs_carry_metadata(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        "/v1/agents",
        json={
            "name": "mem-user",
            "version": {
                "model": "builtin:scripted",
                "tools": MEMORY_TOOLS,
                "memory": {"store_namespace": {"scope": "user", "metadata_key": "user_id"}},
            },
        },
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][-3:] == ["memory", "store_namespace", "scope"]
    assert "not available yet" in problem["errors"][0]["msg"]
    threaded = await api.post(
        "/v1/agents",
        json={
            "name": "mem-thread",
            "version": {
                "model": "builtin:scripted",
                "tools": MEMORY_TOOLS,
                "memory": {"store_namespace": {"scope": "thread"}},
            },
        },
    )
    assert threaded.status_code == 201, threaded.text
    created = await api.post(
        "/v1/agents",
        json={"name": "mem-agent", "version": {"model": "builtin:scripted", "tools": MEMORY_TOOLS}},
    )
    assert created.status_code == 201, created.text
    version = (await api.get(f"/v1/agents/{created.json()['id']}/versions/1")).json()
    assert version["memory"] is None and [tool["available"] for tool in version["tools"]] == [True, True]
