"""MCP servers as tools of an agent version, against a real FastMCP server started by the test.

The model is a real OpenAI-compatible client pointed at the scripted fake provider
(``fake_llm.py``), so the tools it was offered are visible in its requests; the MCP server is
reached over Streamable HTTP on localhost (or started over stdio), through the worker's real
activities on the session's Temporal dev server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import RunContext
from pydantic_ai.models.test import TestModel
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RunUsage
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import RunEvent
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput, AgentRunResult
from agent_runtime_core.temporal.contracts import McpServerConfig
from agent_runtime_worker.agents.runtime_agent import MCP_SERVER_METADATA_KEY, RunDeps, only_enabled_tools
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.main import build_worker

from .fake_llm import Answer, FakeLLM, ToolCall
from .mcp_servers import McpHttpServer
from .support import HISTORIES, new_run, provider_settings

MODEL = "mcp-llm"


class TenantSecrets:
    """Secrets per tenant, as the worker's secret store would decrypt them."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets

    async def values(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        known = self.secrets.get(tenant_id, {})
        return {name: known[name] for name in names if name in known}


@dataclass
class Outcome:
    result: AgentRunResult
    error_code: str | None
    error_message: str | None
    events: list[RunEvent]
    history: WorkflowHistory

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event.data for event in self.events if event.type == event_type]

    def activity_types(self) -> list[str]:
        return [
            event.activity_task_scheduled_event_attributes.activity_type.name
            for event in self.history.events
            if event.HasField("activity_task_scheduled_event_attributes")
        ]


@pytest.fixture
def mcp_server() -> Generator[McpHttpServer]:
    server = McpHttpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(worker_settings: Settings, fake_llm: FakeLLM) -> Settings:
    """A worker that may reach the localhost MCP server over plain HTTP (as in development)."""
    return provider_settings(
        worker_settings, fake_llm, tools_allow_private_networks=True, tools_require_https=False
    )


@pytest.fixture
async def dependencies(settings: Settings, database: Database) -> AsyncGenerator[WorkerDependencies]:
    opened = WorkerDependencies.open(settings, database)
    yield opened
    await opened.aclose()


def weather(url: str, **overrides: Any) -> McpServerConfig:
    return McpServerConfig.model_validate({"name": "weather", "url": url, "tools": ["forecast"], **overrides})


async def run_agent(
    env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
    servers: list[McpServerConfig],
    model: str = f"openai-compatible:{MODEL}",
) -> Outcome:
    """Run a version with ``servers`` to its end on the worker polling ``task_queue``."""
    run_id = await new_run(database, tenant_id, "What is the weather in Oslo?")
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input="What is the weather in Oslo?",
        agent=AgentConfig(agent_id="agt_mcp", agent_name="mcp", version=1, model=model, mcp_servers=servers),
    )
    handle = await env.client.start_workflow(
        AGENT_RUN_WORKFLOW, run_input, id=f"run-{run_id}", task_queue=task_queue, result_type=AgentRunResult
    )
    result = await handle.result()
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
    assert run is not None
    return Outcome(
        result=result,
        error_code=(run.error or {}).get("code"),
        error_message=(run.error or {}).get("message"),
        events=list(events),
        history=await handle.fetch_history(),
    )


def offered_tools(fake_llm: FakeLLM) -> list[list[str]]:
    """The tool names offered to the model, per request."""
    return [
        [tool["function"]["name"] for tool in r.body.get("tools", [])] for r in fake_llm.requests_for(MODEL)
    ]


