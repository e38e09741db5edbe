"""Offline parts of the SDK: the SSE parser, the retry policy, error mapping of answers that are
not problems, configuration from the environment, and leniency to a newer server's fields."""

from __future__ import annotations

import httpx
import pytest

from agent_runtime_client import (
    AgentRuntime,
    APIError,
    EventType,
    NotFoundError,
    RetryPolicy,
    Run,
    RunEvent,
    RunStatus,
    ServerError,
    ServiceUnavailableError,
)
from agent_runtime_client._errors import error_from_response
from agent_runtime_client._retries import parse_retry_after
from agent_runtime_client._sse import SSEDecoder, SSEMessage


def _feed(lines: list[str]) -> list[SSEMessage]:
    decoder = SSEDecoder()
    return [message for line in lines if (message := decoder.feed(line)) is not None]


def test_sse_messages_are_dispatched_at_their_blank_line_only() -> None:
    lines = ["id: 1", "event: run.started", "data: {", "data:  }", "", ": ping - now", "id: 2", "data: x"]
    messages = _feed(lines)
    assert messages == [
        SSEMessage(event="run.started", data="{\n }", id="1"),
        SSEMessage(comment="ping - now"),
    ]  # the message of id 2 was cut before its blank line: never delivered


def test_sse_fields_without_a_space_and_unknown_fields() -> None:
    assert _feed(["data:x", "retry: 15", "custom: y", ""]) == [SSEMessage(data="x", retry=15)]
    assert _feed(["", "", "event: only-a-type", ""]) == []  # nothing to deliver


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_retry_policy_decisions() -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay_s=1, max_delay_s=10)
    assert policy.delay_after_status(1, 429, 2.0, idempotent=False) == 2.0
    assert policy.delay_after_status(1, 503, 11.0, idempotent=True) is None  # above the cap
    assert policy.delay_after_status(3, 429, 1.0, idempotent=True) is None  # attempts spent
    assert policy.delay_after_status(1, 500, None, idempotent=True) is None
    assert policy.delay_after_status(1, 502, None, idempotent=False) is None  # may have been done
    assert 0.5 <= (policy.delay_after_status(1, 502, None, idempotent=True) or 0) <= 1
    refused = httpx.ConnectError("refused")
    broken = httpx.ReadError("reset")
    assert policy.delay_after_error(1, refused, idempotent=False) is not None  # never sent
    assert policy.delay_after_error(1, broken, idempotent=False) is None
    assert policy.delay_after_error(1, broken, idempotent=True) is not None
    assert RetryPolicy.none().delay_after_status(1, 429, 1.0, idempotent=True) is None


def _response(status: int, content: bytes, content_type: str, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "http://api.test/v1/x")
    return httpx.Response(
        status, content=content, headers={"content-type": content_type, **headers}, request=request
    )


def test_an_answer_that_is_not_a_problem_still_becomes_a_typed_error() -> None:
    gateway = error_from_response(_response(502, b"<html>Bad gateway</html>", "text/html"))
    assert isinstance(gateway, ServerError) and gateway.code == "http_error" and gateway.status == 502
    assert "Bad gateway" in gateway.detail and gateway.problem == {}

    busy = error_from_response(
        _response(503, b'{"detail": "down"}', "application/json", **{"Retry-After": "4"})
    )
    assert isinstance(busy, ServiceUnavailableError) and busy.retry_after == 4.0 and busy.detail == "down"

    teapot = error_from_response(_response(418, b"", "text/plain"))
    assert type(teapot) is APIError and teapot.status == 418


def test_a_problem_keeps_members_the_sdk_does_not_know() -> None:
    body = (
        b'{"type": "t", "title": "Not found", "status": 404, "detail": "no", "code": "run_not_found",'
        b' "errors": [], "request_id": "req_1", "hint": "check the id"}'
    )
    error = error_from_response(_response(404, body, "application/problem+json"))
    assert isinstance(error, NotFoundError) and error.problem["hint"] == "check the id"
    assert error.request_id == "req_1"


def test_models_accept_what_a_newer_server_adds() -> None:
    run = Run.model_validate(
        {
            "id": "run_1",
            "agent_id": "agt_1",
            "agent_version": 1,
            "status": "paused_by_a_newer_server",
            "input": "hi",
            "output": None,
            "error": None,
            "usage": {"requests": 1, "input_tokens": 2, "output_tokens": 3, "cost_usd": "0.01", "new": 1},
            "created_at": "2026-01-01T00:00:00Z",
            "started_at": None,
            "finished_at": None,
            "workflow_id": "run-run_1",
            "priority": "high",
        }
    )
    assert run.status == "paused_by_a_newer_server" and not run.is_terminal
    assert run.model_extra == {"priority": "high"}
    known = run.model_copy(update={"status": "succeeded"})
    assert known.status == RunStatus.SUCCEEDED

    event = RunEvent.from_json(
        '{"id": "run_1:3", "seq": 3, "run_id": "run_1", "type": "tool.call.finished",'
        ' "at": "2026-01-01T00:00:00Z", "data": {"tool": "calculator", "ok": true, "result": 42, "extra": 1}}'
    )
    assert event.type is EventType.TOOL_CALL_FINISHED
    assert event.tool_result is not None and event.tool_result.result == 42
    assert event.tool_call is None and event.text_delta is None and not event.is_terminal
    novel = event.model_copy(update={"type": "agent.dreamed"})
    assert novel.type == "agent.dreamed" and novel.human_request is None


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNTIME_URL", "https://runtime.example.com/")
    monkeypatch.setenv("AGENT_RUNTIME_API_KEY", "ar_env")
    with AgentRuntime() as client:
        assert client.base_url == "https://runtime.example.com"
        assert client._http.options.default_headers()["Authorization"] == "Bearer ar_env"  # pyright: ignore[reportPrivateUsage]
    with AgentRuntime("http://other:1", "ar_arg") as client:
        assert client.base_url == "http://other:1"
        assert client._http.options.default_headers()["Authorization"] == "Bearer ar_arg"  # pyright: ignore[reportPrivateUsage]
    monkeypatch.delenv("AGENT_RUNTIME_URL")
    monkeypatch.delenv("AGENT_RUNTIME_API_KEY")
    with AgentRuntime() as client:
        assert client.base_url == "http://127.0.0.1:8000"
        assert "Authorization" not in client._http.options.default_headers()  # pyright: ignore[reportPrivateUsage]
