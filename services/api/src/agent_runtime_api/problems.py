"""RFC 9457 problem details for every error the API returns.

Shape: ``{type, title, status, detail, code, errors[{loc, msg, type}], request_id}`` with media
type ``application/problem+json``. Clients branch on ``code``; ``errors[].loc`` names the field.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_runtime_core.errors import DomainError, FieldError

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://agent-runtime.dev/problems/"


class ProblemFieldError(BaseModel):
    """One invalid field."""

    loc: list[str | int] = Field(examples=[["body", "limits", "max_requests"]])
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "validation_error"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    errors: list[ProblemFieldError] = Field(default_factory=list[ProblemFieldError])
    request_id: str | None = None


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build a problem+json response carrying the request id."""
    request_id: str | None = getattr(request.state, "request_id", None)
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        code=code,
        errors=[ProblemFieldError(loc=e.loc, msg=e.msg, type=e.type) for e in errors or []],
        request_id=request_id,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    result: list[FieldError] = []
    for error in exc.errors():
        loc: list[str | int] = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        message = str(error.get("msg", "invalid value"))
        result.append(FieldError(loc=loc, msg=message, type=str(error.get("type", "value_error"))))
    return result


_STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation error"),
    429: ("too_many_requests", "Too many requests"),
}


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error through :func:`problem_response`."""

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        return problem_response(
            request,
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        errors = _validation_errors(exc)
        first = errors[0] if errors else None
        detail = f"{'.'.join(str(p) for p in first.loc)}: {first.msg}" if first else "Invalid request."
        return problem_response(
            request,
            status=422,
            code="validation_error",
            title="Validation error",
            detail=detail,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = str(exc.detail) if exc.detail else title
        headers: dict[str, Any] | None = getattr(exc, "headers", None)
        return problem_response(
            request,
            status=exc.status_code,
            code=code,
            title=title,
            detail=detail,
            headers={str(k): str(v) for k, v in (headers or {}).items()} or None,
        )

    @app.exception_handler(DataError)
    async def _unstorable_value(request: Request, exc: DataError) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        # Postgres refused a value the request carried: a NUL character in text, a number out of
        # range. The client's mistake, so a 422, not a 500 (schemathesis finds these).
        logger.info("value refused by the database: %s", exc.orig)
        return problem_response(
            request,
            status=422,
            code="invalid_value",
            title="Invalid value",
            detail="A value in the request cannot be stored (for example a NUL character in text).",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        logger.exception("unhandled error", exc_info=exc)
        return problem_response(
            request,
            status=500,
            code="internal_error",
            title="Internal server error",
            detail="An unexpected error occurred; it has been logged with the request id.",
        )
