"""Helpers shared by the routers: documented error responses, list parameters."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query
from fastapi.routing import APIRoute

from agent_runtime_api.problems import PROBLEM_MEDIA_TYPE, Problem
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.repositories import decode_cursor
from agent_runtime_core.schemas import Text

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


def _problem(status: int) -> dict[str, Any]:
    """The OpenAPI ``responses`` entry of one problem+json status."""
    return {
        "model": Problem,
        "description": _DESCRIPTIONS.get(status, "Error."),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem+json errors: ``statuses`` plus `EVERY_CALL`."""
    return {status: _problem(status) for status in sorted({*statuses, *EVERY_CALL})}


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

RunId = Annotated[Text, Path(max_length=40, description="Run id (`run_…`).")]
AgentId = Annotated[Text, Path(max_length=40, description="Agent id (`agt_…`).")]
AgentIdFilter = Annotated[Text | None, Query(max_length=40, description="Only this agent's runs.")]
MAX_CURSOR_NUMBER: Final = 2**31 - 1
"""Numeric keys (versions, event ``seq``) are Postgres integers: a larger cursor is clamped to this,
which comes after every row."""

CursorQuery = Annotated[
    str | None,
    Query(
        alias="cursor",
        max_length=200,
        description="`next_cursor` from the previous page; any other value is a 422 `invalid_cursor`.",
    ),
]


def id_cursor(cursor: CursorQuery = None) -> str | None:
    """The id a cursor points after (422 ``invalid_cursor`` if the API did not make it)."""
    return decode_cursor(cursor) if cursor else None


def number_cursor(cursor: CursorQuery = None) -> int | None:
    """The number a cursor points after, for lists ordered by a number (422 ``invalid_cursor``
    if the API did not make it)."""
    if not cursor:
        return None
    raw = decode_cursor(cursor)
    if not raw.isdigit():
        raise InvalidRequestError(
            "cursor is not valid; pass the next_cursor of a previous page",
            loc=["query", "cursor"],
            code="invalid_cursor",
        )
    return min(int(raw), MAX_CURSOR_NUMBER)


IdCursor = Annotated[str | None, Depends(id_cursor)]
"""``?cursor=`` of lists ordered by id, decoded; one rule for every list (docs/decisions.md)."""
NumberCursor = Annotated[int | None, Depends(number_cursor)]
"""``?cursor=`` of lists ordered by a number (versions, events), decoded."""