async def test_mcp_tool_is_offered_filtered_called_with_secret_headers_and_recorded(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    dependencies: WorkerDependencies,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    fake_llm.script(MODEL, ToolCall("weather_forecast", {"city": "Oslo"}), Answer("Sunny."))
    secrets = TenantSecrets({tenant_id: {"WEATHER_TOKEN": "s3cret"}})
    server = weather(mcp_server.url, headers={"Authorization": "Bearer {{secrets.WEATHER_TOKEN}}"})
    deps = replace(dependencies, secrets=secrets)
    async with build_worker(
        temporal_env.client, settings, database, task_queue=task_queue, dependencies=deps
    ):
        outcome = await run_agent(temporal_env, database, tenant_id, task_queue, [server])

    assert outcome.result.status == "succeeded", outcome.error_message
    assert outcome.result.output == "Sunny."
    # The server's schema reaches the model under the server's prefix; the filter hides the rest.
    assert offered_tools(fake_llm) == [["weather_forecast"], ["weather_forecast"]]
    [first_request] = fake_llm.requests_for(MODEL)[:1]
    [tool] = first_request.body["tools"]
    assert tool["function"]["parameters"]["properties"]["city"]["type"] == "string"
    [started] = outcome.of_type("tool.call.started")
    [finished] = outcome.of_type("tool.call.finished")
    assert (started["tool"], started["args"]) == ("weather_forecast", {"city": "Oslo"})
    assert finished["ok"] is True
    assert "Sunny in Oslo, 23 degrees" in str(finished["result"])
    assert {h.get("authorization") for h in mcp_server.headers_seen} == {"Bearer s3cret"}
    # Listing and calling are the `mcp` toolset's activities.
    activities = outcome.activity_types()
    assert "agent__agent_runtime__dynamic_toolset__mcp__get_tools" in activities
    assert "agent__agent_runtime__dynamic_toolset__mcp__call_tool" in activities
    if os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):  # replayed by test_replay.py
        (HISTORIES / "mcp_tool_called.json").write_text(outcome.history.to_json())


