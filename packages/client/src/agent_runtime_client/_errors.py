"""Errors the SDK raises: the API's problem+json answers as typed exceptions, and network failures.

The API answers every error as an RFC 9457 problem (``{type, title, status, detail, code,
errors[{loc, msg, type}], request_id}``), and clients branch on its stable ``code``. Handing users
an ``httpx.HTTPStatusError`` would make each of them parse that body again; instead every error
status becomes a subclass of :class:`APIError` chosen by status (``except NotFoundError``),
carrying the parsed fields and the raw problem. An answer that is not a problem (a gateway's HTML
page) still becomes an :class:`APIError`, with what could be read from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from agent_runtime_client._retries import parse_retry_after

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AgentRuntimeError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "ServiceUnavailableError",
    "StreamError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
]


class FieldError(BaseModel):
    """One invalid field of a request: ``loc`` names it (``["body", "version", "model"]``)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document as the API sends it (unknown members are kept)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code.")
    errors: list[FieldError] = Field(default_factory=list[FieldError])
    request_id: str | None = None


class AgentRuntimeError(Exception):
    """Base of every error the SDK raises.

    Example:
        >>> try:
        ...     client.agents.get("agt_missing")
        ... except AgentRuntimeError as error:
        ...     print(error)
    """

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(AgentRuntimeError):
    """The API could not be reached, or the connection broke, and retrying did not help."""


class APITimeoutError(APIConnectionError):
    """The API did not answer in time (the client's ``timeout``)."""


class StreamError(APIConnectionError):
    """An event stream kept failing to reconnect (each reconnection resumes where it stopped)."""


class WaitTimeoutError(AgentRuntimeError, TimeoutError):
    """``wait(timeout=...)`` ran out before the run finished; ``run`` is its last known state."""

    def __init__(self, message: str, run: Any) -> None:
        super().__init__(message)
        self.run = run


class APIError(AgentRuntimeError):
    """The API answered with an error status; the problem's fields are attributes.

    Attributes:
        status: The HTTP status (also ``problem.status``).
        code: The stable error code to branch on (``agent_name_taken``, ``thread_busy``, ...).
        title: A short summary of the kind of problem.
        detail: What went wrong, for humans.
        errors: The invalid fields (422), each with ``loc`` and ``msg``.
        request_id: The API's ``X-Request-ID`` of the call (quote it in bug reports).
        problem: The raw problem document as received (a dict; ``{}`` if the body was not JSON).
        response: The ``httpx.Response``.
    """

    default_status: ClassVar[int] = 0

    def __init__(self, problem: Problem, raw: Mapping[str, Any], response: httpx.Response) -> None:
        super().__init__(f"{problem.status} {problem.code}: {problem.detail}")
        self.status = problem.status
        self.code = problem.code
        self.title = problem.title
        self.detail = problem.detail
        self.errors = problem.errors
        self.request_id = problem.request_id or response.headers.get("x-request-id")
        self.problem: dict[str, Any] = dict(raw)
        self.response = response

    @property
    def headers(self) -> httpx.Headers:
        """The response's headers."""
        return self.response.headers


class BadRequestError(APIError):
    """400: the request could not be read (not JSON, not UTF-8)."""


class AuthenticationError(APIError):
    """401: missing, invalid, revoked or expired credentials."""


class PermissionDeniedError(APIError):
    """403: your roles or key scopes do not allow this call."""


class NotFoundError(APIError):
    """404: no such resource for your tenant (another tenant's objects are 404s too)."""


class ConflictError(APIError):
    """409: the resource's state forbids it (a taken name, a busy thread, a decided approval)."""


class RequestTooLargeError(APIError):
    """413: the request body is larger than the API accepts."""


class ValidationError(APIError):
    """422: a field is invalid; ``errors`` names each (``errors[0].loc``, ``errors[0].msg``)."""


class RateLimitError(APIError):
    """429: too many requests (``rate_limited``) or active runs (``active_run_limit``).

    ``retry_after`` is the wait the API asked for, in seconds. The client already retried as
    its retry settings allow before raising this.
    """

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying (``Retry-After``), if the API said."""
        return parse_retry_after(self.response.headers.get("retry-after"))


class ServerError(APIError):
    """5xx: the API (or a gateway in front of it) failed."""


class ServiceUnavailableError(ServerError):
    """503: a dependency of the API is unreachable; retry later (``retry_after``)."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying (``Retry-After``), if the API said."""
        return parse_retry_after(self.response.headers.get("retry-after"))


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: ValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _fallback_problem(response: httpx.Response) -> dict[str, Any]:
    """A problem for an answer that is not one (a proxy's page, an empty body)."""
    text = response.text.strip()
    reason = response.reason_phrase or "HTTP error"
    return {
        "type": "about:blank",
        "title": reason,
        "status": response.status_code,
        "detail": text[:500] or reason,
        "code": "http_error",
    }


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error ``response`` (its body must have been read).

    Example:
        >>> error = error_from_response(response)
        >>> isinstance(error, NotFoundError), error.code
        (True, 'not_found')
    """
    raw: Any = None
    try:
        raw = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    body: dict[str, Any] = {}
    if isinstance(raw, dict):
        body = {str(key): value for key, value in raw.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    fallback = _fallback_problem(response)
    merged = {**fallback, **{key: value for key, value in body.items() if value is not None}}
    merged["status"] = response.status_code
    try:
        problem = Problem.model_validate(merged)
    except PydanticValidationError:  # a body that looks like a problem but is not one
        problem = Problem.model_validate(fallback)
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(problem, body, response)
