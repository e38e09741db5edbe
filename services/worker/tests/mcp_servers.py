"""A real MCP server for the worker's tests, written with FastMCP.

Served over Streamable HTTP by uvicorn in a thread of the test process (``McpHttpServer``), or
over stdio when this file is run as a script (``python mcp_servers.py``), the way an operator's
installed server would be. It counts the ``tools/list`` requests it answers and keeps the headers
of the requests it received, so tests can see caching and secret rendering.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_http_headers
from fastmcp.server.middleware import Middleware, MiddlewareContext

from agent_runtime_cli.embedded import find_free_port


class _CountListings(Middleware):
    def __init__(self, server: McpHttpServer | None) -> None:
        self.server = server

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        if self.server is not None:
            self.server.list_requests += 1
            self.server.headers_seen.append(get_http_headers(include_all=True))
        return await call_next(context)


def build_server(counter: McpHttpServer | None = None) -> FastMCP:
    """The test server: ``forecast`` (a result the model reads) and ``delete_everything``
    (hidden by tool filters)."""
    server = FastMCP("weather")

    @server.tool
    def forecast(city: str = "Paris") -> str:
        """The weather forecast for a city."""
        return f"Sunny in {city}, 23 degrees"

    @server.tool
    def delete_everything() -> str:
        """A tool no agent version should be offered."""
        return "deleted"

    server.add_middleware(_CountListings(counter))
    return server


class McpHttpServer:
    """The test server on a free localhost port, over Streamable HTTP at ``/mcp``."""

    def __init__(self) -> None:
        """Pick a port; nothing listens until :meth:`start`."""
        self.port = find_free_port()
        self.list_requests = 0
        self.headers_seen: list[dict[str, str]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The MCP endpoint."""
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> McpHttpServer:
        """Serve until :meth:`stop`."""
        app = build_server(self).http_app(path="/mcp", transport="streamable-http")
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving (connections are refused afterwards)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None


if __name__ == "__main__":
    build_server().run(transport="stdio", show_banner=False)
