from __future__ import annotations

from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agent_runtime_core.catalog import BUILTIN_TOOL_NAMES
from agent_runtime_worker.tools import (
    HttpGetPolicy,
    HttpGetResult,
    build_builtin_toolset,
)

from .conftest import LocalServer


def test_builtin_toolset_holds_exactly_the_builtin_tools() -> None:
    toolset = build_builtin_toolset(HttpGetPolicy())

    # The model is offered the tools in this order; the catalog (what agents may enable) names the same.
    assert list(toolset.tools) == ["calculator", "current_time", "http_get", "ask_human", "run_python"]
    assert sorted(toolset.tools) == sorted(BUILTIN_TOOL_NAMES)
    assert toolset.id == "builtin"


def test_builtin_toolset_takes_a_custom_id() -> None:
    assert build_builtin_toolset(HttpGetPolicy(), toolset_id="tools-v2").id == "tools-v2"


def test_builtin_tools_are_described_with_json_schemas() -> None:
    descriptions = {
        name: {
            "description": tool.tool_def.description or "",
            "parameters": tool.tool_def.parameters_json_schema,
        }
        for name, tool in build_builtin_toolset(HttpGetPolicy()).tools.items()
    }

    assert list(descriptions) == ["calculator", "current_time", "http_get", "ask_human", "run_python"]
    assert descriptions["calculator"]["parameters"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "expression": {
                "type": "string",
                "minLength": 1,
                "maxLength": 500,
                "description": "The expression to evaluate, e.g. `(3 + 4) * 2 ** 10 / sqrt(16)`.\n"
                "At most 500 characters.",
            }
        },
        "required": ["expression"],
    }
    current_time_schema = descriptions["current_time"]["parameters"]
    assert current_time_schema["properties"]["timezone"]["default"] == "UTC"
    assert "required" not in current_time_schema
    http_get_schema = descriptions["http_get"]["parameters"]
    assert list(http_get_schema["properties"]) == ["url"]  # the policy is not the model's to set
    assert http_get_schema["required"] == ["url"]
    for description in descriptions.values():
        assert len(description["description"]) > 80


async def test_agent_gets_tool_results_and_retry_prompts_from_the_builtin_tools(
    http_server: LocalServer,
) -> None:
    requests_seen: list[ModelRequest] = []
    tool_names_offered: list[str] = []

    def scripted_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        requests_seen.append(last)
        if len(requests_seen) > 1:
            return ModelResponse(parts=[TextPart("done")])
        tool_names_offered.extend(tool.name for tool in info.function_tools)
        return ModelResponse(
            parts=[
                ToolCallPart("calculator", {"expression": "6 * 7"}, tool_call_id="sum"),
                ToolCallPart("calculator", {"expression": "__import__('os')"}, tool_call_id="evil"),
                ToolCallPart("calculator", {"expression": 42}, tool_call_id="not-a-string"),
                ToolCallPart("current_time", {"timezone": "Nowhere/Land"}, tool_call_id="zone"),
                ToolCallPart("http_get", {"url": http_server.url("/text")}, tool_call_id="fetch"),
            ]
        )

    agent = Agent(
        FunctionModel(scripted_model),
        toolsets=[build_builtin_toolset(HttpGetPolicy())],
    )

    result = await agent.run("go")

    assert result.output == "done"
    assert sorted(tool_names_offered) == sorted(BUILTIN_TOOL_NAMES)
    # pydantic-ai 2.x reports a retry as the call's own return part with `outcome="retried"`.
    parts = {part.tool_call_id: part for part in requests_seen[1].parts if isinstance(part, ToolReturnPart)}
    assert parts["sum"].outcome == "success"
    assert parts["sum"].content == 42
    for call_id in ("evil", "not-a-string", "zone", "fetch"):
        assert parts[call_id].outcome == "retried", call_id
    assert "Only the listed functions" in str(parts["evil"].content)
    assert "string" in str(parts["not-a-string"].content)
    assert "Nowhere/Land" in str(parts["zone"].content)
    # The default policy refuses the loopback test server.
    assert "non-public address" in str(parts["fetch"].content)


async def test_http_get_tool_fetches_when_the_policy_allows_the_address(
    http_server: LocalServer,
) -> None:
    toolset = build_builtin_toolset(HttpGetPolicy(allow_private_networks=True))
    returned: list[object] = []

    def scripted_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        returned.extend(part.content for part in last.parts if isinstance(part, ToolReturnPart))
        if returned:
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("http_get", {"url": http_server.url("/text")})])

    await Agent(FunctionModel(scripted_model), toolsets=[toolset]).run("fetch it")

    assert returned == [
        HttpGetResult(
            url=http_server.url("/text"),
            status_code=200,
            content_type="text/plain; charset=utf-8",
            text="hello, world",
            truncated=False,
        )
    ]
