"""The fake provider speaks both wire formats well enough for pydantic-ai's real providers, streamed
and not (the worker always streams; other tests may not), and fails the way real providers do."""

from __future__ import annotations

import httpx
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelHTTPError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelServerError,
)
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from .fake_llm import Answer, Drop, Fail, FakeLLM, ToolCall

WIRES = ["openai", "anthropic"]


def model(fake: FakeLLM, wire: str, name: str = "m") -> Model:
    if wire == "openai":
        client = AsyncOpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0, timeout=5)
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
    anthropic = AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="k", max_retries=0, timeout=5)
    return AnthropicModel(name, provider=AnthropicProvider(anthropic_client=anthropic))


def agent_with_tool(llm: Model) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(llm, output_type=str)

    @agent.tool_plain
    def double(value: int) -> int:  # pyright: ignore[reportUnusedFunction]
        """Double a number."""
        return value * 2

    return agent


@pytest.mark.parametrize("wire", WIRES)
async def test_non_streamed_tool_call_then_answer_with_usage(fake_llm: FakeLLM, wire: str) -> None:
    fake_llm.script(
        "m",
        ToolCall("double", {"value": 21}, input_tokens=10, output_tokens=3),
        Answer("The answer is 42.", input_tokens=20, output_tokens=5),
    )
    result = await agent_with_tool(model(fake_llm, wire)).run("Double 21.")
    assert result.output == "The answer is 42."
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (30, 8, 2)
    first, second = fake_llm.requests
    assert (first.wire, first.stream, second.stream) == (wire, False, False)
    assert "42" in str(second.body["messages"][-1])


@pytest.mark.parametrize("wire", WIRES)
async def test_streamed_tool_call_then_streamed_text(fake_llm: FakeLLM, wire: str) -> None:
    fake_llm.script("m", ToolCall("double", {"value": 4}), Answer("It is eight, as computed.", chunk=1))
    agent = agent_with_tool(model(fake_llm, wire))
    chunks: list[str] = []
    async with agent.run_stream("Double 4.") as stream:
        async for chunk in stream.stream_text(delta=True, debounce_by=None):
            chunks.append(chunk)
    assert "".join(chunks) == "It is eight, as computed."
    assert len(chunks) > 1
    assert [r.stream for r in fake_llm.requests] == [True, True]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, ModelRateLimitError),
        (500, ModelServerError),
        (400, ModelRequestRejectedError),
        (401, ModelAuthenticationError),
    ],
)
@pytest.mark.parametrize("wire", WIRES)
async def test_errors_map_to_pydantic_ai_categories(
    fake_llm: FakeLLM, wire: str, status: int, error_type: type[ModelAPIError]
) -> None:
    fake_llm.script("m", Fail(status, "scripted failure", retry_after=3))
    with pytest.raises(error_type) as raised:
        await Agent(model(fake_llm, wire)).run("hi")
    assert isinstance(raised.value, ModelHTTPError) and raised.value.status_code == status
    assert "scripted failure" in str(raised.value.body)
    assert raised.value.retry_after == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_a_dropped_connection_is_a_transport_error(fake_llm: FakeLLM, stream: bool) -> None:
    fake_llm.script("m", Drop())

    async def read_completion() -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{fake_llm.openai_base_url}/chat/completions",
                json={"model": "m", "stream": stream, "messages": []},
            )
            await response.aread()

    with pytest.raises(httpx.HTTPError):
        await read_completion()


async def test_unscripted_models_answer_and_every_request_is_logged(fake_llm: FakeLLM) -> None:
    fake_llm.script("other", otherwise=Answer("always this"))
    assert (await Agent(model(fake_llm, "openai", "free")).run("hi")).output == "answer from free"
    for _ in range(2):
        assert (await Agent(model(fake_llm, "anthropic", "other")).run("hi")).output == "always this"
    assert [(r.wire, r.model) for r in fake_llm.requests] == [
        ("openai", "free"),
        ("anthropic", "other"),
        ("anthropic", "other"),
    ]
