"""Request ids: taken from ``X-Request-ID`` (e.g. set by Kong) or generated, echoed back; CORS for
browser apps on other origins (``AGENT_RUNTIME_CORS_ALLOW_ORIGINS``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Final

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Pure ASGI middleware (safe for streaming responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == REQUEST_ID_HEADER.encode():
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


CORS_ALLOWED_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-API-Key",
    "X-Auth-Scheme",
    "X-Request-ID",
)
"""What browser clients send: credentials (an API key or a bearer token), JSON, a stream's
resume position, and the LangGraph SDK's ``X-Auth-Scheme`` (agent-chat-ui can set it)."""
CORS_EXPOSED_HEADERS: Final = (
    "Content-Location",
    "Location",
    "Idempotent-Replayed",
    "Retry-After",
    "WWW-Authenticate",
    "X-Pagination-Next",
    "X-Request-ID",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)
"""What browser clients read: the LangGraph SDK learns a run's id from ``Content-Location`` and
where to rejoin a stream from ``Location``; pages of assistants come with ``X-Pagination-Next``."""


def install_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Let browser apps from ``origins`` call the API (nothing to do without any).

    Added last, so it runs first: preflight requests are answered before authentication, and
    every answer (problems included) carries the CORS headers. No cookies are used, so
    credentials are not allowed: requests carry keys and tokens in headers.
    """
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=600,
    )


CODEC_CORS_ALLOWED_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "X-API-Key",
    "X-Namespace",
    "X-Request-ID",
)
"""What the Temporal Web UI sends its codec server (a bearer token when `passAccessToken` is on)."""


class CodecCorsMiddleware:
    """CORS of the codec endpoint (under ``prefix``) for the Temporal Web UIs at ``origins``.

    Separate from :func:`install_cors`: the Temporal UI's origin may call the codec endpoint and
    nothing else, and it may send credentials (the UI's `includeCredentials`; no cookie is read
    here, but the browser refuses the answer without ``Access-Control-Allow-Credentials``). It
    answers preflights itself and sets the CORS headers of every answer on those paths (replacing
    the general CORS middleware's, which it wraps). Other paths pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, prefix: str, origins: Sequence[str]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/") + "/"
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.origins
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            await self._preflight(send, origin if allowed else None)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept: list[tuple[bytes, bytes]] = []
                vary = [b"Origin"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"vary":
                        vary += [v.strip() for v in value.split(b",") if v.strip().lower() != b"origin"]
                    elif not name.lower().startswith(b"access-control-"):
                        kept.append((name, value))
                kept.append((b"vary", b", ".join(vary)))
                if allowed and origin is not None:
                    kept += _cors_headers(origin)
                message["headers"] = kept
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(send: Send, origin: str | None) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is not None:
            headers += [
                *_cors_headers(origin),
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", ", ".join(CODEC_CORS_ALLOWED_HEADERS).encode()),
                (b"access-control-max-age", b"600"),
            ]
        await send({"type": "http.response.start", "status": 204 if origin else 403, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"X-Request-ID, Retry-After"),
    ]
