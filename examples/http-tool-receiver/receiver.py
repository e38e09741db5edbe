"""A small ticket service to use as an HTTP tool: it checks that each request comes from Agent
Runtime and creates a ticket once per idempotency key.

Run it next to ``agent-runtime dev`` and declare it as an HTTP tool (README, "Tools")::

    uv run python examples/http-tool-receiver/receiver.py --port 9100 --signing-secret "$SECRET"

``POST /tickets`` with ``{"title": str, "priority": "low" | "normal" | "high"}`` answers
``201 {"id": ..., "title": ..., "priority": ..., "status": "open"}``; a request whose
``Agent-Runtime-Signature`` does not verify with ``--signing-secret`` gets ``401``; a request with
an ``Idempotency-Key`` seen before gets the same ticket again (``200``) instead of a second one.
``GET /tickets`` lists them. Standard library only, plus :mod:`agent_runtime_core.signing`.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent_runtime_core.signing import (
    IDEMPOTENCY_KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

PRIORITIES = ("low", "normal", "high")


class TicketStore:
    """Tickets in memory, created once per idempotency key."""

    def __init__(self) -> None:
        """Start empty."""
        self.lock = threading.Lock()
        self.tickets: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, str]] = []
        """Headers of every verified request (tests read the idempotency keys from here)."""

    def create(self, key: str | None, title: str, priority: str) -> tuple[dict[str, Any], bool]:
        """The ticket for ``key``, and whether it was created now."""
        with self.lock:
            if key is not None and key in self.by_key:
                return self.by_key[key], False
            number = len(self.tickets) + 1
            ticket = {"id": f"T-{number}", "title": title, "priority": priority, "status": "open"}
            self.tickets.append(ticket)
            if key is not None:
                self.by_key[key] = ticket
            return ticket, True


def make_handler(secrets: list[bytes], store: TicketStore) -> type[BaseHTTPRequestHandler]:
    """A request handler verifying signatures with any of ``secrets``."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _verified(self, body: bytes) -> bool:
            header = self.headers.get(SIGNATURE_HEADER)
            timestamp = self.headers.get(TIMESTAMP_HEADER)
            return any(verify_signature(secret, header, timestamp, body) for secret in secrets)

        def do_GET(self) -> None:
            if not self._verified(b""):
                self._reply(401, {"error": "the request is not signed by Agent Runtime"})
                return
            with store.lock:
                self._reply(200, {"tickets": list(store.tickets)})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/tickets":
                self._reply(404, {"error": f"no such endpoint: {self.path}"})
                return
            if not self._verified(body):
                self._reply(401, {"error": "the request is not signed by Agent Runtime"})
                return
            with store.lock:
                store.requests.append({name: value for name, value in self.headers.items()})
            try:
                data = json.loads(body or b"{}")
                title = str(data["title"])
                priority = str(data.get("priority", "normal"))
            except (ValueError, KeyError, TypeError):
                self._reply(422, {"error": "expected {'title': str, 'priority': 'low'|'normal'|'high'}"})
                return
            if priority not in PRIORITIES:
                self._reply(422, {"error": f"priority must be one of {', '.join(PRIORITIES)}"})
                return
            ticket, created = store.create(self.headers.get(IDEMPOTENCY_KEY_HEADER), title, priority)
            self._reply(201 if created else 200, ticket)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and demos read the tickets, not an access log

    return Handler


def serve(host: str, port: int, secrets: list[bytes]) -> tuple[ThreadingHTTPServer, TicketStore]:
    """A started server (in a thread) and its store; ``port=0`` picks a free port."""
    store = TicketStore()
    server = ThreadingHTTPServer((host, port), make_handler(secrets, store))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, store


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--signing-secret",
        action="append",
        required=True,
        help="The tenant's signing secret (POST /v1/tools/signing-keys); repeat during a rotation.",
    )
    args = parser.parse_args()
    server, _ = serve(args.host, args.port, [secret.encode() for secret in args.signing_secret])
    print(f"tickets service on http://{args.host}:{server.server_address[1]}/tickets", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
