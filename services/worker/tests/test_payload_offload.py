"""Runs far beyond Temporal's payload limits, and payloads Temporal only ever holds encrypted.

Temporal refuses a payload over 2 MB and a history over 50 MB. Here a run's tools return 5 MB
each, 20 MB in all (and every model request after them carries the whole conversation): with the
payload bucket configured (a real S3 API, SeaweedFS) the run succeeds, and the history fetched
from Temporal holds small references, not the data. With payload keys configured, the history
holds ciphertext: the prompt, the tools' results and the answer appear nowhere in it. Both
histories replay with the converter that wrote them.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from google.protobuf.message import Message
from pydantic_ai.durable_exec.temporal import PydanticAIPlugin
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import RunStatus
from agent_runtime_core.repositories import RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ToolConfig,
)
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings
from agent_runtime_core.temporal.payload_encryption import ENCRYPTED_ENCODING
from agent_runtime_worker.main import build_worker
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow

from .fake_llm import Answer, FakeLLM, ToolCall
from .support import new_run, provider_settings

MB = 1_000_000
TOOL_RESULT_CHARS = 5 * MB
TOOL_CALLS = 4
PAYLOAD_KEY = base64.b64encode(os.urandom(32)).decode()


# --- a local endpoint with large pages ------------------------------------------------------------


class _Pages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        body = page(query["seed"][0], int(query["chars"][0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def page(seed: str, chars: int) -> str:
    """``chars`` characters of text that mark where they came from (``PAGE-<seed>``)."""
    line = f"PAGE-{seed} lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
    return (line * (chars // len(line) + 1))[:chars]


@contextmanager
def pages_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- what a history holds -------------------------------------------------------------------------


def payloads_of(message: Message, *, skip: frozenset[str] = frozenset()) -> Iterator[Payload]:
    """Every ``Payload`` anywhere in ``message`` (inputs, results, failures, memos, headers...),
    except in fields named in ``skip``."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None or field.name in skip:
            continue
        if isinstance(value, Message):
            yield from payloads_of(value, skip=skip)
        else:  # a repeated field, or a map (of messages, or of scalars)
            for item in value.values() if hasattr(value, "values") else value:
                if isinstance(item, Message):
                    yield from payloads_of(item, skip=skip)


def history_payloads(history: WorkflowHistory, *, skip: frozenset[str] = frozenset()) -> list[Payload]:
    return [payload for event in history.events for payload in payloads_of(event, skip=skip)]


SDK_MARKER_FIELDS = frozenset(
    {"id", "deprecated", "seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff"}
    | {"original_schedule_time", "activation_index"}
)
"""What the SDK's patch and local-activity markers record besides a result."""


def marker_details(history: WorkflowHistory) -> Iterator[tuple[str, Payload]]:
    """The payloads of the history's markers, by detail name (``result``, ``data``, ...)."""
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            for name, details in event.marker_recorded_event_attributes.details.items():
                for payload in details.payloads:
                    yield name, payload


def is_reference(payload: Payload) -> bool:
    return payload.metadata.get("messageType") == b"temporal.api.sdk.v1.ExternalStorageReference"


# --- running an agent on a client with a given converter -----------------------------------------


def validated(settings: Settings, **overrides: object) -> Settings:
    """``settings`` with ``overrides``, validated (``model_copy`` would not parse the keys)."""
    return Settings.model_validate({**settings.model_dump(), **overrides})


@pytest.fixture
async def payload_settings(
    worker_settings: Settings, s3_settings: dict[str, object], fake_llm: FakeLLM
) -> Settings:
    """Worker (and API) settings with the payload bucket and a payload key; tools' results are
    kept whole up to 6 MB, in the conversation (not turned into artifacts: this is about what
    Temporal carries)."""
    return validated(
        provider_settings(worker_settings, fake_llm),
        **s3_settings,
        temporal_payload_keys={"k1": PAYLOAD_KEY},
        temporal_payload_active_key_id="k1",
        http_get_max_bytes=6 * MB,
        tool_result_max_chars=6 * MB,
        tool_result_artifact_bytes=0,
        model_request_timeout_s=60.0,
    )


@pytest.fixture
async def converter(payload_settings: Settings) -> AsyncGenerator[DataConverter]:
    built = data_converter_from_settings(payload_settings)
    yield built
    await close_data_converter(built)


def client_with(temporal_env: WorkflowEnvironment, converter: DataConverter) -> Client:
    config = temporal_env.client.config()
    config["data_converter"] = converter
    return Client(**config)


