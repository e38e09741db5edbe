"""Helpers shared by the routers: documented error responses, list parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from agent_runtime_api.problems import PROBLEM_MEDIA_TYPE, Problem

_DESCRIPTIONS = {
    400: "Malformed request.",
    403: "The caller lacks the permission this call needs.",
    404: "No such resource for this tenant.",
    409: "Conflicts with the resource's current state.",
    422: "A field is invalid; `errors[].loc` names it.",
    503: "A dependency (Temporal) is unreachable; retry later.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem+json errors."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error."),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in (*statuses, 422)
    }


Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` from the previous page."),
]
