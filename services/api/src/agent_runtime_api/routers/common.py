"""Helpers shared by the routers: documented error responses, list parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.routing import APIRoute

from agent_runtime_api.problems import PROBLEM_MEDIA_TYPE, Problem

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not valid JSON or UTF-8).",
    401: "Missing or invalid credentials; see the `WWW-Authenticate` header.",
    403: "Authenticated, but your roles or key scopes do not allow this call.",
    404: "No such resource for this tenant.",
    409: "Conflicts with the resource's current state.",
    413: "The request body is larger than this route accepts (1 MiB unless configured otherwise).",
    422: "A field is invalid; `errors[].loc` names it.",
    429: "Too many requests (or active runs) for this tenant; retry after `Retry-After` seconds.",
    503: "A dependency (Temporal) is unreachable; retry later.",
}

EVERY_CALL = (400, 401, 403, 422, 429)
"""Problems any `/v1` call can answer: unparsable input, authentication, permission, invalid
fields, rate limits."""


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem+json errors: ``statuses`` plus `EVERY_CALL`."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error."),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted({*statuses, *EVERY_CALL})
    }


def _problem(status: int) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document_body_limits(router: APIRouter) -> None:
    """Document the 413 problem on every route of ``router`` that reads a request body.

    The limit itself is enforced by :class:`~agent_runtime_api.body_limit.BodySizeLimitMiddleware`
    (a route may set its own with ``openapi_extra=body_limit(...)``).
    """
    for route in router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses.setdefault(413, _problem(413))


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {401: _problem(401), 403: _problem(403)}
"""Documented on every authenticated route (set on the routers)."""

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` from the previous page."),
]
