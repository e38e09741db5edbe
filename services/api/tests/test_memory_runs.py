"""The memory tools in real runs (API, worker, Temporal, the offline scripted model): one run of
an agent saves a memory, a later run of the same agent finds it; versions configure the scope."""

from __future__ import annotations

from typing import Any

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


async def test_memory_scopes_are_validated_per_version(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/agents",
        json={
            "name": "mem-user",
            "version": {
                "model": "builtin:scripted",
                "tools": MEMORY_TOOLS,
                "memory": {"store_namespace": {"scope": "user"}},
            },
        },
    )
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][-3:] == ["memory", "store_namespace", "metadata_key"]
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


async def finished_tools(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    done = await wait_for_status(api, run_id, {"succeeded", "failed"}, timeout_s=60)
    assert done["status"] == "succeeded", done
    return {
        event["data"]["tool"]: event["data"]
        for event in await events_of(api, run_id)
        if event["type"] == "tool.call.finished"
    }


async def run_for(
    api: httpx.AsyncClient, agent_id: str, text: str, metadata: dict[str, Any] | None, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"agent_id": agent_id, "input": text, **extra}
    if metadata is not None:
        body["metadata"] = metadata
    return await api.post("/v1/runs", json=body)


async def test_user_scoped_memories_are_shared_by_one_users_runs_and_hidden_from_others(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(
        runtime_api,
        tools=MEMORY_TOOLS,
        memory={"store_namespace": {"scope": "user", "metadata_key": "user_id"}},
    )
    saved = await run_for(
        runtime_api,
        agent_id,
        "Remember this: key=colour value='my favourite is teal' query=nothing",
        {"user_id": "u_1", "channel": "web"},
    )
    assert saved.status_code == 202, saved.text
    assert saved.json()["metadata"] == {"user_id": "u_1", "channel": "web"}
    assert (await finished_tools(runtime_api, saved.json()["id"]))["memory_save"]["ok"] is True
    item = await runtime_api.get(
        "/v1/store/items", params={"namespace": f"memories.{agent_id}.user.u_1", "key": "colour"}
    )
    assert item.status_code == 200, item.text
    assert item.json()["value"] == {"content": "my favourite is teal"}

    # The same user's next run finds it; another user's does not.
    same = await run_for(
        runtime_api, agent_id, "What do you know? key=pet value=cat query=teal", {"user_id": "u_1"}
    )
    memories = (await finished_tools(runtime_api, same.json()["id"]))["memory_search"]["result"]["memories"]
    assert [memory["key"] for memory in memories] == ["colour"]
    other = await run_for(
        runtime_api, agent_id, "What do you know? key=pet value=dog query=teal", {"user_id": 7}
    )
    assert (await finished_tools(runtime_api, other.json()["id"]))["memory_search"]["result"][
        "memories"
    ] == []
    assert (await runtime_api.get(f"/v1/runs/{other.json()['id']}")).json()["metadata"] == {"user_id": 7}

    # A thread run without the key takes the thread's (recorded on the run).
    thread = await runtime_api.post("/v1/threads", json={"metadata": {"user_id": "u_1"}})
    on_thread = await run_for(
        runtime_api, agent_id, "key=x value=y query=teal", None, thread_id=thread.json()["id"]
    )
    assert on_thread.status_code == 202, on_thread.text
    assert on_thread.json()["metadata"] == {"user_id": "u_1"}
    memories = (await finished_tools(runtime_api, on_thread.json()["id"]))["memory_search"]["result"][
        "memories"
    ]
    assert [memory["key"] for memory in memories] == ["colour"]

    listed = await runtime_api.post("/v1/store/namespaces", json={"prefix": ["memories", agent_id]})
    assert sorted(listed.json()["namespaces"]) == [
        ["memories", agent_id, "user", "7"],
        ["memories", agent_id, "user", "u_1"],
    ]


async def test_a_run_of_a_user_scoped_memory_agent_must_name_the_user(api: httpx.AsyncClient) -> None:
    created = await api.post(
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
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    for metadata in (None, {"channel": "web"}, {"user_id": "a.b"}, {"user_id": ""}, {"user_id": True}):
        response = await run_for(api, agent_id, "key=a value=b", metadata)
        problem = assert_problem(response, 422, "metadata_key_required")
        assert problem["errors"][0]["loc"] == ["body", "metadata", "user_id"], metadata
    thread = await api.post("/v1/threads", json={"metadata": {"topic": "billing"}})
    on_thread = await run_for(api, agent_id, "key=a value=b", None, thread_id=thread.json()["id"])
    assert_problem(on_thread, 422, "metadata_key_required")
    assert (await api.get(f"/v1/threads/{thread.json()['id']}")).json()["active_run_id"] is None
