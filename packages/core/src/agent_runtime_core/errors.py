"""Domain errors: each carries its HTTP status and a stable machine-readable ``code``.

Services raise these; one exception handler in the API turns them into RFC 9457
``application/problem+json`` responses. Nothing here knows about HTTP beyond the status number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One offending field: ``loc`` is the path to it (``["body", "limits", "max_requests"]``)."""

    loc: list[str | int]
    msg: str
    type: str = "value_error"


@dataclass
class DomainError(Exception):
    """Base of every error a client may cause or must be told about."""

    detail: str
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    errors: list[FieldError] = field(default_factory=list[FieldError])
    headers: dict[str, str] = field(default_factory=dict[str, str])

    def __post_init__(self) -> None:
        super().__init__(self.detail)


class NotFoundError(DomainError):
    """The resource does not exist for this tenant (another tenant's object is also 404)."""

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(
            detail=f"{resource} '{resource_id}' was not found.",
            status=404,
            code=f"{resource.lower().replace(' ', '_')}_not_found",
            title="Not found",
        )


class ConflictError(DomainError):
    """The request conflicts with the current state of the resource."""

    def __init__(self, detail: str, code: str = "conflict") -> None:
        super().__init__(detail=detail, status=409, code=code, title="Conflict")


class InvalidRequestError(DomainError):
    """The request is well-formed JSON but a field is wrong; ``loc`` names the field."""

    def __init__(self, detail: str, loc: list[str | int], code: str = "validation_error") -> None:
        super().__init__(
            detail=detail,
            status=422,
            code=code,
            title="Validation error",
            errors=[FieldError(loc=loc, msg=detail)],
        )


class ServiceUnavailableError(DomainError):
    """A dependency (Temporal, the database) is unreachable; the client may retry."""

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(
            detail=detail,
            status=503,
            code="service_unavailable",
            title="Service unavailable",
            headers={"Retry-After": str(retry_after_s)},
        )


class UnauthorizedError(DomainError):
    """No credentials, or credentials that cannot be verified (401 with ``WWW-Authenticate``)."""

    def __init__(self, detail: str, *, error: str = "invalid_token", realm: str = "agent-runtime") -> None:
        challenge = f'Bearer realm="{realm}"'
        if error:
            challenge += f', error="{error}", error_description="{_quoted(detail)}"'
        super().__init__(
            detail=detail,
            status=401,
            code="unauthorized",
            title="Unauthorized",
            headers={"WWW-Authenticate": challenge},
        )


class ForbiddenError(DomainError):
    """Authenticated, but the caller's roles or key scopes do not allow this call."""

    def __init__(self, detail: str, *, permission: str | None = None) -> None:
        super().__init__(detail=detail, status=403, code="forbidden", title="Forbidden")
        self.permission = permission


class RateLimitedError(DomainError):
    """Too many requests (or too many active runs) for this tenant; retry after ``retry_after_s``."""

    def __init__(self, detail: str, *, retry_after_s: int, code: str = "rate_limited") -> None:
        super().__init__(
            detail=detail,
            status=429,
            code=code,
            title="Too many requests",
            headers={"Retry-After": str(max(1, retry_after_s))},
        )


def _quoted(text: str) -> str:
    """``text`` made safe inside a quoted-string of an HTTP header."""
    return text.replace("\\", "\\\\").replace('"', "'").replace("\r", " ").replace("\n", " ")


class SecretsNotConfiguredError(DomainError):
    """No key to encrypt or decrypt tenants' secrets is configured (or it is unusable): the
    deployment refuses to store or read them rather than keep them in clear."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail=detail, status=503, code="secrets_not_configured", title="Secrets not configured"
        )


class StorageNotConfiguredError(DomainError):
    """No object storage (S3 bucket) is configured: calls that keep bytes (artifacts) cannot work."""

    def __init__(self) -> None:
        super().__init__(
            detail="Object storage is not configured on this deployment (AGENT_RUNTIME_S3_BUCKET).",
            status=503,
            code="storage_not_configured",
            title="Storage not configured",
        )


class StorageUnavailableError(DomainError):
    """The object storage is unreachable or refused a call the API made correctly (wrong
    credentials, missing bucket, encryption it cannot do); the client may retry later."""

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(
            detail=detail,
            status=503,
            code="storage_unavailable",
            title="Storage unavailable",
            headers={"Retry-After": str(retry_after_s)},
        )