async def test_tool_list_is_reused_within_its_ttl_and_never_across_tenants(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    other_tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    fake_llm.script(MODEL, otherwise=Answer("No tools needed."))
    server = weather(mcp_server.url, list_ttl_s=300)
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        for _ in range(2):
            outcome = await run_agent(temporal_env, database, tenant_id, task_queue, [server])
            assert outcome.result.status == "succeeded", outcome.error_message
        assert mcp_server.list_requests == 1  # two runs, one listing
        outcome = await run_agent(temporal_env, database, other_tenant_id, task_queue, [server])
        assert outcome.result.status == "succeeded", outcome.error_message
        assert mcp_server.list_requests == 2  # another tenant lists for itself
        uncached = weather(mcp_server.url, list_ttl_s=0)
        await run_agent(temporal_env, database, tenant_id, task_queue, [uncached])
        assert mcp_server.list_requests == 3
    assert offered_tools(fake_llm) == [["weather_forecast"]] * 4


async def test_unreachable_server_fails_the_run_clearly_and_the_worker_serves_the_next_run(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    mcp_server.stop()
    fake_llm.script(MODEL, otherwise=Answer("Hello."))
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        failed = await run_agent(temporal_env, database, tenant_id, task_queue, [weather(mcp_server.url)])
        served = await run_agent(temporal_env, database, tenant_id, task_queue, [])

    assert failed.result.status == "failed"
    assert failed.error_code == "tool_error"
    assert failed.error_message is not None
    assert f"MCP server 'weather' at {mcp_server.url} is unreachable" in failed.error_message
    assert len(fake_llm.requests_for(MODEL)) == 1  # the failed run never reached the model
    # Without MCP servers a run schedules nothing for them.
    assert served.result.status == "succeeded", served.error_message
    assert not [name for name in served.activity_types() if "mcp" in name]


async def test_server_failing_mid_run_gives_the_model_a_failed_tool_result(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    """The list is cached, the server goes down before the call: retried, then the model reads it."""
    fake_llm.script(MODEL, ToolCall("weather_forecast", {"city": "Oslo"}), Answer("Could not check."))
    server = weather(mcp_server.url)
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        fake_llm.script("warmup", otherwise=Answer("ok"))
        warm = await run_agent(
            temporal_env, database, tenant_id, task_queue, [server], "openai-compatible:warmup"
        )
        assert warm.result.status == "succeeded", warm.error_message
        mcp_server.stop()
        outcome = await run_agent(temporal_env, database, tenant_id, task_queue, [server])

    assert outcome.result.status == "succeeded", outcome.error_message
    assert outcome.result.output == "Could not check."
    [finished] = outcome.of_type("tool.call.finished")
    assert finished["ok"] is False
    assert "MCP server 'weather'" in finished["error"] and "unreachable" in finished["error"]
    assert len(outcome.of_type("tool.call.started")) == 3  # one per attempt of TOOL_RETRY_POLICY
    last_request = fake_llm.requests_for(MODEL)[-1]
    assert "unreachable" in str(last_request.body["messages"][-1])


async def test_private_address_is_refused_unless_the_operator_allows_it(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    fake_llm.script(MODEL, otherwise=Answer("Hello."))
    strict = settings.model_copy(update={"tools_allow_private_networks": False})
    async with build_worker(temporal_env.client, strict, database, task_queue=task_queue):
        private = await run_agent(temporal_env, database, tenant_id, task_queue, [weather(mcp_server.url)])
        metadata = await run_agent(
            temporal_env, database, tenant_id, task_queue, [weather("http://169.254.169.254/mcp")]
        )

    assert private.result.status == "failed"
    assert private.error_code == "configuration_error"
    assert "127.0.0.1 is a private, loopback, link-local or otherwise non-public address" in str(
        private.error_message
    )
    assert metadata.error_code == "configuration_error"
    assert "cloud metadata endpoint" in str(metadata.error_message)
    assert mcp_server.list_requests == 0
    assert fake_llm.requests_for(MODEL) == []


async def test_missing_secret_fails_the_run_as_a_configuration_error(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
    mcp_server: McpHttpServer,
) -> None:
    server = weather(mcp_server.url, headers={"Authorization": "Bearer {{secrets.NOPE}}"})
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        outcome = await run_agent(temporal_env, database, tenant_id, task_queue, [server])
    assert outcome.error_code == "configuration_error"
    assert "secret(s) NOPE do not exist" in str(outcome.error_message)
    assert mcp_server.list_requests == 0


async def test_stdio_server_runs_only_by_the_name_the_operator_installed(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    fake_llm: FakeLLM,
) -> None:
    script = Path(__file__).parent / "mcp_servers.py"
    installed = settings.model_copy(
        update={"mcp_stdio_servers": {"weather-local": f"{sys.executable} {script}"}}
    )
    fake_llm.script(MODEL, ToolCall("local_forecast", {"city": "Rome"}), Answer("Sunny in Rome."))
    local = McpServerConfig(name="local", transport="stdio", command="weather-local", tools=["forecast"])
    not_installed = McpServerConfig(name="local", transport="stdio", command=sys.executable)
    async with build_worker(temporal_env.client, installed, database, task_queue=task_queue):
        outcome = await run_agent(temporal_env, database, tenant_id, task_queue, [local])
        refused = await run_agent(temporal_env, database, tenant_id, task_queue, [not_installed])

    assert outcome.result.status == "succeeded", outcome.error_message
    [finished] = outcome.of_type("tool.call.finished")
    assert "Sunny in Rome, 23 degrees" in str(finished["result"])
    assert refused.error_code == "configuration_error"
    assert f"no stdio server named {sys.executable!r} is installed" in str(refused.error_message)


async def test_tools_of_a_server_requiring_approval_are_deferred_for_approval() -> None:
    servers = [
        McpServerConfig(name="weather", url="https://mcp.example.com/mcp", requires_approval=True),
        McpServerConfig(name="docs", url="https://docs.example.com/mcp"),
    ]
    deps = RunDeps(run_id="run_x", tenant_id="ten_x", enabled_tools=["calculator"], mcp_servers=servers)
    ctx = RunContext[RunDeps](deps=deps, model=TestModel(), usage=RunUsage())

    def tool(name: str, server: str | None) -> ToolDefinition:
        return ToolDefinition(name=name, metadata={MCP_SERVER_METADATA_KEY: server} if server else None)

    offered = await only_enabled_tools(
        ctx,
        [
            tool("weather_forecast", "weather"),
            tool("docs_search", "docs"),
            tool("gone_tool", "gone"),  # a server the version does not name
            tool("calculator", None),
            tool("http_get", None),  # not enabled
        ],
    )
    assert [(t.name, t.kind) for t in offered] == [
        ("weather_forecast", "unapproved"),
        ("docs_search", "function"),
        ("calculator", "function"),
    ]
