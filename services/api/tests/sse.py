"""A small Server-Sent Events client for tests, over a real HTTP connection (httpx)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from agent_runtime_cli.embedded import find_free_port


@dataclass
class Message:
    """One SSE message, or a comment (``comment`` set, no fields)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None
    received_at: float = field(default_factory=time.monotonic)

    @property
    def envelope(self) -> dict[str, Any]:
        """The event envelope carried in ``data``."""
        return json.loads(self.data)


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """Parse a ``text/event-stream`` response into messages and comments as they arrive."""
    current = Message()
    has_fields = False
    async for line in response.aiter_lines():
        if line == "":
            if has_fields:
                current.received_at = time.monotonic()
                yield current
            current, has_fields = Message(), False
            continue
        if line.startswith(":"):
            yield Message(comment=line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        has_fields = True
        if name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            current.data = f"{current.data}\n{value}" if current.data else value


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    limit: int | None = None,
    timeout_s: float = 20,
) -> tuple[list[Message], bool]:
    """Events of the stream at ``url`` (comments dropped), up to ``limit``.

    Returns:
        The events, and whether the server ended the stream (``False``: we stopped at ``limit``).
    """
    events: list[Message] = []
    async with asyncio.timeout(timeout_s), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for message in messages(response):
            if message.comment is not None:
                continue
            events.append(message)
            if limit is not None and len(events) >= limit:
                return events, False
    return events, True


@asynccontextmanager
async def serve(app: FastAPI, port: int | None = None) -> AsyncGenerator[str]:
    """Serve ``app`` with uvicorn on ``port`` (default: a free local port; real sockets: no ASGI
    buffering)."""
    port = port or find_free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
