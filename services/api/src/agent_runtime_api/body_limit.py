"""Cap the size of request bodies: 413 problem+json above the limit, before anything is parsed.

Pure ASGI middleware: it counts the bytes as the app reads them, so a chunked body without
``Content-Length`` is refused as soon as it crosses the limit (never buffered whole), and a
declared ``Content-Length`` above the limit is refused before its first byte is read. The limit
is the app's (``AGENT_RUNTIME_MAX_REQUEST_BODY_BYTES``) unless the matched route declares its own
with ``openapi_extra=body_limit(...)``: a number, or a named limit whose bytes the app's settings
decide (:data:`RUN_INPUT_BODY`, given to the middleware as ``named_limits`` and written in the
OpenAPI document by :func:`document_named_body_limits`), or one taken from a setting with
``openapi_extra=body_limit_from_setting(...)`` (uploads; the middleware reads that setting, and
:func:`resolve_body_limits` shows its number in the OpenAPI document). It is looked up when the
body is first read, which happens after routing, so the route is known by then.

Starlette's own ``RequestBodyLimitMiddleware`` (``max_body_size=``) is not used: it replaces the
response with a plain-text 413 whenever ``Content-Length`` is over the limit, so clients would
not get problem+json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_runtime_api.problems import problem_response

if TYPE_CHECKING:
    from agent_runtime_core.settings import Settings

BODY_LIMIT_KEY: Final = "x-max-body-bytes"
"""``openapi_extra`` key of a route's own limit (also shown to clients in the OpenAPI document)."""


class RequestBodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body crosses its limit; the problem handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body is larger than {limit} bytes.")
        self.limit = limit


RUN_INPUT_BODY: Final = "run_input"
"""A limit named after a setting: routes that start runs read bodies as large as the longest run
input (``run_input_max_chars``) can be, see :func:`run_request_max_bytes`."""


def body_limit(max_bytes: int | str) -> dict[str, Any]:
    """``openapi_extra`` for a route that accepts bodies up to ``max_bytes``, or up to a named
    limit (:data:`RUN_INPUT_BODY`) whose bytes the app's settings decide: the middleware is given
    them (``named_limits``), and :func:`document_named_body_limits` writes them in the app's
    OpenAPI document. (Routers, and so their routes, are shared by every app of the process: a
    route never holds one app's numbers.)"""
    return {BODY_LIMIT_KEY: max_bytes}


def run_request_max_bytes(settings: Settings) -> int:
    """The body a run-starting request may have: 6 bytes a character of the longest input (any
    character of the Basic Multilingual Plane, even sent as a ``\\uXXXX`` escape) plus the
    ordinary limit for the rest of the body."""
    return 6 * settings.run_input_max_chars + settings.max_request_body_bytes


def document_named_body_limits(app: FastAPI, named: Mapping[str, int]) -> None:
    """Write the bytes of the ``named`` limits in ``app``'s OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        paths: dict[str, dict[str, Any]] = schema.get("paths", {})
        for operations in paths.values():
            for operation in operations.values():
                if isinstance(operation, dict):
                    fields = cast(dict[str, Any], operation)
                    limit = fields.get(BODY_LIMIT_KEY)
                    if isinstance(limit, str) and limit in named:
                        fields[BODY_LIMIT_KEY] = named[limit]
        return schema

    app.openapi = openapi


BODY_LIMIT_SETTING_KEY: Final = "x-max-body-bytes-setting"
"""``openapi_extra`` key naming the setting a route's limit comes from (replaced by the number)."""


def body_limit_from_setting(setting: str, *, overhead: int = 0) -> dict[str, Any]:
    """``openapi_extra`` for a route whose limit is the setting ``setting`` plus ``overhead``
    bytes (framing, such as a multipart body's part headers). See :func:`resolve_body_limits`."""
    return {BODY_LIMIT_SETTING_KEY: [setting, overhead]}


def _setting_limit(extra: dict[str, Any], settings: object) -> int | None:
    declared: object = extra.get(BODY_LIMIT_SETTING_KEY)
    if not isinstance(declared, list | tuple) or settings is None:
        return None
    setting, overhead = cast("tuple[str, int]", declared)
    return int(getattr(settings, setting)) + int(overhead)


def resolve_body_limits(app: FastAPI, settings: object) -> None:
    """Show the number, not the setting's name, in ``app``'s OpenAPI document
    (``x-max-body-bytes`` of the routes declared with :func:`body_limit_from_setting`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        cached = app.openapi_schema is not None
        schema = generate()
        if not cached:
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    if isinstance(operation, dict) and BODY_LIMIT_SETTING_KEY in operation:
                        extra = cast(dict[str, Any], operation)
                        limit = _setting_limit(extra, settings)
                        del extra[BODY_LIMIT_SETTING_KEY]
                        extra[BODY_LIMIT_KEY] = limit
        return schema

    app.openapi = openapi


def route_body_limit(
    scope: Scope, default: int, settings: object = None, named: Mapping[str, int] | None = None
) -> int:
    """The matched route's own limit (a number, one of the ``named`` limits, or a setting of
    ``settings``), else ``default``."""
    extra: dict[str, Any] = getattr(scope.get("route"), "openapi_extra", None) or {}
    limit = extra.get(BODY_LIMIT_KEY)
    if isinstance(limit, int):
        return limit
    if isinstance(limit, str):
        return (named or {}).get(limit, default)
    from_setting = _setting_limit(extra, settings)
    return from_setting if from_setting is not None else default


class BodySizeLimitMiddleware:
    """Refuse request bodies above ``max_bytes`` (or the route's own limit) with 413."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        settings: object = None,
        named_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.settings = settings
        """Where limits declared with :func:`body_limit_from_setting` are read."""
        self.named_limits = dict(named_limits or {})
        """The bytes of the named limits (:data:`RUN_INPUT_BODY`)."""

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
            limit = route_body_limit(scope, self.max_bytes, self.settings, self.named_limits)
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
