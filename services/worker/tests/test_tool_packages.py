"""Tool packages (``agent_runtime.tools`` entry points): discovery, the contract's refusals, the
catalog registration, and runs that call a package tool on a real Temporal server, including the
replay of such a run after the package is gone."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import Distribution
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent, FunctionToolset, RunContext, Tool
from pydantic_ai.durable_exec.temporal import PydanticAIPlugin
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlmodel import select
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.models import CatalogTool, RunEvent
from agent_runtime_core.repositories import RunEventRepository
from agent_runtime_core.repositories.tool_catalog import ServedTool
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ToolConfig,
)
from agent_runtime_worker.agents import runtime_agent
from agent_runtime_worker.main import build_worker
from agent_runtime_worker.tool_catalog import CatalogRegistration, served_tools
from agent_runtime_worker.tools.packages import (
    ENTRY_POINT_GROUP,
    PackageToolset,
    ToolPackageError,
    discover_tool_packages,
)
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow

from .support import new_run

EXAMPLE_SOURCE = "package:agent-runtime-example-tools 0.1.0"
RESERVED = {"current_time", "calculator", "http_get", "ask_human"}


class FakeDistribution(Distribution):
    """An installed distribution as far as entry points need one: a name and a version."""

    def __init__(self, name: str, version: str = "1.0") -> None:
        self._metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"

    def read_text(self, filename: str) -> str | None:
        return self._metadata if filename == "METADATA" else None

    def locate_file(self, path: str | os.PathLike[str]) -> Path:
        return Path(path)


@dataclass(frozen=True)
class FakeEntryPoint:
    """An ``importlib.metadata.EntryPoint`` look-alike whose ``load`` returns ``loads()``."""

    name: str
    value: str
    dist: Distribution | None
    loads: Callable[[], Any]
    group: str = ENTRY_POINT_GROUP

    def load(self) -> Any:
        return self.loads()


def shout(text: str) -> str:
    """Repeat the text in capitals.

    Args:
        text: What to shout.
    """
    return text.upper()


async def whisper(text: str) -> str:
    """Repeat the text in lower case.

    Args:
        text: What to whisper.
    """
    return text.lower()


def broken_import() -> Any:
    raise ModuleNotFoundError("No module named 'vendor_sdk'")


def uses_context(ctx: RunContext[Any], text: str) -> str:
    """Peek at the run.

    Args:
        text: Anything.
    """
    return text


def point(dist: str, loads: Callable[[], Any], name: str = "tools") -> FakeEntryPoint:
    return FakeEntryPoint(
        name=name, value=f"{dist.replace('-', '_')}:TOOLS", dist=FakeDistribution(dist), loads=loads
    )


# ------------------------------------------------------------------------------------ discovery


def test_discovery_finds_the_example_packages_tools_with_their_schemas() -> None:
    installed = discover_tool_packages(reserved_names=RESERVED)

    assert installed.problems == ()
    by_name = {tool.name: tool for tool in installed.tools}
    assert {"word_count", "unit_convert"} <= set(by_name)
    word_count = by_name["word_count"]
    assert word_count.source == EXAMPLE_SOURCE
    assert word_count.entry_point == "example = agent_runtime_example_tools:TOOLS"
    schema = word_count.tool.tool_def.parameters_json_schema
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"]["type"] == "string"
    assert "Count the words" in (word_count.tool.description or "")
    convert = by_name["unit_convert"].tool.tool_def.parameters_json_schema
    assert convert["required"] == ["value", "from_unit", "to_unit"]
    assert convert["properties"]["value"]["type"] == "number"
    assert {"km", "mi", "C", "F"} <= set(convert["properties"]["from_unit"]["enum"])
    # The agent serves them in its "packages" toolset.
    assert {"word_count", "unit_convert"} <= set(runtime_agent.package_toolset.tools)
    assert runtime_agent.package_toolset.id == runtime_agent.PACKAGES_TOOLSET_ID == "packages"


def test_the_three_entry_point_shapes_are_accepted() -> None:
    toolset = FunctionToolset[Any]([shout])
    installed = discover_tool_packages(
        [
            point("list-tools", lambda: [whisper, Tool(shout, name="holler", takes_ctx=False)]),
            point("toolset-tools", lambda: FunctionToolset[Any]([Tool(shout, name="yell")])),
            point("factory-tools", lambda: lambda: toolset, name="factory"),
        ],
        reserved_names=RESERVED,
    )

    assert installed.problems == ()
    # In a stable order: by distribution, then entry point.
    assert [(tool.name, tool.source) for tool in installed.tools] == [
        ("shout", "package:factory-tools 1.0"),
        ("whisper", "package:list-tools 1.0"),
        ("holler", "package:list-tools 1.0"),
        ("yell", "package:toolset-tools 1.0"),
    ]
    assert installed.tools[1].tool.function_schema.is_async  # async and sync functions alike


def test_broken_and_colliding_packages_are_reported_by_name_and_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    installed = discover_tool_packages(
        [
            point("a-good", lambda: [shout]),
            point("b-broken", broken_import),
            point("c-not-tools", lambda: 42),
            point("d-bad-name", lambda: [Tool(whisper, name="9lives")]),
            point("e-builtin-clash", lambda: [Tool(whisper, name="calculator")]),
            point("f-package-clash", lambda: [shout, whisper]),
            point("g-context", lambda: FunctionToolset[Any]([uses_context])),
            point("h-empty", lambda: []),
        ],
        reserved_names=RESERVED,
    )

    assert [tool.name for tool in installed.tools] == ["shout"]
    reasons = {problem.distribution: problem.reason for problem in installed.problems}
    assert set(reasons) == {
        "b-broken",
        "c-not-tools",
        "d-bad-name",
        "e-builtin-clash",
        "f-package-clash",
        "g-context",
        "h-empty",
    }
    assert "ModuleNotFoundError: No module named 'vendor_sdk'" in reasons["b-broken"]
    assert "is a int; expected a pydantic_ai.FunctionToolset" in reasons["c-not-tools"]
    assert "'9lives' does not match" in reasons["d-bad-name"]
    assert "'calculator' is already taken by a built-in tool" in reasons["e-builtin-clash"]
    assert "'shout' is already taken by package a-good" in reasons["f-package-clash"]
    assert "takes a RunContext" in reasons["g-context"]
    assert "provides no tools" in reasons["h-empty"]
    # Each one is logged, naming the package and its entry point.
    assert "tool package b-broken (entry point 'tools = b_broken:TOOLS')" in caplog.text
    # A worker with any of them refuses to start, listing them all.
    with pytest.raises(ToolPackageError) as refused:
        installed.check()
    message = str(refused.value)
    assert "7 tool package entry point(s)" in message
    assert all(name in message for name in reasons)


# ----------------------------------------------------------------------- stand-ins for absent tools


def calls_gone_tool_then_answers(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Calls ``gone_tool``, then answers with the tools it was offered and what the call returned."""
    answers = [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart | RetryPromptPart) and part.tool_name == "gone_tool"
    ]
    if answers:
        return ModelResponse(
            parts=[TextPart(f"offered={[t.name for t in info.function_tools]} {answers[0]}")]
        )
    return ModelResponse(parts=[ToolCallPart("gone_tool", {"text": "hi"}, tool_call_id="c1")])


