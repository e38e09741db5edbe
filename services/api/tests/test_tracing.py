"""Tracing: one trace from POST /v1/runs through the workflow to model requests and tool calls,
exported over OTLP/HTTP (and to Langfuse with Basic auth), and nothing at all when unconfigured."""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncGenerator, Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_trace_id
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings
from agent_runtime_core.tracing import build_tracer_provider, tracer_provider_from_settings
from agent_runtime_worker.agents.runtime_agent import runtime_agent
from agent_runtime_worker.main import build_worker

from .support import TERMINAL_STATUSES, build_app, make_agent, open_client, wait_for_status

LANGFUSE = {"langfuse_public_key": "pk-lf-test", "langfuse_secret_key": "sk-lf-test"}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Receives the spans of the API and of the worker, as one collector would."""
    return InMemorySpanExporter()


@pytest.fixture
async def traced_api(
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    exporter: InMemorySpanExporter,
) -> AsyncGenerator[httpx.AsyncClient]:
    """The API and a real worker, each with its own tracer provider exporting in memory."""
    settings = worker_settings.model_copy(update={**LANGFUSE, "langfuse_host": "http://langfuse.test"})
    api_provider = build_tracer_provider("agent-runtime-api", [SimpleSpanProcessor(exporter)])
    worker_provider = build_tracer_provider("agent-runtime-worker", [SimpleSpanProcessor(exporter)])
    worker = build_worker(temporal_env.client, settings, database, tracer_provider=worker_provider)
    app = create_app(settings, tracer_provider=api_provider)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    try:
        async with worker:
            async for client in open_client(app):
                yield client
    finally:
        runtime_agent.instrument = None  # the agent is process-wide: leave it uninstrumented


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_run_request_workflow_model_and_tool_spans_share_the_runs_trace_id(
    traced_api: httpx.AsyncClient, exporter: InMemorySpanExporter, temporal_client: Client
) -> None:
    agent_id = await make_agent(traced_api, tools=[{"name": "calculator"}])
    response = await traced_api.post("/v1/runs", json={"agent_id": agent_id, "input": "What is 6 * 7?"})
    assert response.status_code == 202, response.text
    run = response.json()
    trace_id = run["trace_id"]
    assert trace_id is not None and len(trace_id) == 32
    assert run["trace_url"] == f"http://langfuse.test/trace/{trace_id}"
    done = await wait_for_status(traced_api, run["id"], TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert done["trace_id"] == trace_id
    await temporal_client.get_workflow_handle(run["workflow_id"]).result()

    spans = exporter.get_finished_spans()
    run_spans = [
        s for s in spans if s.context is not None and format_trace_id(s.context.trace_id) == trace_id
    ]
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in run_spans:
        by_name.setdefault(span.name, []).append(span)

    # The API request is the root; the workflow, the agent run, model requests, tool calls and
    # the activities that ran them are all in its trace.
    (request_span,) = by_name["POST /v1/runs"]
    assert request_span.parent is None
    assert request_span.resource.attributes["service.name"] == "agent-runtime-api"
    assert "RunWorkflow:AgentRunWorkflow" in by_name
    (agent_span,) = by_name["invoke_agent agent_runtime"]
    assert agent_span.resource.attributes["service.name"] == "agent-runtime-worker"

    model_spans = by_name["chat builtin:scripted"]
    assert len(model_spans) == 2  # tool call, then the answer
    for span in model_spans:
        attrs = attributes(span)
        assert attrs["gen_ai.request.model"] == "builtin:scripted"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert agent_span.context is not None and span.parent is not None
        assert span.parent.span_id == agent_span.context.span_id

    (tool_span,) = by_name["execute_tool calculator"]
    assert attributes(tool_span)["gen_ai.tool.name"] == "calculator"
    assert attributes(tool_span)["gen_ai.tool.call.arguments"] == '{"expression":"6 * 7"}'
    assert len(by_name["RunActivity:agent__agent_runtime__model_request_stream"]) == 2
    assert len(by_name["RunActivity:agent__agent_runtime__toolset__builtin__call_tool"]) == 1

    # Nothing of the run leaked into another trace (polls of GET /v1/runs/{id} are their own).
    worker_spans = [s for s in spans if s.resource.attributes["service.name"] == "agent-runtime-worker"]
    assert worker_spans and all(s in run_spans for s in worker_spans)


class OtlpReceiver:
    """A tiny OTLP/HTTP receiver: records each POST (path, headers, decoded spans)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], ExportTraceServiceRequest]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, message))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def span_names(self, path: str) -> set[str]:
        return {
            span.name
            for request_path, _, message in self.requests
            if request_path == path
            for resource_spans in message.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        }


@pytest.fixture
def receiver() -> Generator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def test_settings_export_spans_to_otlp_and_langfuse_with_basic_auth(
    database_url: str, tenant_id: str, receiver: OtlpReceiver
) -> None:
    app = build_app(
        database_url,
        tenant_id,
        temporal_address="127.0.0.1:1",
        otlp_endpoint=receiver.url,
        langfuse_host=receiver.url,
        **LANGFUSE,
    )
    async for client in open_client(app):
        assert (await client.get("/v1/agents")).status_code == 200
    # The app's lifespan shut its provider down, flushing the batch.
    otlp = [r for r in receiver.requests if r[0] == "/v1/traces"]
    langfuse = [r for r in receiver.requests if r[0] == "/api/public/otel/v1/traces"]
    assert otlp and langfuse
    assert "GET /v1/agents" in receiver.span_names("/v1/traces")
    assert "GET /v1/agents" in receiver.span_names("/api/public/otel/v1/traces")
    expected = "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert all(headers["authorization"] == expected for _, headers, _ in langfuse)
    assert all("authorization" not in headers for _, headers, _ in otlp)
    assert all(h["content-type"] == "application/x-protobuf" for _, h, _ in receiver.requests)


def _is_instrumented(app: FastAPI) -> bool:
    return bool(getattr(app, "_is_instrumented_by_opentelemetry", False))


async def test_unconfigured_tracing_installs_nothing(
    database_url: str,
    tenant_id: str,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
) -> None:
    settings = Settings.model_validate({"database_url": database_url})
    assert settings.otlp_endpoint is None and settings.langfuse_public_key is None
    assert tracer_provider_from_settings(settings, "agent-runtime-api") is None
    threads_before = {t.name for t in threading.enumerate()}
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")
    assert not _is_instrumented(app)
    async for client in open_client(app):
        assert (await client.get("/v1/agents")).status_code == 200
    build_worker(temporal_env.client, worker_settings, database)
    assert runtime_agent.instrument is None
    new_threads = {t.name for t in threading.enumerate()} - threads_before
    assert not [name for name in new_threads if "OtelBatch" in name or "Span" in name]
