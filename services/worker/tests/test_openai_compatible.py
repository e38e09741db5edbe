"""A run on an `openai-compatible:` model goes through pydantic-ai's real OpenAI provider to a
local server speaking the OpenAI chat-completions wire format (streamed, as the worker asks)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from temporalio.testing import WorkflowEnvironment

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import RunStatus
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.schemas import ModelSettings
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput, AgentRunResult
from agent_runtime_worker.main import build_worker

from .test_run_lifecycle import new_run

REPLY = "Hello from the compatible server."


def compatible_server(received: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:  # pyright: ignore[reportUnusedFunction]
        body = await request.json()
        received.append(body)
        base = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }
        if not body.get("stream"):
            return JSONResponse(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": REPLY},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17},
                }
            )

        async def chunks() -> AsyncIterator[str]:
            for word in REPLY.split(" "):
                delta = {
                    "index": 0,
                    "delta": {"role": "assistant", "content": word + " "},
                    "finish_reason": None,
                }
                yield f"data: {json.dumps({**base, 'choices': [delta]})}\n\n"
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
            usage = {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@pytest.fixture
async def server() -> AsyncGenerator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    port = find_free_port()
    config = uvicorn.Config(compatible_server(received), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/v1", received
    instance.should_exit = True
    await task


async def test_openai_compatible_model_answers_through_the_real_provider(
    server: tuple[str, list[dict[str, Any]]],
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    base_url, received = server
    settings = worker_settings.model_copy(update={"openai_base_url": base_url})
    run_id = await new_run(database, tenant_id)
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input="Say hello.",
        agent=AgentConfig(
            agent_id="agt_x",
            agent_name="compatible",
            version=1,
            model="openai-compatible:local-llm",
            instructions="Be friendly.",
            model_settings=ModelSettings(temperature=0.25, max_tokens=64),
        ),
    )
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        result = await temporal_env.client.execute_workflow(
            AGENT_RUN_WORKFLOW,
            run_input,
            id=f"run-{run_id}-{uuid.uuid4().hex[:4]}",
            task_queue=task_queue,
            result_type=AgentRunResult,
        )
    assert result.status == "succeeded", result
    assert result.output.strip() == REPLY

    assert len(received) == 1
    request = received[0]
    assert request["model"] == "local-llm"
    assert request["temperature"] == 0.25
    assert request["stream"] is True
    assert {"role": "system", "content": "Be friendly."} in request["messages"]
    assert request["messages"][-1] == {"role": "user", "content": "Say hello."}

    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id)
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED
    assert (run.usage_input_tokens, run.usage_output_tokens) == (11, 6)
    finished = next(e for e in events if e.type == "model.request.finished")
    assert finished.data["model"] == "local-llm"
    assert finished.data["text"].strip() == REPLY
