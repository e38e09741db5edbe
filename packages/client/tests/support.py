"""Helpers of the SDK's tests (fixtures live in ``conftest.py``): serving the API, issuing keys,
and a TCP proxy that cuts connections like a flaky network does."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from agent_runtime_api.services.api_keys import ApiKeyService
from agent_runtime_api.services.streams import StreamOptions
from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.db import Database, session_scope

FAST_STREAMS = StreamOptions(keepalive_s=0.3, poll_interval_s=0.05, reconcile_interval_s=0.3)
"""Stream timings short enough for tests (pings every 0.3 s)."""

QUESTION = "What is 6*7?"
"""The scripted model calls the calculator with `6*7` and answers with its result."""


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncGenerator[str]:
    """Serve ``app`` with uvicorn on a free port; yield its base URL."""
    port = find_free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def issue_api_key(database: Database, tenant_id: str, roles: Iterable[str]) -> str:
    """Store an API key of ``tenant_id`` straight in the database; return its token."""
    async with session_scope(database, tenant_id) as session:
        _key, token = await ApiKeyService(session, tenant_id).issue(
            name="sdk-test", roles=roles, scopes=None, created_by="test", expires_at=None
        )
    return token


# ------------------------------------------------------------------------------------ proxy

_REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/1\.[01]\r\n")


@dataclass
class Cut:
    """A one-time rule: the first response to a matching request is cut after ``after_bytes``."""

    method: str
    path_contains: str
    after_bytes: int
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, target: str) -> bool:
        return not self.done.is_set() and method == self.method and self.path_contains in target


@dataclass
class _Exchange:
    cut: Cut | None = None
    forwarded: int = 0


class CuttingProxy:
    """A TCP proxy in front of the API that drops a connection mid-response, once per rule.

    Every byte goes through unchanged until a rule matches a request: the response to it is
    forwarded up to ``after_bytes`` (headers included), then both connections are aborted, as a
    load balancer or a network failure would. ``requests`` lists the request lines seen.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._server: asyncio.Server | None = None
        self._rules: list[Cut] = []
        self.requests: list[str] = []

    async def start(self) -> str:
        """Start listening; return the proxy's base URL."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut_once(self, method: str, path_contains: str, *, after_bytes: int) -> Cut:
        """Cut the next response to ``method`` on a path containing ``path_contains``."""
        rule = Cut(method, path_contains, after_bytes)
        self._rules.append(rule)
        return rule

    def _claim(self, method: str, target: str) -> Cut | None:
        for rule in self._rules:
            if rule.matches(method, target):
                self._rules.remove(rule)
                return rule
        return None

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        exchange = _Exchange()

        async def requests() -> None:
            while data := await client_reader.read(65536):
                found = _REQUEST_LINE.match(data)
                if found:
                    method, target = found.group(1).decode(), found.group(2).decode()
                    self.requests.append(f"{method} {target}")
                    exchange.cut, exchange.forwarded = self._claim(method, target), 0
                upstream_writer.write(data)
                await upstream_writer.drain()

        async def responses() -> None:
            while data := await upstream_reader.read(65536):
                cut = exchange.cut
                if cut is not None and exchange.forwarded + len(data) >= cut.after_bytes:
                    client_writer.write(data[: cut.after_bytes - exchange.forwarded])
                    await client_writer.drain()
                    cut.done.set()
                    return
                exchange.forwarded += len(data)
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.create_task(requests()), asyncio.create_task(responses())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (client_writer, upstream_writer):
                writer.transport.abort()


@contextlib.asynccontextmanager
async def proxy_in_front_of(url: str) -> AsyncGenerator[tuple[CuttingProxy, str]]:
    """A :class:`CuttingProxy` in front of ``url``, and its URL."""
    proxy = CuttingProxy(url)
    proxy_url = await proxy.start()
    try:
        yield proxy, proxy_url
    finally:
        await proxy.close()
