"""The LangGraph Platform API driven by the real JavaScript client, ``@langchain/langgraph-sdk``
(what agent-chat-ui and the React ``useStream`` hook are built on), run by Node against the API
served on a free port with a real worker, Temporal, Postgres and Redis behind it.

The client and its pinned version live in ``tests/js`` (package.json + package-lock.json); the
test installs them itself with ``npm ci`` once per session. Without Node it is skipped with the
reason shown, except under CI (``CI`` set), where a missing Node is a failure."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import run_node

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(__file__).parent / "js" / "langgraph_js_client.mjs"
NODE_TIMEOUT_S = 60


async def make_agent(server: str, api_key: str, **version: Any) -> str:
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {api_key}"}) as http:
        body = {"name": f"lgjs-{uuid.uuid4().hex[:8]}", "version": {"model": "builtin:scripted", **version}}
        response = await http.post("/v1/agents", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]


async def run_script(node: str, *args: str) -> dict[str, Any]:
    return await run_node(node, SCRIPT, *args, timeout_s=NODE_TIMEOUT_S)


def texts(values: dict[str, Any], kind: str) -> list[str]:
    return [m["content"] for m in values["messages"] if m["type"] == kind and m["content"]]


async def test_js_client_conversation_interrupt_and_store(node: str, server: str, api_key: str) -> None:
    chat = await make_agent(server, api_key)
    approval = await make_agent(server, api_key, tools=[{"name": "calculator", "requires_approval": True}])

    seen = await run_script(node, server, api_key, chat, approval)

    assert {chat, approval} <= set(seen["assistant_ids"])
    assert seen["assistant"] == {"assistant_id": chat, "graph_id": "agent"}
    assert seen["thread_created"]["status"] == "idle"
    thread_id = seen["thread_created"]["thread_id"]

    for turn in (seen["turn1"], seen["turn2"]):
        # The events as the JS client parses them, in the modes useStream asks for.
        assert turn["events"][0] == "metadata"
        assert turn["events"][-1] == "end"
        assert {"values", "messages"} <= set(turn["events"])
        assert turn["errors"] == []
        assert turn["metadata"]["run_id"] == turn["run_created"]["run_id"]  # Content-Location
        assert turn["run_created"]["thread_id"] == thread_id
        shape = turn["messages_event_shape"]
        assert shape["is_tuple"]  # messages-tuple: [message chunk, metadata]
        assert {"type", "content", "id"} <= set(shape["chunk_keys"])
        assert {"langgraph_node", "run_id", "thread_id"} <= set(shape["metadata_keys"])

    assert "Ada" in seen["turn1"]["streamed_ai_text"]
    assert "Your name is Ada" in seen["turn2"]["streamed_ai_text"]  # turn 2 answers from turn 1
    final = seen["turn2"]["final_values"]
    assert [m["type"] for m in final["messages"]] == ["human", "ai", "human", "ai"]
    assert "Your name is Ada" in texts(final, "ai")[-1]
    assert seen["state"]["values"] == final
    assert seen["state"]["next"] == []
    # The assistant that ran on the thread is stamped on its metadata, as LangGraph does.
    assert seen["thread_after"] == {
        "status": "idle",
        "metadata": {"source": "js-sdk", "graph_id": "agent", "assistant_id": chat},
    }
    assert thread_id in seen["threads_found"]
    assert seen["history_length"] == 2

    interrupted = seen["interrupted"]
    assert interrupted["events"][-1] == "end"
    interrupt = interrupted["final_values"]["__interrupt__"]  # what useStream's `interrupt` reads
    assert interrupt[0]["value"]["tool"] == "calculator"
    assert interrupt[0]["value"]["args"] == {"expression": "6 * 7"}
    assert seen["interrupted_thread"]["status"] == "interrupted"
    assert seen["interrupted_thread"]["task_interrupts"][0]["id"] == interrupt[0]["id"]

    resumed = seen["resumed"]
    assert resumed["events"][0] == "metadata"
    assert resumed["events"][-1] == "end"
    assert resumed["metadata"]["run_id"] == interrupted["metadata"]["run_id"]  # the same run goes on
    assert "__interrupt__" not in resumed["final_values"]
    assert "42" in texts(resumed["final_values"], "tool")
    assert "42" in resumed["streamed_ai_text"]
    assert seen["resumed_thread"]["status"] == "idle"

    store = seen["store"]
    assert store["get"] == {"namespace": ["prefs", "js"], "key": "colour", "value": {"favourite": "teal"}}
    assert store["search_keys"] == ["colour"]
    assert store["after_delete"]["status"] == 404