async def run_agent(
    client: Client,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    *,
    text: str,
    model: str,
    tools: list[str],
    agent_name: str = "payloads",
) -> tuple[AgentRunResult, WorkflowHistory]:
    run_id = await new_run(database, tenant_id, text)
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input=text,
        agent=AgentConfig(
            agent_id="agt_x",
            agent_name=agent_name,
            version=1,
            model=model,
            instructions="Be brief.",
            tools=[ToolConfig(name=name) for name in tools],
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
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
    assert run is not None and run.status == RunStatus.SUCCEEDED, (run and run.error, result)
    return result, await handle.fetch_history()


async def replay(history: WorkflowHistory, converter: DataConverter) -> None:
    replayer = Replayer(workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=converter)
    await replayer.replay_workflow(history)  # raises on nondeterminism or an unreadable payload


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_a_run_with_20_mb_of_tool_results_succeeds_and_its_history_holds_references(
    payload_settings: Settings,
    converter: DataConverter,
    fake_llm: FakeLLM,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    with pages_server() as pages:
        seeds = [uuid.uuid4().hex[:8] for _ in range(TOOL_CALLS)]
        fake_llm.script(
            "gpt-big",
            *(
                ToolCall("http_get", {"url": f"{pages}/page?seed={seed}&chars={TOOL_RESULT_CHARS}"})
                for seed in seeds
            ),
            Answer("Read all four pages."),
        )
        result, history = await run_agent(
            client_with(temporal_env, converter),
            payload_settings,
            database,
            tenant_id,
            task_queue,
            text="Read the four pages.",
            model="openai:gpt-big",
            tools=["http_get"],
        )
    assert result.output == "Read all four pages."
    # The model saw every page whole: its last request carried 20 MB of tool results.
    last_request = fake_llm.requests_for("gpt-big")[-1].body
    tool_messages = [m for m in last_request["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == TOOL_CALLS
    assert all(len(m["content"]) > TOOL_RESULT_CHARS for m in tool_messages)

    payloads = history_payloads(history)
    references = [p for p in payloads if is_reference(p)]
    offloaded = [p.external_payloads[0].size_bytes for p in references]
    # Each tool result (5 MB) went to the bucket, and so did every model request that carried
    # them (5, 10, 15, 20 MB): far more than Temporal's 2 MB per payload and 50 MB per history.
    assert sum(size >= TOOL_RESULT_CHARS for size in offloaded) >= 2 * TOOL_CALLS
    assert max(offloaded) >= TOOL_CALLS * TOOL_RESULT_CHARS
    assert sum(offloaded) >= 50 * MB
    # What Temporal holds is small: references, and encrypted inline payloads.
    assert max(p.ByteSize() for p in payloads) < 256 * 1024
    assert sum(p.ByteSize() for p in payloads) < 1 * MB
    history_text = history.to_json()
    assert all(f"PAGE-{seed}" not in history_text for seed in seeds)
    inline = [p for p in history_payloads(history, skip=frozenset({"search_attributes", "details"}))]
    inline += [p for name, p in marker_details(history) if name == "result"]
    assert all(p.metadata["encoding"] == ENCRYPTED_ENCODING for p in inline if not is_reference(p))

    await replay(history, converter)


async def test_with_payload_keys_the_history_holds_ciphertext_only(
    worker_settings: Settings,
    fake_llm: FakeLLM,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    settings = validated(
        provider_settings(worker_settings, fake_llm),
        temporal_payload_keys={"k1": PAYLOAD_KEY},
        temporal_payload_active_key_id="k1",
    )
    converter = data_converter_from_settings(settings)  # no bucket: nothing to close
    prompt_marker, answer_marker = f"prompt-{uuid.uuid4().hex}", f"answer-{uuid.uuid4().hex}"
    agent_marker = f"agent-{uuid.uuid4().hex[:12]}"
    fake_llm.script(
        "gpt-secret",
        ToolCall("calculator", {"expression": "6 * 7"}),
        Answer(f"The answer is 42 ({answer_marker})."),
    )
    result, history = await run_agent(
        client_with(temporal_env, converter),
        settings,
        database,
        tenant_id,
        task_queue,
        text=f"What is 6 * 7? ({prompt_marker})",
        model="openai:gpt-secret",
        tools=["calculator"],
        agent_name=agent_marker,
    )
    assert answer_marker in (result.output or "")
    # Search attributes are indexed by the server, so never encoded (ours: ids and the status);
    # the SDK's markers keep their own bookkeeping in clear (patch ids; a local activity's id,
    # type and times), but a local activity's result is ours.
    payloads = history_payloads(history, skip=frozenset({"search_attributes", "details"}))
    for name, marker in marker_details(history):
        if name == "result":
            payloads.append(marker)
        else:
            assert set(json.loads(marker.data)) <= SDK_MARKER_FIELDS, marker.data
    assert payloads and all(p.metadata["encoding"] == ENCRYPTED_ENCODING for p in payloads)
    assert {p.metadata["encryption-key-id"] for p in payloads} == {b"k1"}
    raw = b"".join(event.SerializeToString() for event in history.events)
    history_text = history.to_json()
    # Nor the agent's name (in the input and the memo; search attributes, ids and status, stay
    # readable for lists and filters).
    for secret in (prompt_marker, answer_marker, agent_marker, "6 * 7", "Be brief."):
        assert secret.encode() not in raw and secret not in history_text, secret
    await replay(history, converter)

    # A plain client reads the history but cannot read what it says.
    plain_history = await temporal_env.client.get_workflow_handle(history.workflow_id).fetch_history()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK raises its own decode errors
        await replay(plain_history, temporal_env.client.data_converter)


def test_payload_helpers_find_nested_payloads() -> None:
    from temporalio.api.history.v1 import HistoryEvent

    event = HistoryEvent()
    attributes = event.workflow_execution_started_event_attributes
    attributes.input.payloads.add(data=b"a")
    attributes.memo.fields["k"].data = b"b"
    attributes.header.fields["h"].data = b"c"
    assert sorted(p.data for p in payloads_of(event)) == [b"a", b"b", b"c"]
