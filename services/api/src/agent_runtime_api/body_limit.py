"""Cap the size of request bodies: 413 problem+json above the limit, before anything is parsed.

Pure ASGI middleware: it counts the bytes as the app reads them, so a chunked body without
``Content-Length`` is refused as soon as it crosses the limit (never buffered whole), and a
declared ``Content-Length`` above the limit is refused before its first byte is read. The limit
is the app's (``AGENT_RUNTIME_MAX_REQUEST_BODY_BYTES``) unless the matched route declares its own
with ``openapi_extra=body_limit(...)`` (uploads will). It is looked up when the body is first read,
which happens after routing, so the route is known by then.

Starlette's own ``RequestBodyLimitMiddleware`` (``max_body_size=``) is not used: it replaces the
response with a plain-text 413 whenever ``Content-Length`` is over the limit, so clients would
not get problem+json.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_runtime_api.problems import problem_response

BODY_LIMIT_KEY: Final = "x-max-body-bytes"
"""``openapi_extra`` key of a route's own limit (also shown to clients in the OpenAPI document)."""


class RequestBodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body crosses its limit; the problem handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body is larger than {limit} bytes.")
        self.limit = limit


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that accepts bodies up to ``max_bytes`` (e.g. uploads)."""
    return {BODY_LIMIT_KEY: max_bytes}


def route_body_limit(scope: Scope, default: int) -> int:
    """The matched route's own limit, else ``default``."""
    extra: dict[str, Any] | None = getattr(scope.get("route"), "openapi_extra", None)
    limit = (extra or {}).get(BODY_LIMIT_KEY)
    return limit if isinstance(limit, int) else default


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` (or the route's own limit) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        declared_size = int(declared) if declared is not None and declared.isdigit() else None
        received = 0
        started = False

        async def receive_limited() -> Message:
            nonlocal received
            limit = route_body_limit(scope, self.max_bytes)
            if declared_size is not None and declared_size > limit:
                raise RequestBodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestBodyTooLarge(limit)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_limited, send_tracked)
        except RequestBodyTooLarge as exc:
            # Normally the app's problem handlers answer; this covers a body read outside them.
            if started:
                raise
            response = problem_response(
                Request(scope),
                status=413,
                code="payload_too_large",
                title="Payload too large",
                detail=str(exc.detail),
            )
            await response(scope, receive, send)