async def test_an_enabled_tool_no_package_provides_gets_a_stand_in_that_refuses_to_run() -> None:
    toolset = PackageToolset[None](
        [Tool(shout, takes_ctx=False)], id="p", absent_tools=lambda ctx: ["gone_tool", "shout"]
    )
    agent = Agent[None, str](
        FunctionModel(calls_gone_tool_then_answers), deps_type=type(None), toolsets=[toolset]
    )

    result = await agent.run("go")

    assert "offered=['shout', 'gone_tool']" in result.output
    assert "The tool 'gone_tool' is not installed on this worker. It was not run" in result.output


# --------------------------------------------------------------------------------- the catalog


async def catalog_rows(database: Database, names: set[str]) -> dict[str, CatalogTool]:
    async with system_session_scope(database) as session:
        rows = (await session.exec(select(CatalogTool).where(CatalogTool.name.in_(names)))).all()  # type: ignore[attr-defined]
    return {row.name: row for row in rows}


async def test_registration_writes_the_served_tools_and_refreshes_them_on_the_next_start(
    database: Database,
) -> None:
    tools = served_tools(runtime_agent.builtin_toolset, runtime_agent.installed_tool_packages)
    names = {tool.name for tool in tools}
    assert {"calculator", "current_time", "http_get", "ask_human", "word_count", "unit_convert"} <= names

    await CatalogRegistration(database, tools, worker="worker-a@test").register()
    first = await catalog_rows(database, names)
    await asyncio.sleep(0.01)
    await CatalogRegistration(database, tools, worker="worker-b@test").register()
    second = await catalog_rows(database, names)

    assert set(first) == set(second) == names
    assert first["calculator"].source == "builtin"
    assert first["word_count"].source == EXAMPLE_SOURCE
    assert first["word_count"].worker == "worker-a@test"
    assert first["word_count"].parameters["required"] == ["text"]
    assert "Count the words" in first["word_count"].description
    assert second["word_count"].worker == "worker-b@test"
    assert second["word_count"].last_seen_at > first["word_count"].last_seen_at
    assert second["word_count"].registered_at == first["word_count"].registered_at


