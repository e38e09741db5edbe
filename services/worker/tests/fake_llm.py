"""A local LLM provider for tests: the OpenAI Chat Completions and Anthropic Messages wire formats.

One HTTP server (uvicorn, on a free port, in a thread of the test process) answers

* ``POST /v1/chat/completions`` like OpenAI (and any OpenAI-compatible server), and
* ``POST /v1/messages`` like Anthropic,

streamed (Server-Sent Events) or not, as the client asks, with ``usage`` in both. What each model
answers is scripted by the test, one outcome per request, in order::

    fake.script("gpt-primary", Fail(500), Fail(500), Answer("hi"))
    fake.script("claude-b", ToolCall("calculator", {"expression": "6*7"}), Answer("42"))

Outcomes: :class:`Answer` (text), :class:`ToolCall`, :class:`Fail` (an HTTP error in the
provider's own error format, optionally with ``Retry-After``), :class:`Slow` (wait, then another
outcome: longer than the client's timeout it is a timeout), :class:`Drop` (the connection closes
in the middle of the response). Once a model's script is used up it answers ``otherwise`` (by
default ``Answer("answer from <model>")``). Every request is logged in :attr:`FakeLLM.requests`.

Point the real providers at it with ``fake.openai_base_url`` (``…/v1``) and
``fake.anthropic_base_url`` (the server root: the Anthropic SDK adds ``/v1/messages``). Each
server has its own port, so each test gets its own provider endpoints.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent_runtime_cli.embedded import find_free_port

Wire = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class Answer:
    """A text answer, streamed in chunks of ``chunk`` words."""

    text: str
    input_tokens: int = 11
    output_tokens: int = 7
    chunk: int = 2


@dataclass(frozen=True)
class ToolCall:
    """A call of tool ``name`` with ``args``."""

    name: str
    args: dict[str, Any]
    call_id: str | None = None
    input_tokens: int = 13
    output_tokens: int = 5


@dataclass(frozen=True)
class Fail:
    """An HTTP error ``status`` in the provider's error format (``Retry-After`` if given)."""

    status: int
    message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` before answering ``then`` (a timeout when longer than the client waits)."""

    seconds: float
    then: Answer | ToolCall | Fail = Answer("slow answer")


@dataclass(frozen=True)
class Drop:
    """Start the response, then close the connection without finishing it."""


Outcome = Answer | ToolCall | Fail | Slow | Drop


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the fake received."""

    wire: Wire
    model: str
    stream: bool
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived
    outcome: Outcome


class _DroppedError(Exception):
    """Raised inside a response body to make uvicorn abort the connection."""


@dataclass
class FakeLLM:
    """The scripted provider; see the module docstring."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=find_free_port)
    requests: list[ReceivedRequest] = field(default_factory=lambda: [])
    _scripts: dict[str, deque[Outcome]] = field(default_factory=lambda: {})
    _otherwise: dict[str, Outcome] = field(default_factory=lambda: {})
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------------ test-facing API

    prefix: str = field(default_factory=lambda: f"/fake-{uuid.uuid4().hex[:12]}")
    """A path of this server alone: provider endpoints (and so circuit breakers, kept in Redis for
    the whole test session) are keyed by base URL, and an ephemeral port can be handed out again
    to a later test of the same session."""

    @property
    def url(self) -> str:
        """The server root as providers see it, e.g. ``http://127.0.0.1:5123/fake-1a2b3c4d5e6f``."""
        return f"http://{self.host}:{self.port}{self.prefix}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for an OpenAI client (``…/v1``)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for an Anthropic client (the root; the SDK adds ``/v1/messages``)."""
        return self.url

    def script(self, model: str, *outcomes: Outcome, otherwise: Outcome | None = None) -> None:
        """Queue ``outcomes`` for ``model``'s next requests; then answer ``otherwise`` forever."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(outcomes)
            if otherwise is not None:
                self._otherwise[model] = otherwise

    def requests_for(self, model: str) -> list[ReceivedRequest]:
        """The requests ``model`` received, in order."""
        with self._lock:
            return [r for r in self.requests if r.model == model]

    def start(self) -> FakeLLM:
        """Serve in a background thread until :meth:`stop`."""
        app = Starlette(
            routes=[
                Route(f"{self.prefix}/v1/chat/completions", self._openai, methods=["POST"]),
                Route(f"{self.prefix}/v1/messages", self._anthropic, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="critical", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"fake-llm-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _next(self, wire: Wire, body: dict[str, Any], request: Request) -> ReceivedRequest:
        model = str(body.get("model", ""))
        with self._lock:
            queue = self._scripts.get(model)
            default = self._otherwise.get(model, Answer(f"answer from {model}"))
            outcome = queue.popleft() if queue else default
            received = ReceivedRequest(
                wire=wire,
                model=model,
                stream=bool(body.get("stream")),
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
                at=time.monotonic(),
                outcome=outcome,
            )
            self.requests.append(received)
        return received

    async def _openai(self, request: Request) -> Response:
        body = await request.json()
        received = self._next("openai", body, request)
        return await self._respond(received, received.outcome)

    async def _anthropic(self, request: Request) -> Response:
        body = await request.json()
        received = self._next("anthropic", body, request)
        return await self._respond(received, received.outcome)

    async def _respond(self, received: ReceivedRequest, outcome: Outcome) -> Response:
        if isinstance(outcome, Slow):
            await asyncio.sleep(outcome.seconds)
            return await self._respond(received, outcome.then)
        if isinstance(outcome, Fail):
            return _error(received.wire, outcome)
        if isinstance(outcome, Drop):
            return StreamingResponse(
                _dropping_body(),
                media_type="text/event-stream" if received.stream else "application/json",
            )
        call_id = f"{next(self._ids)}"
        if received.wire == "openai":
            if received.stream:
                return _sse(_openai_chunks(received.model, outcome, call_id))
            return JSONResponse(_openai_completion(received.model, outcome, call_id))
        if received.stream:
            return _sse(_anthropic_events(received.model, outcome, call_id))
        return JSONResponse(_anthropic_message(received.model, outcome, call_id))


async def _dropping_body() -> AsyncIterator[bytes]:
    yield b'data: {"partial": '
    await asyncio.sleep(0.01)
    raise _DroppedError("dropped by the fake LLM")


def _sse(events: Iterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        for event in events:
            yield event
            await asyncio.sleep(0)

    return StreamingResponse(body(), media_type="text/event-stream")


_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _error(wire: Wire, fail: Fail) -> JSONResponse:
    message = fail.message or f"fake error {fail.status}"
    headers: dict[str, str] = {}
    if fail.retry_after is not None:
        headers["retry-after"] = f"{fail.retry_after:g}"
    if wire == "openai":
        error_type = _OPENAI_ERROR_TYPES.get(
            fail.status, "rate_limit_exceeded" if fail.status == 429 else "server_error"
        )
        code = "rate_limit_exceeded" if fail.status == 429 else None
        content: dict[str, Any] = {
            "error": {"message": message, "type": error_type, "param": None, "code": code}
        }
    else:
        error_type = _ANTHROPIC_ERROR_TYPES.get(fail.status, "api_error")
        content = {"type": "error", "error": {"type": error_type, "message": message}}
    return JSONResponse(content, status_code=fail.status, headers=headers)


def _words(text: str, per_chunk: int) -> list[str]:
    words = text.split(" ")
    chunks = [" ".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]
    return [chunk + (" " if i < len(chunks) - 1 else "") for i, chunk in enumerate(chunks)]


# ---------------------------------------------------------------------- OpenAI wire format


def _openai_usage(outcome: Answer | ToolCall) -> dict[str, int]:
    total = outcome.input_tokens + outcome.output_tokens
    return {
        "prompt_tokens": outcome.input_tokens,
        "completion_tokens": outcome.output_tokens,
        "total_tokens": total,
    }


def _openai_completion(model: str, outcome: Answer | ToolCall, call_id: str) -> dict[str, Any]:
    if isinstance(outcome, Answer):
        message: dict[str, Any] = {"role": "assistant", "content": outcome.text}
        finish = "stop"
    else:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": outcome.call_id or f"call_{call_id}",
                    "type": "function",
                    "function": {"name": outcome.name, "arguments": json.dumps(outcome.args)},
                }
            ],
        }
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _openai_usage(outcome),
    }


def _openai_chunks(model: str, outcome: Answer | ToolCall, call_id: str) -> Iterator[str]:
    base = {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': delta, 'finish_reason': finish}]})}\n\n"

    if isinstance(outcome, Answer):
        for i, piece in enumerate(_words(outcome.text, outcome.chunk)):
            yield chunk({"role": "assistant", "content": piece} if i == 0 else {"content": piece})
        yield chunk({}, "stop")
    else:
        arguments = json.dumps(outcome.args)
        half = len(arguments) // 2
        first = {
            "index": 0,
            "id": outcome.call_id or f"call_{call_id}",
            "type": "function",
            "function": {"name": outcome.name, "arguments": arguments[:half]},
        }
        yield chunk({"role": "assistant", "content": None, "tool_calls": [first]})
        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]})
        yield chunk({}, "tool_calls")
    yield f"data: {json.dumps({**base, 'choices': [], 'usage': _openai_usage(outcome)})}\n\n"
    yield "data: [DONE]\n\n"


# ---------------------------------------------------------------------- Anthropic wire format


def _anthropic_message(model: str, outcome: Answer | ToolCall, call_id: str) -> dict[str, Any]:
    if isinstance(outcome, Answer):
        content: list[dict[str, Any]] = [{"type": "text", "text": outcome.text}]
        stop = "end_turn"
    else:
        content = [
            {
                "type": "tool_use",
                "id": outcome.call_id or f"toolu_{call_id}",
                "name": outcome.name,
                "input": outcome.args,
            }
        ]
        stop = "tool_use"
    return {
        "id": f"msg_{call_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens},
    }


def _anthropic_events(model: str, outcome: Answer | ToolCall, call_id: str) -> Iterator[str]:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    start = {
        "id": f"msg_{call_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": outcome.input_tokens, "output_tokens": 1},
    }
    yield event("message_start", {"message": start})
    if isinstance(outcome, Answer):
        yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for piece in _words(outcome.text, outcome.chunk):
            yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        stop = "end_turn"
    else:
        block = {
            "type": "tool_use",
            "id": outcome.call_id or f"toolu_{call_id}",
            "name": outcome.name,
            "input": {},
        }
        yield event("content_block_start", {"index": 0, "content_block": block})
        arguments = json.dumps(outcome.args)
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            yield event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": part}},
            )
        stop = "tool_use"
    yield event("content_block_stop", {"index": 0})
    yield event(
        "message_delta",
        {
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": outcome.output_tokens},
        },
    )
    yield event("message_stop", {})
