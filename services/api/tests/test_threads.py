"""Threads end to end: API → Postgres → Temporal dev server → our worker → Postgres.

A run on a thread sees the thread's earlier turns, appends its own when it succeeds, and takes
its turn: one run at a time, a busy thread handled by the run's multitask strategy."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import TERMINAL_STATUSES, assert_problem, client_for, events_of, make_agent, wait_for_status


async def new_thread(api: httpx.AsyncClient, **metadata: Any) -> str:
    response = await api.post("/v1/threads", json={"metadata": metadata})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def run_on(
    api: httpx.AsyncClient, agent_id: str, thread_id: str, text: str, strategy: str = "reject"
) -> httpx.Response:
    return await api.post(
        "/v1/runs",
        json={"agent_id": agent_id, "input": text, "thread_id": thread_id, "multitask_strategy": strategy},
    )


async def all_messages(api: httpx.AsyncClient, thread_id: str, limit: int = 100) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/v1/threads/{thread_id}/messages", params=params)).json()
        messages += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return messages


async def wait_until_idle(api: httpx.AsyncClient, thread_id: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        thread = (await api.get(f"/v1/threads/{thread_id}")).json()
        if thread["status"] == "idle":
            return thread
        assert time.monotonic() < deadline, thread
        await asyncio.sleep(0.05)


async def test_second_turn_sees_the_first_and_messages_page_in_order(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, instructions="Be brief.")
    thread_id = await new_thread(runtime_api, user="u_1")

    first = await run_on(runtime_api, agent_id, thread_id, "Hello, my name is Ada.")
    assert first.status_code == 202, first.text
    assert first.json()["thread_id"] == thread_id
    assert (await wait_for_status(runtime_api, first.json()["id"], TERMINAL_STATUSES))[
        "status"
    ] == "succeeded"
    second = (await run_on(runtime_api, agent_id, thread_id, "What is my name?")).json()
    done = await wait_for_status(runtime_api, second["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert done["output"] == 'Your name is Ada. You told me earlier: "Hello, my name is Ada."'

    # A run without the thread remembers nothing.
    alone = (
        await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "What is my name?"})
    ).json()
    assert (await wait_for_status(runtime_api, alone["id"], TERMINAL_STATUSES))["output"] == (
        "I don't remember anything earlier."
    )

    messages = await all_messages(runtime_api, thread_id, limit=1)
    assert [(m["seq"], m["index"], m["kind"], m["role"]) for m in messages] == [
        (1, 0, "request", "user"),
        (1, 1, "response", "assistant"),
        (2, 0, "request", "user"),
        (2, 1, "response", "assistant"),
    ]
    assert [m["run_id"] for m in messages] == [first.json()["id"]] * 2 + [second["id"]] * 2
    prompts = [p["content"] for m in messages for p in m["parts"] if p["part_kind"] == "user-prompt"]
    assert prompts == ["Hello, my name is Ada.", "What is my name?"]
    answers = [p["content"] for m in messages for p in m["parts"] if p["part_kind"] == "text"]
    assert answers == ["You said: Hello, my name is Ada.", done["output"]]
    assert await all_messages(runtime_api, thread_id, limit=3) == messages

    thread = await wait_until_idle(runtime_api, thread_id)
    assert thread["active_run_id"] is None and thread["queued_run_ids"] == []
    queued = next(e for e in await events_of(runtime_api, second["id"]) if e["type"] == "run.queued")
    assert queued["data"]["thread_id"] == thread_id and queued["data"]["admission"] == 2

    # A copy branches the conversation: same metadata and turns, then each goes its own way.
    copied = await runtime_api.post(f"/v1/threads/{thread_id}/copy")
    assert copied.status_code == 201, copied.text
    branch = copied.json()
    assert branch["id"] != thread_id and branch["status"] == "idle" and branch["metadata"] == {"user": "u_1"}
    assert copied.headers["location"] == f"/v1/threads/{branch['id']}"
    strip = ("id", "thread_id", "created_at")
    assert [
        {k: v for k, v in m.items() if k not in strip} for m in await all_messages(runtime_api, branch["id"])
    ] == [{k: v for k, v in m.items() if k not in strip} for m in messages]
    third = (await run_on(runtime_api, agent_id, branch["id"], "What is my name?")).json()
    assert (await wait_for_status(runtime_api, third["id"], TERMINAL_STATUSES))["output"] == done["output"]
    assert len(await all_messages(runtime_api, branch["id"])) == 6
    assert len(await all_messages(runtime_api, thread_id)) == 4


async def test_tool_calls_and_results_are_part_of_the_turn(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}])
    thread_id = await new_thread(runtime_api)
    run = (await run_on(runtime_api, agent_id, thread_id, "What is 6 * 7?")).json()
    assert (await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES))["status"] == "succeeded"
    kinds = [p["part_kind"] for m in await all_messages(runtime_api, thread_id) for p in m["parts"]]
    assert kinds == ["user-prompt", "tool-call", "tool-return", "text"]


async def test_a_failed_run_appends_nothing(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}], limits={"max_requests": 1})
    thread_id = await new_thread(runtime_api)
    run = (await run_on(runtime_api, agent_id, thread_id, "3 * 3")).json()
    assert (await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES))["status"] == "failed"
    assert await all_messages(runtime_api, thread_id) == []
    assert (await wait_until_idle(runtime_api, thread_id))["active_run_id"] is None


async def test_reject_refuses_a_second_run_while_the_first_waits_for_a_human(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "ask_human"}])
    thread_id = await new_thread(runtime_api)
    first = (await run_on(runtime_api, agent_id, thread_id, "Plan my trip")).json()
    await wait_for_status(runtime_api, first["id"], {"waiting"})
    thread = (await runtime_api.get(f"/v1/threads/{thread_id}")).json()
    assert (thread["status"], thread["active_run_id"]) == ("interrupted", first["id"])

    assert_problem(await run_on(runtime_api, agent_id, thread_id, "again"), 409, "thread_busy")
    assert_problem(await runtime_api.delete(f"/v1/threads/{thread_id}"), 409, "thread_busy")
    await runtime_api.post(f"/v1/runs/{first['id']}/cancel")
    assert (await wait_for_status(runtime_api, first["id"], TERMINAL_STATUSES))["status"] == "cancelled"
    await wait_until_idle(runtime_api, thread_id)
    assert await all_messages(runtime_api, thread_id) == []


async def test_enqueued_runs_take_their_turns_in_order(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "ask_human"}])
    thread_id = await new_thread(runtime_api)
    first = (await run_on(runtime_api, agent_id, thread_id, "one")).json()
    await wait_for_status(runtime_api, first["id"], {"waiting"})
    later = [
        (await run_on(runtime_api, agent_id, thread_id, text, "enqueue")).json() for text in ("two", "three")
    ]
    thread = (await runtime_api.get(f"/v1/threads/{thread_id}")).json()
    assert thread["queued_run_ids"] == [run["id"] for run in later]
    assert (await runtime_api.get(f"/v1/runs/{later[0]['id']}")).json()["status"] == "queued"

    await answer(runtime_api, first["id"], "sunny")
    for run in later:
        await wait_for_status(runtime_api, run["id"], {"waiting"})
        await answer(runtime_api, run["id"], "ok")
    finished = [await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES) for run in [first, *later]]
    assert [run["status"] for run in finished] == ["succeeded"] * 3
    assert finished[0]["finished_at"] <= finished[1]["started_at"]
    assert finished[1]["finished_at"] <= finished[2]["started_at"]
    turns = {m["seq"]: m["run_id"] for m in await all_messages(runtime_api, thread_id)}
    assert turns == {1: first["id"], 2: later[0]["id"], 3: later[1]["id"]}
    await wait_until_idle(runtime_api, thread_id)


async def answer(api: httpx.AsyncClient, run_id: str, text: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        response = await api.post(f"/v1/runs/{run_id}/input", json={"answer": text})
        if response.status_code < 300:
            return
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_cancels_the_active_run_and_the_new_one_succeeds(
    runtime_api: httpx.AsyncClient, strategy: str
) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "ask_human"}])
    thread_id = await new_thread(runtime_api)
    kept = (await run_on(runtime_api, agent_id, thread_id, "My name is Ada")).json()
    await wait_for_status(runtime_api, kept["id"], {"waiting"})
    await answer(runtime_api, kept["id"], "fine")
    assert (await wait_for_status(runtime_api, kept["id"], TERMINAL_STATUSES))["status"] == "succeeded"

    first = (await run_on(runtime_api, agent_id, thread_id, "Book a flight")).json()
    await wait_for_status(runtime_api, first["id"], {"waiting"})
    plain = await make_agent(runtime_api)
    second = await run_on(runtime_api, plain, thread_id, "What did I say?", strategy)
    assert second.status_code == 202, second.text
    cancelled = await wait_for_status(runtime_api, first["id"], TERMINAL_STATUSES)
    assert cancelled["status"] == "cancelled"
    assert cancelled["rolled_back_by"] == (second.json()["id"] if strategy == "rollback" else None)
    done = await wait_for_status(runtime_api, second.json()["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert done["multitask_strategy"] == strategy
    assert done["output"] == 'Your name is Ada. You told me earlier: "My name is Ada"'
    turns = sorted({(m["seq"], m["run_id"]) for m in await all_messages(runtime_api, thread_id)})
    assert turns == [(1, kept["id"]), (2, done["id"])]
    await wait_until_idle(runtime_api, thread_id)


async def test_threads_crud_search_and_delete(
    database_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    async for api in client_for(database_url, tenant_id):
        billing = await new_thread(api, user="u_1", topic="billing")
        await new_thread(api, user="u_2", topic="billing")
        got = (await api.get(f"/v1/threads/{billing}")).json()
        assert got["status"] == "idle" and got["metadata"] == {"user": "u_1", "topic": "billing"}
        found = (await api.get("/v1/threads", params={"metadata": '{"user": "u_1"}'})).json()
        assert [t["id"] for t in found["data"]] == [billing]
        both = (await api.get("/v1/threads", params={"metadata": '{"topic": "billing"}', "limit": 1})).json()
        assert len(both["data"]) == 1 and both["next_cursor"]
        assert_problem(
            await api.get("/v1/threads", params={"metadata": "[1]"}), 422, "invalid_metadata_filter"
        )
        updated = await api.patch(f"/v1/threads/{billing}", json={"metadata": {"topic": "refund"}})
        assert updated.json()["metadata"] == {"user": "u_1", "topic": "refund"}
        async for other in client_for(database_url, other_tenant_id):
            assert_problem(await other.get(f"/v1/threads/{billing}"), 404, "thread_not_found")
            assert_problem(await other.get(f"/v1/threads/{billing}/messages"), 404, "thread_not_found")
            assert_problem(await other.delete(f"/v1/threads/{billing}"), 404, "thread_not_found")
            assert_problem(await other.post(f"/v1/threads/{billing}/copy"), 404, "thread_not_found")
            assert (await other.get("/v1/threads")).json()["data"] == []
            agent = await make_agent(other)
            refused = await other.post(
                "/v1/runs", json={"agent_id": agent, "input": "hi", "thread_id": billing}
            )
            assert_problem(refused, 404, "thread_not_found")
        assert (await api.delete(f"/v1/threads/{billing}")).status_code == 204
        assert_problem(await api.get(f"/v1/threads/{billing}"), 404, "thread_not_found")
        assert [t["id"] for t in (await api.get("/v1/threads")).json()["data"]] != [billing]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    strategies=st.lists(
        st.sampled_from(["reject", "enqueue", "interrupt", "rollback"]), min_size=2, max_size=4
    )
)
async def test_concurrent_runs_on_one_thread_take_turns(
    runtime_api: httpx.AsyncClient, strategies: list[str]
) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}])
    thread_id = await new_thread(runtime_api)
    responses = await asyncio.gather(
        *(run_on(runtime_api, agent_id, thread_id, f"{index} + 1", s) for index, s in enumerate(strategies))
    )
    assert all(r.status_code in (202, 409) for r in responses), [r.text for r in responses]
    assert any(r.status_code == 202 for r in responses)
    admitted = [r.json() for r in responses if r.status_code == 202]
    runs = [
        await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES, timeout_s=45) for run in admitted
    ]
    await wait_until_idle(runtime_api, thread_id)

    # At most one run had the turn at any time.
    spans = sorted((run["started_at"], run["finished_at"]) for run in runs if run["started_at"])
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))
    # Decided one at a time: admissions are numbered 1..n; a rejected request was refused
    # because another run had the turn.
    order = {}
    for run in runs:
        queued = next(e for e in await events_of(runtime_api, run["id"]) if e["type"] == "run.queued")
        order[run["id"]] = queued["data"]["admission"]
    assert sorted(order.values()) == list(range(1, len(runs) + 1))
    # Enqueued runs start in the order they were admitted.
    enqueued = [run for run in runs if run["multitask_strategy"] == "enqueue" and run["started_at"]]
    by_start = [run["id"] for run in sorted(enqueued, key=lambda run: run["started_at"])]
    assert by_start == sorted(by_start, key=order.__getitem__)
    # Every succeeded run not rolled back appended its turn once, in the order runs started.
    turns = sorted({(m["seq"], m["run_id"]) for m in await all_messages(runtime_api, thread_id)})
    appended = [run for run in runs if run["status"] == "succeeded" and run["rolled_back_by"] is None]
    assert [run_id for _, run_id in turns] == [
        run["id"] for run in sorted(appended, key=lambda run: run["started_at"])
    ]
    assert [seq for seq, _ in turns] == list(range(1, len(turns) + 1))
