"""The LangGraph Platform API, driven by the real ``langgraph-sdk`` client against the API served
by uvicorn on a free port, with a real worker, Temporal, Postgres and Redis behind it. Credentials
are real API keys (the SDK sends them as ``X-Api-Key``)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any, cast

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError as LangGraphConflict
from langgraph_sdk.errors import NotFoundError as LangGraphNotFound

from agent_runtime_core.db import Database

from .support import StreamCutter, issue_api_key

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def other_api_key(database: Database, other_tenant_id: str) -> str:
    return (await issue_api_key(database, other_tenant_id, ["admin"]))[1]


@pytest.fixture
async def client(server: str, api_key: str) -> LangGraphClient:
    return get_client(url=server, api_key=api_key)


async def make_agent(server: str, api_key: str, **version: Any) -> str:
    """An agent of the scripted model, created through /v1 with the same key."""
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {api_key}"}) as http:
        body = {"name": f"lg-{uuid.uuid4().hex[:8]}", "version": {"model": "builtin:scripted", **version}}
        response = await http.post("/v1/agents", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]


def ai_texts(values: dict[str, Any]) -> list[str]:
    return [m["content"] for m in values["messages"] if m["type"] == "ai" and m["content"]]


async def test_info_and_assistants(server: str, api_key: str, client: LangGraphClient) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.get("/info")).status_code == 200
    agent_id = await make_agent(server, api_key)
    found = await client.assistants.search(limit=50)
    assert agent_id in [a["assistant_id"] for a in found]
    assistant = await client.assistants.get(agent_id)
    assert assistant["graph_id"] == "agent"
    assert assistant["version"] == 1
    versions = await client.assistants.get_versions(agent_id)
    assert [v["version"] for v in versions] == [1]
    schemas = await client.assistants.get_schemas(agent_id)
    assert "messages" in (schemas["state_schema"] or {})["properties"]
    created = await client.assistants.create(
        graph_id="agent", name=f"lg-made-{uuid.uuid4().hex[:6]}", context={"model": "builtin:scripted"}
    )
    assert (await client.assistants.get(created["assistant_id"]))["name"] == created["name"]


async def test_threads_crud(client: LangGraphClient) -> None:
    thread = await client.threads.create(metadata={"user": "u_42"})
    assert thread["status"] == "idle"
    assert thread["values"] == {"messages": []}
    assert (await client.threads.get(thread["thread_id"]))["metadata"] == {"user": "u_42"}
    found = await client.threads.search(metadata={"user": "u_42"})
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]
    updated = await client.threads.update(thread["thread_id"], metadata={"topic": "billing"})
    assert updated["metadata"] == {"user": "u_42", "topic": "billing"}
    await client.threads.delete(thread["thread_id"])
    with pytest.raises(LangGraphNotFound):
        await client.threads.get(thread["thread_id"])


async def test_two_turn_streamed_conversation(server: str, api_key: str, client: LangGraphClient) -> None:
    agent_id = await make_agent(server, api_key)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]

    parts = [
        part
        async for part in client.runs.stream(
            thread_id,
            agent_id,
            input={"messages": [{"role": "user", "content": "Hello, my name is Ada."}]},
            stream_mode=["values", "messages-tuple"],
            stream_subgraphs=True,  # agent-chat-ui sends it; without subgraphs it changes nothing
        )
    ]
    events = [part.event for part in parts]
    assert events[0] == "metadata"
    assert events[-1] == "end"
    assert "messages" in events  # the answer's text, chunk by chunk
    final = next(part.data for part in reversed(parts) if part.event == "values")
    assert [m["type"] for m in final["messages"]] == ["human", "ai"]

    second = [
        part
        async for part in client.runs.stream(
            thread_id,
            agent_id,
            input={"messages": [{"type": "human", "content": "What is my name?"}]},
            stream_mode=["values", "messages"],
        )
    ]
    streamed = "".join(
        part.data[0]["content"]
        for part in second
        if part.event == "messages/complete" and part.data[0]["type"] == "ai"
    )
    assert "Your name is Ada." in streamed
    final = next(part.data for part in reversed(second) if part.event == "values")
    assert "Your name is Ada." in ai_texts(final)[-1]
    assert [m["type"] for m in final["messages"]] == ["human", "ai", "human", "ai"]
    state = await client.threads.get_state(thread_id)
    assert state["values"] == {"messages": final["messages"]}
    history = await client.threads.get_history(thread_id)
    assert len(history) == 2

    # The SDK types copy() as None, but returns the server's answer: the new thread.
    branch = cast("dict[str, Any]", await client.threads.copy(thread_id))
    assert branch["thread_id"] != thread_id
    assert (await client.threads.get_state(branch["thread_id"]))["values"] == state["values"]
    assert branch["values"] == state["values"]


async def test_wait_join_and_rejoin(server: str, api_key: str, client: LangGraphClient) -> None:
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator"}])
    thread_id = (await client.threads.create())["thread_id"]

    values = await client.runs.wait(
        thread_id, agent_id, input={"messages": [{"role": "user", "content": "6 * 7"}]}
    )
    assert any("42" in text for text in ai_texts(values))  # type: ignore[arg-type]

    run = await client.runs.create(
        thread_id, agent_id, input={"messages": [{"role": "user", "content": "What is 2 + 3?"}]}
    )
    joined = await client.runs.join(thread_id, run["run_id"])
    assert any("5" in text for text in ai_texts(joined))
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"

    # A dropped stream: keep the first events, then rejoin after the last id seen.
    full = [p async for p in client.runs.join_stream(thread_id, run["run_id"], stream_mode="updates")]
    ids = [p.id for p in full if p.id]
    assert len(ids) >= 2
    resumed = [
        p
        async for p in client.runs.join_stream(
            thread_id, run["run_id"], stream_mode="updates", last_event_id=ids[0]
        )
    ]
    updates_after = [p.data for p in resumed if p.event == "updates"]
    updates_all = [p.data for p in full if p.event == "updates"]
    assert updates_after == updates_all[len(updates_all) - len(updates_after) :]
    assert len(updates_after) < len(updates_all)
    assert resumed[-1].event == "end"


async def test_interrupt_resumed_with_command(server: str, api_key: str, client: LangGraphClient) -> None:
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator", "requires_approval": True}])
    thread_id = (await client.threads.create())["thread_id"]

    parts = [
        p
        async for p in client.runs.stream(
            thread_id,
            agent_id,
            input={"messages": [{"role": "user", "content": "What is 6 * 7?"}]},
            stream_mode="updates",
        )
    ]
    interrupt = next(
        p.data["__interrupt__"] for p in parts if p.event == "updates" and "__interrupt__" in p.data
    )
    assert interrupt[0]["value"]["tool"] == "calculator"
    assert interrupt[0]["value"]["args"] == {"expression": "6 * 7"}
    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    state = await client.threads.get_state(thread_id)
    assert state["tasks"][0]["interrupts"][0]["id"] == interrupt[0]["id"]

    resumed = [
        p
        async for p in client.runs.stream(
            thread_id, agent_id, command={"resume": {"approve": True}}, stream_mode="values"
        )
    ]
    final = next(p.data for p in reversed(resumed) if p.event == "values")
    assert any("42" in text for text in ai_texts(final))
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def test_store_crud_and_search(client: LangGraphClient) -> None:
    await client.store.put_item(["prefs", "alice"], "colour", {"favourite": "teal"})
    item = await client.store.get_item(["prefs", "alice"], "colour")
    assert item["value"] == {"favourite": "teal"}
    found = await client.store.search_items(["prefs"], filter={"favourite": "teal"})
    assert [i["key"] for i in found["items"]] == ["colour"]
    namespaces = await client.store.list_namespaces(prefix=["prefs"])
    assert namespaces["namespaces"] == [["prefs", "alice"]]
    await client.store.delete_item(["prefs", "alice"], "colour")
    with pytest.raises(LangGraphNotFound):
        await client.store.get_item(["prefs", "alice"], "colour")


async def test_other_tenant_gets_404(client: LangGraphClient, server: str, other_api_key: str) -> None:
    thread_id = (await client.threads.create())["thread_id"]
    await client.store.put_item(["secret"], "k", {"v": 1})
    intruder = get_client(url=server, api_key=other_api_key)
    with pytest.raises(LangGraphNotFound):
        await intruder.threads.get(thread_id)
    with pytest.raises(LangGraphNotFound):
        await intruder.threads.get_state(thread_id)
    with pytest.raises(LangGraphNotFound):
        await intruder.threads.copy(thread_id)
    with pytest.raises(LangGraphNotFound):
        await intruder.store.get_item(["secret"], "k")
    assert (await intruder.store.search_items(["secret"]))["items"] == []


async def test_unsupported_is_a_clear_4xx(server: str, api_key: str, client: LangGraphClient) -> None:
    agent_id = await make_agent(server, api_key)
    thread_id = (await client.threads.create())["thread_id"]
    headers = {"X-Api-Key": api_key}
    async with httpx.AsyncClient(base_url=server, headers=headers) as http:
        for method, path, body in [
            ("POST", "/runs/crons", {"assistant_id": agent_id, "schedule": "* * * * *"}),
            ("POST", f"/threads/{thread_id}/state", {"values": {}}),
            ("POST", f"/threads/{thread_id}/runs", {"assistant_id": agent_id, "input": {"messages": []}}),
            (
                "POST",
                f"/threads/{thread_id}/runs",
                {
                    "assistant_id": agent_id,
                    "checkpoint_id": "x",
                    "input": {"messages": [{"role": "user", "content": "hi"}]},
                },
            ),
            (
                "POST",
                f"/threads/{thread_id}/runs/stream",
                {
                    "assistant_id": agent_id,
                    "stream_mode": "debug",
                    "input": {"messages": [{"role": "user", "content": "hi"}]},
                },
            ),
            ("POST", f"/threads/{thread_id}/runs", {"assistant_id": agent_id, "command": {"resume": True}}),
        ]:
            response = await http.request(method, path, json=body)
            assert 400 <= response.status_code < 500 or response.status_code == 501, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json"), response.text
        assert (await http.get("/threads/thr_nope")).status_code == 404
        assert (await http.get("/assistants/search")).status_code in (404, 405)
    async with httpx.AsyncClient(base_url=server) as anonymous:
        assert (await anonymous.post("/threads/search", json={})).status_code == 401


async def wait_thread_status(client: LangGraphClient, thread_id: str, status: str) -> None:
    for _ in range(400):
        if (await client.threads.get(thread_id))["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"thread {thread_id} never became {status}")


async def test_multitask_strategies(server: str, api_key: str, client: LangGraphClient) -> None:
    """reject, enqueue, interrupt and rollback of a second run while the first waits for a human."""
    approver = await make_agent(server, api_key, tools=[{"name": "calculator", "requires_approval": True}])
    plain = await make_agent(server, api_key, tools=[{"name": "calculator"}])
    thread_id = (await client.threads.create())["thread_id"]

    def ask(text: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": text}]}

    first = await client.runs.create(thread_id, approver, input=ask("What is 6 * 7?"))
    await wait_thread_status(client, thread_id, "interrupted")
    with pytest.raises(LangGraphConflict):
        await client.runs.create(thread_id, plain, input=ask("1 + 1"), multitask_strategy="reject")
    queued = [
        await client.runs.create(thread_id, plain, input=ask(text), multitask_strategy="enqueue")
        for text in ("1 + 1", "2 + 2")
    ]
    assert [(await client.runs.get(thread_id, run["run_id"]))["status"] for run in queued] == ["pending"] * 2
    await client.runs.wait(thread_id, approver, command={"resume": {"approve": True}})
    await client.runs.join(thread_id, queued[-1]["run_id"])
    statuses = [(await client.runs.get(thread_id, r["run_id"]))["status"] for r in [first, *queued]]
    assert statuses == ["success"] * 3
    answers = ai_texts((await client.threads.get_state(thread_id))["values"])  # type: ignore[arg-type]
    assert [next(n for n in ("42", "2", "4") if n in text) for text in answers[-3:]] == ["42", "2", "4"]

    for strategy in ("interrupt", "rollback"):
        before = (await client.threads.get_state(thread_id))["values"]
        cut = await client.runs.create(thread_id, approver, input=ask("What is 5 * 5?"))
        await wait_thread_status(client, thread_id, "interrupted")
        taken = await client.runs.create(thread_id, plain, input=ask("3 + 3"), multitask_strategy=strategy)
        values = await client.runs.join(thread_id, taken["run_id"])
        assert (await client.runs.get(thread_id, cut["run_id"]))["status"] == "interrupted"
        assert (await client.runs.get(thread_id, taken["run_id"]))["status"] == "success"
        # The cut run left no turn; the new one appended its own after the earlier turns.
        assert values["messages"][: len(before["messages"])] == before["messages"]  # type: ignore[index]
        new = [m["content"] for m in values["messages"][len(before["messages"]) :]]  # type: ignore[index]
        assert new[0] == "3 + 3" and "25" not in "".join(map(str, new)) and "6" in str(new[-1])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    strategies=st.lists(
        st.sampled_from(["reject", "enqueue", "interrupt", "rollback"]), min_size=2, max_size=4
    )
)
async def test_concurrent_creates_resolve_one_at_a_time(
    server: str, api_key: str, client: LangGraphClient, strategies: list[str]
) -> None:
    """Concurrent run creations on one thread, each with its strategy, from the SDK: each is
    decided in turn (admissions 1..n), at most one runs at a time, and every run not rejected,
    cut or rolled back appends its turn once, in order."""
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator"}])
    thread_id = (await client.threads.create())["thread_id"]

    async def create(index: int, strategy: Any) -> dict[str, Any] | None:
        body: dict[str, Any] = {"messages": [{"role": "user", "content": f"{index} + 100"}]}
        try:
            return dict(
                await client.runs.create(thread_id, agent_id, input=body, multitask_strategy=strategy)
            )
        except LangGraphConflict:
            return None

    created = await asyncio.gather(*(create(i, s) for i, s in enumerate(strategies)))
    admitted = [run for run in created if run is not None]
    assert admitted, "every request was rejected"
    for run in admitted:
        await client.runs.join(thread_id, run["run_id"])
    await wait_thread_status(client, thread_id, "idle")
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {api_key}"}) as http:
        runs = [(await http.get(f"/v1/runs/{run['run_id']}")).json() for run in admitted]
        admissions = []
        for run in runs:
            events = (await http.get(f"/v1/runs/{run['id']}/events")).json()["data"]
            admissions.append(next(e["data"]["admission"] for e in events if e["type"] == "run.queued"))
    assert sorted(admissions) == list(range(1, len(runs) + 1))
    spans = sorted((run["started_at"], run["finished_at"]) for run in runs if run["started_at"])
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))
    kept = sorted(
        (run for run in runs if run["status"] == "succeeded" and run["rolled_back_by"] is None),
        key=lambda run: run["started_at"],
    )
    prompts = [
        m["content"]
        for m in (await client.threads.get_state(thread_id))["values"]["messages"]  # type: ignore[index]
        if m["type"] == "human"
    ]
    assert prompts == [run["input"] for run in kept]


async def test_a_dropped_stream_is_resumed_by_the_sdk(server: str, api_key: str) -> None:
    """The SDK reconnects to the stream's ``Location`` with ``Last-Event-ID`` when the connection
    drops mid-event; the parts it yields are exactly those of an uninterrupted stream."""
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator"}])
    async with StreamCutter(server, b"/runs/stream", after_ids=3, mid_group=True) as cutter:
        client = get_client(url=cutter.url, api_key=api_key)
        thread_id = (await client.threads.create())["thread_id"]
        modes: list[Any] = ["messages-tuple", "updates", "values"]
        body: dict[str, Any] = {"messages": [{"role": "user", "content": "What is 6 * 7?"}]}
        parts = [p async for p in client.runs.stream(thread_id, agent_id, input=body, stream_mode=modes)]
        assert cutter.cuts == 1
        run_id = parts[0].data["run_id"]
        [(line, last_id)] = [
            (line, last) for line, last in cutter.requests if line.startswith("GET") and "/stream" in line
        ]
        assert f"/threads/{thread_id}/runs/{run_id}/stream" in line
        assert last_id is not None and "." in last_id  # it had part of an event, not all of it
        whole = [p async for p in client.runs.join_stream(thread_id, run_id, stream_mode=modes)]

    def kept(stream: list[Any]) -> list[tuple[str, Any]]:
        # A rejoin opens with the state so far (a "values" snapshot) and its own "metadata".
        return [(p.event, p.data) for p in stream if p.event not in ("metadata", "values")]

    assert kept(parts) == kept(whole)
    assert parts[-1].event == "end"
    assert [p.data for p in parts if p.event == "values"][-1] == [
        p.data for p in whole if p.event == "values"
    ][-1]


async def test_summary_is_part_of_the_state(server: str, api_key: str, client: LangGraphClient) -> None:
    """The ``summarize`` context strategy, seen from the SDK: the run that summarized streams a
    ``summarize`` update, the thread's state has the ``summary``, the messages stay whole."""
    agent_id = await make_agent(
        server, api_key, memory={"context": {"strategy": "summarize", "max_context_tokens": 1200}}
    )
    thread_id = (await client.threads.create())["thread_id"]
    filler = "lorem ipsum dolor sit amet " * 12
    summaries: list[str] = []
    final: dict[str, Any] = {}
    prompts = ["Hello, my name is Ada.", *(f"Note {n}: {filler}" for n in range(2, 6)), "What is my name?"]
    for index, text in enumerate(prompts):
        async for part in client.runs.stream(
            thread_id,
            agent_id,
            input={"messages": [{"role": "user", "content": text}]},
            stream_mode=["updates", "values"],
        ):
            if part.event == "updates" and "summarize" in part.data:
                summaries.append(part.data["summarize"]["summary"])
            if part.event == "values":
                final = part.data
        assert index < 4 or summaries, "no run summarized the thread"
    assert "my name is Ada" in summaries[0]
    assert ai_texts(final)[-1].startswith("Your name is Ada.")
    assert final["summary"] == summaries[-1]
    state = await client.threads.get_state(thread_id)
    assert state["values"]["summary"] == summaries[-1]  # type: ignore[index]
    assert (await client.threads.get(thread_id))["values"]["summary"] == summaries[-1]  # type: ignore[index]
    assert len(state["values"]["messages"]) >= 12  # type: ignore[index]
    assert (await client.assistants.get_schemas(agent_id))["state_schema"]["properties"]["summary"]  # type: ignore[index]


