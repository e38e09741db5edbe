"""Prometheus metrics: the API's GET /metrics and the worker's metrics server, on real servers."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.metrics import start_metrics_server

from .support import TERMINAL_STATUSES, build_app, make_agent, open_client, wait_for_status


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``(sample name, labels) → value`` of a text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")
    async for client in open_client(app):
        yield client


async def test_metrics_show_request_latency_by_route_template(api: httpx.AsyncClient) -> None:
    before = (await api.get("/metrics")).text
    assert (await api.get("/v1/agents")).status_code == 200
    assert (await api.get("/v1/agents/agt_missing")).status_code == 404
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    count = "agent_runtime_http_request_duration_seconds_count"
    listed = {"method": "GET", "route": "/v1/agents", "status": "200"}
    missing = {"method": "GET", "route": "/v1/agents/{agent_id}", "status": "404"}
    assert value(text, count, **listed) == value(before, count, **listed) + 1
    assert value(text, count, **missing) == value(before, count, **missing) + 1
    assert value(text, "agent_runtime_http_request_duration_seconds_sum", **listed) > 0
    # Scrapes are not requests worth a histogram; raw paths never become labels.
    assert 'route="/metrics"' not in text
    assert "agt_missing" not in text
    for status in ("queued", "running", "waiting"):
        assert ("agent_runtime_runs_active", frozenset({("status", status)})) in samples(text)


async def test_metrics_endpoint_is_not_in_openapi_and_can_be_turned_off(
    api: httpx.AsyncClient, database_url: str, tenant_id: str
) -> None:
    assert "/metrics" not in (await api.get("/openapi.json")).json()["paths"]
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", metrics_enabled=False)
    async for client in open_client(app):
        assert (await client.get("/metrics")).status_code == 404


async def test_worker_metrics_show_tokens_runs_and_activity_latency_after_a_run(
    runtime_api: httpx.AsyncClient, temporal_client: Client, tenant_id: str
) -> None:
    server = start_metrics_server("127.0.0.1", find_free_port())
    assert server is not None
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        async with httpx.AsyncClient() as http:
            before = (await http.get(url)).text
            agent_id = await make_agent(runtime_api, tools=[{"name": "calculator"}])
            created = await runtime_api.post(
                "/v1/runs", json={"agent_id": agent_id, "input": "What is 6 * 7?"}
            )
            run = created.json()
            done = await wait_for_status(runtime_api, run["id"], TERMINAL_STATUSES)
            assert done["status"] == "succeeded", done
            await temporal_client.get_workflow_handle(run["workflow_id"]).result()
            after = (await http.get(url)).text
    finally:
        server.shutdown()
        server.server_close()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    model = {"provider": "builtin", "model": "scripted", "tenant": tenant_id}
    assert grew("agent_runtime_model_requests_total", **model) == 2
    assert (
        grew("agent_runtime_model_tokens_total", **model, direction="input") == done["usage"]["input_tokens"]
    )
    assert (
        grew("agent_runtime_model_tokens_total", **model, direction="output")
        == done["usage"]["output_tokens"]
    )
    assert grew("agent_runtime_runs_finished_total", status="succeeded") == 1
    model_activity = {"activity_type": "agent__agent_runtime__model_request_stream", "outcome": "completed"}
    assert grew("agent_runtime_activity_duration_seconds_count", **model_activity) == 2
    tool_activity = {
        "activity_type": "agent__agent_runtime__toolset__builtin__call_tool",
        "outcome": "completed",
    }
    assert grew("agent_runtime_activity_duration_seconds_count", **tool_activity) == 1
    assert grew("agent_runtime_activity_duration_seconds_sum", **tool_activity) > 0
