"""Context management of threads (the version's ``memory.context``) and thread-scoped memory,
through the API, the worker and the offline scripted model.

The summary request's wire content (with a real provider's format) is checked in the worker's
``test_thread_context.py`` against the fake provider.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import TERMINAL_STATUSES, assert_problem, events_of, make_agent, wait_for_status
from .test_threads import all_messages, new_thread, run_on, wait_until_idle

pytestmark = pytest.mark.timeout(180)

MEMORY_TOOLS = [{"name": "memory_save"}, {"name": "memory_search"}]
FILLER = "lorem ipsum dolor sit amet " * 12  # a turn of it: ~415 estimated tokens (its JSON / 4)


async def run_to_end(api: httpx.AsyncClient, agent_id: str, thread_id: str, text: str) -> dict[str, Any]:
    response = await run_on(api, agent_id, thread_id, text)
    assert response.status_code == 202, response.text
    done = await wait_for_status(api, response.json()["id"], TERMINAL_STATUSES, timeout_s=60)
    assert done["status"] == "succeeded", done
    return done


@pytest.mark.parametrize(
    ("context", "field", "message"),
    [
        ({"strategy": "last_n"}, "last_n_turns", "needs last_n_turns"),
        ({"strategy": "summarize"}, "max_context_tokens", "needs max_context_tokens"),
        ({"strategy": "summarize", "max_context_tokens": 5}, "max_context_tokens", "greater than or equal"),
        ({"strategy": "sometimes"}, "strategy", "Input should be"),
        (
            {"strategy": "summarize", "max_context_tokens": 1000, "summary_model": "nope:x"},
            "summary_model",
            "",
        ),
    ],
)
async def test_context_settings_are_validated_naming_the_field(
    api: httpx.AsyncClient, context: dict[str, Any], field: str, message: str
) -> None:
    response = await api.post(
        "/v1/agents",
        json={"name": "ctx", "version": {"model": "builtin:scripted", "memory": {"context": context}}},
    )
    problem = assert_problem(response, 422, "validation_error")
    [error] = problem["errors"]
    assert error["loc"][-3:] == ["memory", "context", field], error
    assert message in error["msg"]


async def test_context_settings_are_stored_on_the_version(api: httpx.AsyncClient) -> None:
    context = {"strategy": "summarize", "max_context_tokens": 2000, "summary_model": "builtin:scripted"}
    created = await api.post(
        "/v1/agents",
        json={"name": "ctx-ok", "version": {"model": "builtin:scripted", "memory": {"context": context}}},
    )
    assert created.status_code == 201, created.text
    version = (await api.get(f"/v1/agents/{created.json()['id']}/versions/1")).json()
    assert version["memory"]["context"] == {**context, "last_n_turns": None}
    assert version["memory"]["store_namespace"]["scope"] == "agent"


async def test_last_n_turns_bounds_what_the_model_sees_and_the_history_keeps_everything(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(runtime_api, memory={"context": {"strategy": "last_n", "last_n_turns": 2}})
    thread_id = await new_thread(runtime_api)
    for index in range(1, 5):
        await run_to_end(runtime_api, agent_id, thread_id, f"Prompt number {index}.")
    done = await run_to_end(runtime_api, agent_id, thread_id, "What did I say?")
    # The scripted model quotes the earliest prompt it was shown: turn 3 of 4.
    assert done["output"] == 'You told me earlier: "Prompt number 3."'
    prompts = [
        part["content"]
        for message in await all_messages(runtime_api, thread_id)
        for part in message["parts"]
        if part["part_kind"] == "user-prompt"
    ]
    assert prompts == [f"Prompt number {i}." for i in range(1, 5)] + ["What did I say?"]


async def test_summarize_kicks_in_at_the_limit_and_the_summary_is_shown(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(
        runtime_api, memory={"context": {"strategy": "summarize", "max_context_tokens": 1200}}
    )
    thread_id = await new_thread(runtime_api)
    runs = [await run_to_end(runtime_api, agent_id, thread_id, "Hello, my name is Ada.")]
    for index in range(2, 6):
        runs.append(await run_to_end(runtime_api, agent_id, thread_id, f"Note {index}: {FILLER}"))
    summarized = [
        (run["id"], event["data"])
        for run in runs
        for event in await events_of(runtime_api, run["id"])
        if event["type"] == "thread.summarized"
    ]
    assert summarized, "no run summarized the thread"
    run_id, first = summarized[0]
    assert first["thread_id"] == thread_id and first["from_seq"] == 1 and first["through_seq"] >= 1
    assert first["model"] == "builtin:scripted"
    assert "my name is Ada" in first["summary"]

    # The next turn sees the summary instead of turn 1, and still knows the name.
    done = await run_to_end(runtime_api, agent_id, thread_id, "What is my name?")
    assert done["output"].startswith('Your name is Ada. You told me earlier: "Summary of the earlier')

    thread = await wait_until_idle(runtime_api, thread_id)
    latest = thread["summary"]
    assert latest is not None and latest["through_seq"] >= first["through_seq"]
    assert latest["model"] == "builtin:scripted" and "my name is Ada" in latest["text"]
    assert run_id in {run["id"] for run in runs}
    # The full history stays readable: every turn, none replaced by the summary.
    messages = await all_messages(runtime_api, thread_id)
    assert {m["seq"] for m in messages} == set(range(1, 7))
    assert messages[0]["parts"][0]["content"] == "Hello, my name is Ada."


async def test_thread_scoped_memories_are_shared_by_the_threads_runs_only(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(
        runtime_api, tools=MEMORY_TOOLS, memory={"store_namespace": {"scope": "thread"}}
    )
    thread_a, thread_b = await new_thread(runtime_api), await new_thread(runtime_api)
    await run_to_end(runtime_api, agent_id, thread_a, "Remember: key=colour value='teal' query=nothing")
    second = await run_to_end(runtime_api, agent_id, thread_a, "key=pet value=cat query=teal")
    other = await run_to_end(runtime_api, agent_id, thread_b, "key=car value=red query=teal")

    def found(events: list[dict[str, Any]]) -> list[str]:
        [search] = [
            e["data"]
            for e in events
            if e["type"] == "tool.call.finished" and e["data"]["tool"] == "memory_search"
        ]
        assert search["ok"] is True, search
        return [memory["key"] for memory in search["result"]["memories"]]

    assert "colour" in found(await events_of(runtime_api, second["id"]))
    assert "colour" not in found(await events_of(runtime_api, other["id"]))

    in_thread = await runtime_api.get(
        "/v1/store/items", params={"namespace": f"memories.{agent_id}.{thread_a}", "key": "colour"}
    )
    assert in_thread.status_code == 200, in_thread.text
    agent_wide = await runtime_api.get(
        "/v1/store/items", params={"namespace": f"memories.{agent_id}", "key": "colour"}
    )
    assert agent_wide.status_code == 404

    # Without a thread there is no memory to use: refused before anything starts.
    alone = await runtime_api.post("/v1/runs", json={"agent_id": agent_id, "input": "key=a value=b"})
    problem = assert_problem(alone, 422, "thread_required")
    assert problem["errors"][0]["loc"] == ["body", "thread_id"]
