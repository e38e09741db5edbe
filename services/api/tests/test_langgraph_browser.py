"""The LangGraph API from a real browser: a React page (``tests/js/browser/app.jsx``) built on
``useStream`` from ``@langchain/langgraph-sdk/react`` the way agent-chat-ui uses it, bundled by
esbuild and driven in headless Chromium by playwright-core (``browser/drive.mjs``), against the API
served on a free port with a real worker, Temporal, Postgres and Redis behind it.

The page is served from another origin than the API's, so the API's CORS
(``cors_allow_origins``) is part of what is tested. The assertions are on what the screen showed.
Screenshots land in the test's tmp dir. Without Node or Chromium (``scripts/_debian.sh``
installs Debian's) the test is skipped with the reason, except under CI, where that fails."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.settings import Settings

from .support import run_node, served, skip_or_fail

pytestmark = pytest.mark.timeout(90)

DRIVER = Path(__file__).parent / "js" / "browser" / "drive.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER_TIMEOUT_S = 75


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM}: scripts/test installs Debian's (scripts/_debian.sh)")
    return CHROMIUM


@pytest.fixture
def page_port() -> int:
    return find_free_port()


@pytest.fixture
async def cors_server(
    worker_settings: Settings, running_worker: object, page_port: int
) -> AsyncGenerator[str]:
    """The API, allowing the page's origin (CORS), a worker behind it."""
    settings = worker_settings.model_copy(update={"cors_allow_origins": [f"http://127.0.0.1:{page_port}"]})
    async with served(settings) as url:
        yield url


async def drive(node: str, chromium: str, *args: str) -> dict[str, Any]:
    return await run_node(
        node, DRIVER, *args, timeout_s=DRIVER_TIMEOUT_S, cwd=DRIVER.parent.parent, env={"CHROMIUM": chromium}
    )


async def make_agent(server: str, api_key: str, **version: Any) -> str:
    async with httpx.AsyncClient(base_url=server, headers={"Authorization": f"Bearer {api_key}"}) as http:
        body = {
            "name": f"lgbrowser-{uuid.uuid4().hex[:8]}",
            "version": {"model": "builtin:scripted", **version},
        }
        response = await http.post("/v1/agents", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"]


def shown(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The messages on screen as (type, text)."""
    return [(message["type"], message["text"]) for message in messages]


async def test_use_stream_page_in_chromium(
    node: str, chromium: str, cors_server: str, api_key: str, page_port: int, tmp_path: Path
) -> None:
    agent = await make_agent(cors_server, api_key, tools=[{"name": "calculator", "requires_approval": True}])

    seen = await drive(node, chromium, cors_server, api_key, agent, str(page_port), str(tmp_path))
    (tmp_path / "seen.json").write_text(json.dumps(seen, indent=2))  # with the screenshots, for debugging

    context = json.dumps(
        {k: seen.get(k) for k in ("failure", "page_errors", "console_errors", "screenshots")}
    )
    assert "failure" not in seen, context
    assert seen["page_errors"] == [], context
    assert seen["console_errors"] == [], context
    assert seen["failed_requests"] == [], context
    thread_id = seen["thread_id"]
    assert thread_id and thread_id.startswith("thr_")

    # Two turns; the thread id went into the URL with the first (onThreadId), as in agent-chat-ui.
    first, second = seen["turns"]
    assert first["thread_id_in_url"] == thread_id
    assert shown(first["messages"]) == [
        ("human", "Hello, my name is Ada."),
        ("ai", "You said: Hello, my name is Ada."),
    ]
    assert [kind for kind, _ in shown(second["messages"])] == ["human", "ai", "human", "ai"]
    assert second["messages"][2]["text"] == "What is my name?"
    assert second["messages"][3]["text"].startswith("Your name is Ada.")
    # Streamed: the answer was on screen while the run was still streaming, not only once it ended.
    assert any(
        frame["status"] == "streaming" and frame["ai_count"] == 2 and frame["last_ai"]
        for frame in second["frames"]
    ), second["frames"]

    # The approval: the page shows the tool call to approve, with the question and the call.
    interrupt = seen["interrupt"]
    assert interrupt["tool"] == "calculator"
    assert interrupt["args"] == {"expression": "6 * 7"}
    assert shown(interrupt["messages"])[4] == ("human", "What is 6 * 7?")
    assert interrupt["messages"][5]["tool_calls"] == ['calculator({"expression":"6 * 7"})']
    # After a reload while interrupted, the thread's state shows the same.
    after_reload = seen["interrupt_after_reload"]
    assert after_reload["thread_id_in_url"] == thread_id
    assert after_reload["tool"] == "calculator"
    assert after_reload["messages"] == interrupt["messages"]

    # Approved by a click: the run went on, the tool's result and the answer came in.
    approved = seen["approved"]
    assert approved["error"] is None
    types = [message["type"] for message in approved["messages"]]
    assert types == ["human", "ai", "human", "ai", "human", "ai", "tool", "ai"]
    assert approved["messages"][6]["text"] == "42"
    assert "calculator: 42" in approved["messages"][7]["text"]

    # The thread list shows the thread, labelled with its first message.
    assert seen["thread_list"]["label"] == "Hello, my name is Ada."

    # A reload restores the conversation from the thread's history.
    reloaded = seen["reloaded"]
    assert reloaded["thread_id_in_url"] == thread_id
    assert reloaded["status"] == "idle"
    assert reloaded["error"] is None
    assert not reloaded["interrupt_shown"]
    assert reloaded["messages"] == approved["messages"]
    assert thread_id in reloaded["listed_threads"]

    # As agent-chat-ui is configured (no reconnectOnMount), its resume asks for on_disconnect
    # "cancel": approved all the same, on a thread of its own.
    other = seen["without_reconnect"]
    assert other["thread_id_in_url"] not in (None, thread_id)
    assert other["error"] is None
    assert [m["type"] for m in other["messages"]] == ["human", "ai", "tool", "ai"]
    assert "calculator: 5" in other["messages"][3]["text"]

    assert {Path(path).name for path in seen["screenshots"]} == {"interrupt.png", "reloaded.png"}