async def test_registration_keeps_retrying_while_the_database_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    unreachable = Database("postgresql://postgres@127.0.0.1:9/nowhere", pool_size=1)
    tool = ServedTool(name="shout", description="", parameters={}, source="package:x 1")
    registering = asyncio.create_task(CatalogRegistration(unreachable, [tool], worker="w").run())
    try:
        await asyncio.sleep(1.5)  # the first attempt and one retry (after 1 s)
        assert not registering.done()  # it never gives up, never raises
        assert caplog.text.count("could not register this worker's tools in the catalog") >= 2
    finally:
        registering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await registering
        await unreachable.dispose()


# ------------------------------------------------------------------------- runs on Temporal

PROMPT = "How many words are in this sentence?"


async def run_word_count(
    client: Client, settings: Settings, database: Database, tenant_id: str, task_queue: str
) -> tuple[str, AgentRunResult, WorkflowHistory]:
    run_id = await new_run(database, tenant_id, PROMPT)
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input=PROMPT,
        agent=AgentConfig(
            agent_id="agt_packages",
            agent_name="packages",
            version=1,
            model="builtin:scripted",
            tools=[ToolConfig(name="word_count")],
        ),
    )
    async with build_worker(client, settings, database, task_queue=task_queue):
        handle = await client.start_workflow(
            AGENT_RUN_WORKFLOW,
            run_input,
            id=f"run-{run_id}",
            task_queue=task_queue,
            result_type=AgentRunResult,
        )
        result = await handle.result()
        history = await handle.fetch_history()
    return run_id, result, history


async def tool_events(database: Database, tenant_id: str, run_id: str) -> list[RunEvent]:
    async with session_scope(database, tenant_id) as session:
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=100)
    return [event for event in events if event.type.startswith("tool.call.")]


def replayer() -> Replayer:
    return Replayer(
        workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=pydantic_data_converter
    )


async def test_a_run_calls_a_package_tool_between_its_events_and_replays_once_the_package_is_gone(
    temporal_env: WorkflowEnvironment,
    worker_settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = temporal_env.client
    run_id, result, history = await run_word_count(client, worker_settings, database, tenant_id, task_queue)

    assert result.status == "succeeded", result
    assert result.output == (
        "Here is what my tools found:\n- word_count: "
        '{"words": 7, "characters": 36, "characters_without_spaces": 30, "lines": 1, "sentences": 1}'
    )
    events = await tool_events(database, tenant_id, run_id)
    assert [(event.type, event.data["tool"]) for event in events] == [
        ("tool.call.started", "word_count"),
        ("tool.call.finished", "word_count"),
    ]
    started, finished = events
    assert started.data["args"] == {"text": PROMPT}
    assert finished.data["ok"] is True
    assert finished.data["result"] == {
        "words": 7,
        "characters": len(PROMPT),
        "characters_without_spaces": len(PROMPT.replace(" ", "")),
        "lines": 1,
        "sentences": 1,
    }
    # The worker registered what it serves, as itself.
    row = (await catalog_rows(database, {"word_count"}))["word_count"]
    assert row.source == EXAMPLE_SOURCE
    assert row.worker == client.identity

    # The package is uninstalled: the history still replays (the stand-in schedules the same
    # tool-call activity, whose result is in the history) ...
    monkeypatch.delitem(runtime_agent.package_toolset.tools, "word_count")
    await replayer().replay_workflow(history)
    # ... which it would not without the stand-in.
    monkeypatch.setattr(runtime_agent.package_toolset, "_absent_tools", None)
    with pytest.raises(Exception, match=r"(?i)nondetermin"):
        await replayer().replay_workflow(history)


async def test_a_run_on_a_worker_without_the_package_gets_a_tool_error_and_goes_on(
    temporal_env: WorkflowEnvironment,
    worker_settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(runtime_agent.package_toolset.tools, "word_count")
    run_id, result, _ = await run_word_count(
        temporal_env.client, worker_settings, database, tenant_id, task_queue
    )

    assert result.status == "succeeded", result
    assert "word_count failed: The tool 'word_count' is not installed on this worker" in str(result.output)
    events = await tool_events(database, tenant_id, run_id)
    assert [(event.type, event.data["tool"]) for event in events] == [
        ("tool.call.started", "word_count"),
        ("tool.call.finished", "word_count"),
    ]
    assert events[1].data["ok"] is False