async def test_approval_as_agent_chat_ui_sees_and_resumes_it(
    server: str, api_key: str, client: LangGraphClient
) -> None:
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator", "requires_approval": True}])
    thread_id = (await client.threads.create())["thread_id"]
    await client.runs.wait(
        thread_id, agent_id, input={"messages": [{"role": "user", "content": "My name is Ada."}]}
    )
    # As agent-chat-ui sends it: content blocks.
    prompt: dict[str, Any] = {"type": "human", "content": [{"type": "text", "text": "What is 6 * 7?"}]}
    values = await client.runs.wait(thread_id, agent_id, input={"messages": [prompt]})

    # The interrupt is also LangChain's human-in-the-loop request: agent-chat-ui shows its buttons.
    interrupt = values["__interrupt__"][0]  # type: ignore[call-overload]
    (request,) = interrupt["value"]["action_requests"]
    assert (request["name"], request["args"]) == ("calculator", {"expression": "6 * 7"})
    assert request["description"]
    assert interrupt["value"]["review_configs"] == [
        {"action_name": "calculator", "allowed_decisions": ["approve", "reject"]}
    ]

    # While interrupted, the thread's state holds the turn so far: what a reload shows.
    state = await client.threads.get_state(thread_id)
    messages = state["values"]["messages"]  # type: ignore[index]
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    assert messages[2]["content"] == "What is 6 * 7?"
    assert messages[3]["tool_calls"][0]["args"] == {"expression": "6 * 7"}
    assert [i["id"] for i in state["tasks"][0]["interrupts"]] == [interrupt["id"]]
    # ...at a checkpoint of its own, the child of the last turn's (no fork for useStream's branches).
    history = await client.threads.get_history(thread_id)
    current, last_turn = history
    assert current["checkpoint"]["checkpoint_id"] != last_turn["checkpoint"]["checkpoint_id"]
    assert current["parent_checkpoint"]["checkpoint_id"] == last_turn["checkpoint"]["checkpoint_id"]  # type: ignore[index]

    # The run stamped the thread, and agent-chat-ui's search (the agent id as a graph id) finds it.
    thread = await client.threads.get(thread_id)
    assert thread["metadata"] == {"graph_id": "agent", "assistant_id": agent_id}
    for metadata in ({"graph_id": agent_id}, {"assistant_id": agent_id}, {"graph_id": "agent"}):
        assert [t["thread_id"] for t in await client.threads.search(metadata=metadata)] == [thread_id]
    assert await client.threads.search(metadata={"graph_id": agent_id, "assistant_id": "agt_other"}) == []

    # agent-chat-ui resumes with an empty input and `{"decisions": [...]}`; edits are refused.
    async with httpx.AsyncClient(base_url=server, headers={"X-Api-Key": api_key}) as http:
        edit = {"type": "edit", "edited_action": {"name": "calculator", "args": {"expression": "1"}}}
        response = await http.post(
            f"/threads/{thread_id}/runs/wait",
            json={"assistant_id": agent_id, "input": {}, "command": {"resume": {"decisions": [edit]}}},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "not_supported"
        two = {"decisions": [{"type": "approve"}, {"type": "approve"}]}
        response = await http.post(
            f"/threads/{thread_id}/runs/wait", json={"assistant_id": agent_id, "command": {"resume": two}}
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "resume_ambiguous"
    resumed = await client.runs.wait(
        thread_id,
        agent_id,
        input={},
        command={"resume": {"decisions": [{"type": "reject", "message": "Not today."}]}},
    )
    assert "__interrupt__" not in resumed
    assert "Not today." in ai_texts(resumed)[-1]  # type: ignore[arg-type]
    assert (await client.threads.get(thread_id))["status"] == "idle"


async def _v1_status(http: httpx.AsyncClient, run_id: str) -> str:
    response = await http.get(f"/v1/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def test_a_stream_with_on_disconnect_cancel_cancels_its_run_when_the_client_leaves(
    server: str, api_key: str, client: LangGraphClient
) -> None:
    # useStream asks for on_disconnect "cancel" unless its stream is resumable (agent-chat-ui's
    # resume and its Cancel button): leaving the stream before the run ends cancels the run.
    agent_id = await make_agent(server, api_key, tools=[{"name": "calculator", "requires_approval": True}])
    thread_id = (await client.threads.create())["thread_id"]
    await client.runs.wait(thread_id, agent_id, input={"messages": [{"role": "user", "content": "6 * 7"}]})
    assert (await client.threads.get(thread_id))["status"] == "interrupted"  # it keeps the turn

    async def leave_a_stream(on_disconnect: str) -> str:
        """A run queued behind the waiting one, streamed, and the stream left at once: its id."""
        body = {
            "assistant_id": agent_id,
            "input": {"messages": [{"role": "user", "content": "Hello"}]},
            "multitask_strategy": "enqueue",
            "on_disconnect": on_disconnect,
            "stream_mode": ["values"],
        }
        async with http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    return json.loads(line.removeprefix("data:"))["run_id"]  # the metadata event
        raise AssertionError("no metadata event")

    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {api_key}"}) as http:
        cancelled = await leave_a_stream("cancel")
        kept = await leave_a_stream("continue")
        deadline = asyncio.get_running_loop().time() + 15
        while await _v1_status(http, cancelled) != "cancelled":
            assert asyncio.get_running_loop().time() < deadline, await _v1_status(http, cancelled)
            await asyncio.sleep(0.1)
        assert await _v1_status(http, kept) == "queued"

        # Without a stream there is no disconnect to act on: refused.
        response = await http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": agent_id, "input": {"messages": ["Hi"]}, "on_disconnect": "cancel"},
        )
        assert response.status_code == 422, response.text
