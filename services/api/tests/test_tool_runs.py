"""Tenants' own tools in real runs: the API, a worker and Temporal, the offline scripted model.

* an HTTP tool (registered once, referenced by a version) calls the example ticket service from
  ``examples/http-tool-receiver``, which verifies our signature and dedupes on the idempotency key;
* the tool's secret (an API token in a header) never shows up where it must not: API responses,
  run events, the workflow's history (payloads decoded) and the logs;
* ``run_python`` runs the prompt's code block in the sandbox.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import logging
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from agent_runtime_core.settings import Settings

from .support import events_of, make_agent, start_run, wait_for_status

pytestmark = pytest.mark.timeout(120)

RECEIVER = Path(__file__).resolve().parents[3] / "examples" / "http-tool-receiver" / "receiver.py"
TOKEN = "tok-Zq9!canary-7c1e5b"  # a value that must never leave the worker's tool call
TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "description": "What is wrong."},
        "priority": {"type": "string", "enum": ["low", "normal", "high"], "examples": ["normal"]},
    },
    "required": ["title", "priority"],
    "additionalProperties": False,
}


@pytest.fixture
def worker_settings(worker_settings: Settings) -> Settings:
    """The session's worker settings, letting tools reach the local ticket service over http."""
    return worker_settings.model_copy(
        update={"tools_require_https": False, "tools_allow_private_networks": True}
    )


def load_receiver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("http_tool_receiver", RECEIVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def receiver_module() -> ModuleType:
    return load_receiver()


class Recorder:
    """Every response the test got from the API, to grep for the secret afterwards."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(response.text + json.dumps(dict(response.headers)))


@pytest.fixture
def recorder(runtime_api: httpx.AsyncClient) -> Generator[Recorder]:
    recording = Recorder()
    runtime_api.event_hooks["response"].append(recording)
    yield recording
    runtime_api.event_hooks["response"].remove(recording)


def decoded_payloads(node: Any) -> Iterator[str]:
    """Every payload of a history (``to_json_dict``), decoded from base64, plus every string."""
    if isinstance(node, dict):
        for key, value in node.items():  # pyright: ignore[reportUnknownVariableType]
            if key == "data" and isinstance(value, str):
                try:
                    yield base64.b64decode(value, validate=True).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    yield value
            else:
                yield from decoded_payloads(value)
    elif isinstance(node, list):
        for item in node:  # pyright: ignore[reportUnknownVariableType]
            yield from decoded_payloads(item)
    elif isinstance(node, str):
        yield node


async def test_registered_http_tool_is_called_signed_once_per_key_and_its_secret_stays_hidden(
    runtime_api: httpx.AsyncClient,
    recorder: Recorder,
    receiver_module: ModuleType,
    temporal_client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = runtime_api
    created = await api.post("/v1/secrets", json={"name": "tickets_token", "value": TOKEN})
    assert created.status_code == 201, created.text
    signing = await api.post("/v1/tools/signing-keys", json={})
    assert signing.status_code == 201, signing.text
    signing_secret: str = signing.json()["secret"]
    server, store = receiver_module.serve("127.0.0.1", 0, [signing_secret.encode()])
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tickets"
        tool = await api.post(
            "/v1/tools",
            json={
                "name": "create_ticket",
                "description": "Open a ticket in the tickets service; returns the ticket.",
                "parameters": TICKET_SCHEMA,
                "http": {
                    "method": "POST",
                    "url": url,
                    "headers": {"Authorization": "Bearer {{secrets.tickets_token}}"},
                    "timeout_s": 10,
                },
            },
        )
        assert tool.status_code == 201, tool.text
        agent_id = await make_agent(api, tools=[{"tool": {"name": "create_ticket"}}])
        run_id = await start_run(api, agent_id, 'Please file it: title="Printer on fire" priority=high')
        run = await wait_for_status(api, run_id, {"succeeded", "failed"}, timeout_s=60)
        assert run["status"] == "succeeded", run
        assert "T-1" in run["output"]

        # The service saw one verified request (it answers 401 otherwise), with our token.
        assert store.tickets == [
            {"id": "T-1", "title": "Printer on fire", "priority": "high", "status": "open"}
        ]
        (request,) = store.requests
        assert request["Authorization"] == f"Bearer {TOKEN}"
        events = await events_of(api, run_id)
        started = next(e for e in events if e["type"] == "tool.call.started")["data"]
        finished = next(e for e in events if e["type"] == "tool.call.finished")["data"]
        assert (
            request["Idempotency-Key"] == started["idempotency_key"] == f"{run_id}:{started['tool_call_id']}"
        )
        assert started["args"] == {"title": "Printer on fire", "priority": "high"}
        assert finished["ok"] is True and finished["result"]["id"] == "T-1"
        assert isinstance(finished["duration_ms"], int)

        # Everything else the API shows: the agent's version, the tool and the secret's metadata.
        await api.get(f"/v1/agents/{agent_id}/versions/1")
        await api.get(f"/v1/tools/{tool.json()['id']}")
        await api.get("/v1/secrets/tickets_token")
        await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
        history = await temporal_client.get_workflow_handle(f"run-{run_id}").fetch_history()
        decoded = "\n".join(decoded_payloads(history.to_json_dict()))
    finally:
        server.shutdown()

    # The greps see what they search: the template (with the secret's name) is in the history.
    assert "{{secrets.tickets_token}}" in decoded
    assert TOKEN not in decoded
    assert all(TOKEN not in body for body in recorder.bodies)
    assert TOKEN not in json.dumps(events)
    assert TOKEN not in caplog.text
    assert signing_secret not in decoded and signing_secret not in caplog.text


async def test_invalid_arguments_go_back_to_the_model_and_nothing_is_sent(
    runtime_api: httpx.AsyncClient, receiver_module: ModuleType
) -> None:
    server, store = receiver_module.serve("127.0.0.1", 0, [b"unused"])
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tickets"
        agent_id = await make_agent(
            runtime_api,
            tools=[
                {
                    "name": "create_ticket",
                    "description": "Open a ticket.",
                    "parameters": TICKET_SCHEMA,
                    "http": {"method": "POST", "url": url},
                }
            ],
        )
        # The scripted model takes `priority=urgent` from the prompt: not in the schema's enum.
        run_id = await start_run(runtime_api, agent_id, 'title="Disk full" priority=urgent')
        run = await wait_for_status(runtime_api, run_id, {"succeeded", "failed"}, timeout_s=60)
    finally:
        server.shutdown()
    assert store.requests == []  # validated in the workflow: no request was sent
    events = await events_of(runtime_api, run_id)
    assert not any(e["type"] == "tool.call.started" for e in events)
    # The model was told why, field by field, as a retry prompt; the scripted model answers with
    # what it was told, and the run goes on.
    assert run["status"] == "succeeded", run
    assert "create_ticket failed" in run["output"]
    assert "'urgent' is not one of ['low', 'normal', 'high']" in run["output"]
    assert '"loc": ["priority"]' in run["output"]


async def test_run_python_runs_the_prompts_code_in_the_sandbox(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "run_python"}])
    prompt = "Compute this:\n```python\nimport os\nprint(sum(range(10)), len(os.environ))\n```"
    run_id = await start_run(runtime_api, agent_id, prompt)
    run = await wait_for_status(runtime_api, run_id, {"succeeded", "failed"}, timeout_s=60)
    assert run["status"] == "succeeded", run
    finished = next(e for e in await events_of(runtime_api, run_id) if e["type"] == "tool.call.finished")
    assert finished["data"]["ok"] is True
    assert finished["data"]["result"]["stdout"] == "45 0\n"  # the worker's environment is not there
