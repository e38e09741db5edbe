"""Tools tenants define: HTTP endpoints, registered tool definitions (``/v1/tools``), the catalog.

What can be checked from the request alone is checked here (URL shape, header syntax, the JSON
Schema of the arguments, ranges); what depends on the deployment or the tenant's data (the HTTPS
rule, the operator's caps, secrets, the catalog, registered tools) is checked by the API's
services, with the same 422 naming the field.

Header values may name a tenant's secret as ``{{secrets.NAME}}``: only the name is stored and
shown; the worker puts the value in when it makes the call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self, cast
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent_runtime_core.schemas.common import StrictInput
from agent_runtime_core.temporal.contracts import SECRET_PLACEHOLDER

if TYPE_CHECKING:
    from agent_runtime_core.models import Tool, ToolRevision

TOOL_NAME_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
"""Names the model sees: what every major provider accepts for a function name."""

ToolName = Annotated[
    str,
    Field(
        pattern=TOOL_NAME_PATTERN,
        description="The name the model calls the tool by: a letter, then letters, digits, _ or - (≤ 64).",
        examples=["lookup_order"],
    ),
]

MAX_URL_LENGTH: Final = 2048
MAX_HEADERS: Final = 32
MAX_HEADER_VALUE_LENGTH: Final = 4096
MAX_PARAMETERS_BYTES: Final = 64 * 1024
"""Largest JSON Schema of a tool's arguments (as compact JSON); it is sent with every model request."""
MAX_TIMEOUT_S: Final = 3600.0
"""Upper bound of any declared timeout; the deployment's cap (``tools_max_timeout_s``) is lower."""
MAX_RESPONSE_BYTES: Final = 100_000_000
"""Upper bound of a declared response size; the deployment's cap (``tools_max_response_bytes``)."""

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
"""An RFC 7230 ``token``."""
_ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")
RESERVED_HEADERS: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive"}
)
"""Headers the worker's HTTP client owns; a definition may not set them."""


def secret_names(template: str) -> list[str]:
    """The secret names a header value refers to (``{{secrets.NAME}}``), in order."""
    return SECRET_PLACEHOLDER.findall(template)


def header_secret_names(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Header name → the secrets its value refers to (headers without any are left out)."""
    found = {name: secret_names(value) for name, value in headers.items()}
    return {name: names for name, names in found.items() if names}


Loc = tuple[str | int, ...]


def field_errors(model: str, errors: Iterable[tuple[Loc, str]], value: object = None) -> ValidationError:
    """A validation error with one entry per (location below the field or model, message), for
    validators that name exactly what is wrong (pydantic prefixes the outer location)."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{reason}", {"reason": message}), loc=loc, input=value
            )
            for loc, message in errors
        ],
    )


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL a tool may call, or ``None``."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in {"http", "https"}:
        return "must be an absolute http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; put them in a header that names a secret"
    if "{{" in url:
        return "must not contain placeholders; secrets go in header values"
    return None


def check_url(value: str) -> str:
    """Field validator body for a tool URL."""
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_headers(model: str, headers: dict[str, str]) -> dict[str, str]:
    """Validate header names and values; each error names its header."""
    errors: list[tuple[Loc, str]] = []
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    seen: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if not _HEADER_NAME.match(name):
            errors.append(((name,), "header names are RFC 7230 tokens (letters, digits, !#$%&'*+-.^_`|~)"))
        elif lowered in RESERVED_HEADERS:
            errors.append(((name,), f"'{name}' is set by the runtime and cannot be declared"))
        elif lowered in seen:
            errors.append(((name,), f"repeats header '{seen[lowered]}' (header names ignore case)"))
        seen.setdefault(lowered, name)
        if len(value) > MAX_HEADER_VALUE_LENGTH:
            errors.append(((name,), f"header values are at most {MAX_HEADER_VALUE_LENGTH} characters"))
        elif "\r" in value or "\n" in value:
            errors.append(((name,), "header values must not contain CR or LF"))
        else:
            stray = [p for p in _ANY_PLACEHOLDER.findall(value) if not SECRET_PLACEHOLDER.fullmatch(p)]
            if stray:
                errors.append(
                    (
                        (name,),
                        f"'{stray[0]}' is not a placeholder; write {{{{secrets.NAME}}}} to use a secret",
                    )
                )
    if errors:
        raise field_errors(model, errors, headers)
    return headers


def check_json_schema(model: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` must be a JSON Schema (draft 2020-12) of an object, small enough to send the
    model with every request; the error names the offending keyword's path inside it."""
    if schema.get("type") != "object":
        raise field_errors(model, [(("type",), 'the root of the schema must have "type": "object"')], schema)
    if len(json.dumps(schema, separators=(",", ":"))) > MAX_PARAMETERS_BYTES:
        raise ValueError(f"the schema is larger than {MAX_PARAMETERS_BYTES} bytes as JSON")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path: Loc = tuple(exc.path)
        raise field_errors(model, [(path, f"not a valid JSON Schema: {exc.message}")], schema) from None
    except Exception as exc:
        raise ValueError(f"not a valid JSON Schema ({type(exc).__name__})") from None
    return schema


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpRetrySpec(StrictInput):
    """When a failed request is sent again: retryable statuses and network errors only, with
    exponential backoff. Every attempt carries the same `Idempotency-Key` header."""

    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts in all, the first included.")
    initial_interval_s: float = Field(default=1.0, gt=0, le=60, description="Wait before the second attempt.")
    backoff: float = Field(default=2.0, ge=1, le=10, description="Each wait is the previous one times this.")
    max_interval_s: float = Field(default=10.0, gt=0, le=300, description="Longest wait between attempts.")
    retry_on_status: list[int] = Field(
        default_factory=lambda: [429, 502, 503, 504],
        max_length=20,
        description="Response statuses that are retried (network errors and timeouts always are).",
    )

    @field_validator("retry_on_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        if any(not 400 <= status <= 599 for status in value):
            raise ValueError("only 4xx and 5xx statuses can be retried")
        if len(set(value)) != len(value):
            raise ValueError("retry_on_status must not repeat a status")
        return value

    @model_validator(mode="after")
    def _intervals(self) -> Self:
        if self.max_interval_s < self.initial_interval_s:
            raise field_errors(
                type(self).__name__, [(("max_interval_s",), "must be at least initial_interval_s")]
            )
        return self


class HttpEndpointSpec(StrictInput):
    """The endpoint an HTTP tool calls. The model's arguments are the JSON body (GET and DELETE:
    the query string); the response body is the tool's result."""

    method: HttpMethod = "POST"
    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description=(
            "Absolute URL; https:// unless the deployment allows http:// (`tools_require_https`). "
            "Hosts on private networks are refused unless the operator allows them."
        ),
        examples=["https://api.example.com/orders/lookup"],
    )
    headers: dict[str, str] = Field(
        default_factory=dict[str, str],
        description=(
            "Sent with every call (at most 32). A value may name a secret of your tenant as "
            "`{{secrets.NAME}}` (e.g. `Bearer {{secrets.ORDERS_TOKEN}}`); the value is put in by "
            "the worker and never shown."
        ),
        examples=[{"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"}],
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=MAX_TIMEOUT_S, description="Per attempt; at most the deployment's cap."
    )
    max_response_bytes: int = Field(
        default=1_000_000,
        ge=1,
        le=MAX_RESPONSE_BYTES,
        description="A larger response fails the call; at most the deployment's cap.",
    )
    retry: HttpRetrySpec | None = Field(
        default=None,
        description=(
            "Retry policy; null: 3 attempts for GET, PUT and DELETE, 1 for POST and PATCH "
            "(which are not idempotent unless your endpoint honours `Idempotency-Key`)."
        ),
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(cls.__name__, value)


class ToolDefinitionCreate(StrictInput):
    """A registered HTTP tool's full definition. Every create and update makes a new immutable
    revision; agent versions copy the revision they name."""

    name: ToolName
    description: str = Field(
        min_length=1,
        max_length=4000,
        description="What the tool does and when to use it; the model reads it.",
        examples=["Look up an order by its number; returns status and items."],
    )
    parameters: dict[str, Any] = Field(
        description='JSON Schema (draft 2020-12) of the arguments; the root is `"type": "object"`.',
        examples=[{"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}],
    )
    http: HttpEndpointSpec

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_json_schema(cls.__name__, value)


# ------------------------------------------------------------------------------- responses


def _float(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _int(value: object, default: int) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else default


def stored_dict(value: object) -> dict[str, Any] | None:
    """A stored JSON object as a dict (``None`` if it is not one)."""
    if not isinstance(value, Mapping):
        return None
    mapping = cast(Mapping[object, Any], value)
    return {str(key): item for key, item in mapping.items()}


def stored_str_dict(value: object) -> dict[str, str]:
    """A stored JSON object of strings (headers); anything else reads as empty."""
    return {key: str(item) for key, item in (stored_dict(value) or {}).items()}


def stored_str_list(value: object) -> list[str] | None:
    """A stored JSON array as strings (``None`` if it is not an array)."""
    if not isinstance(value, list):
        return None
    return [str(item) for item in cast(list[object], value)]


class HttpRetryPublic(BaseModel):
    """A retry policy as stored."""

    max_attempts: int
    initial_interval_s: float
    backoff: float
    max_interval_s: float
    retry_on_status: list[int]

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> HttpRetryPublic:
        """Read leniently (missing keys take the durable contract's defaults)."""
        statuses: object = stored.get("retry_on_status")
        return cls(
            max_attempts=_int(stored.get("max_attempts"), 1),
            initial_interval_s=_float(stored.get("initial_interval_s"), 1.0),
            backoff=_float(stored.get("backoff"), 2.0),
            max_interval_s=_float(stored.get("max_interval_s"), 10.0),
            retry_on_status=[_int(s, 0) for s in cast(list[object], statuses) if isinstance(s, int)]
            if isinstance(statuses, list)
            else [429, 502, 503, 504],
        )


class HttpEndpointPublic(BaseModel):
    """An HTTP tool's endpoint. Header values show secret placeholders, never secret values."""

    method: str
    url: str
    headers: dict[str, str]
    timeout_s: float
    max_response_bytes: int
    retry: HttpRetryPublic | None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> HttpEndpointPublic:
        """Read leniently from a stored definition (never a 500 on an older or newer row)."""
        retry = stored_dict(stored.get("retry"))
        return cls(
            method=str(stored.get("method", "POST")),
            url=str(stored.get("url", "")),
            headers=stored_str_dict(stored.get("headers")),
            timeout_s=_float(stored.get("timeout_s"), 30.0),
            max_response_bytes=_int(stored.get("max_response_bytes"), 1_000_000),
            retry=HttpRetryPublic.from_stored(retry) if retry is not None else None,
        )


class ToolRevisionPublic(BaseModel):
    """One immutable revision of a registered tool."""

    tool_id: str = Field(examples=["tool_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    revision: int
    kind: str = Field(description="`http`.")
    description: str
    parameters: dict[str, Any]
    http: HttpEndpointPublic
    created_at: datetime
    created_by: str | None

    @classmethod
    def from_row(cls, row: ToolRevision) -> ToolRevisionPublic:
        """A :class:`~agent_runtime_core.models.ToolRevision` as the API shows it."""
        return cls(
            tool_id=row.tool_id,
            revision=row.revision,
            kind=row.kind,
            description=row.description,
            parameters=stored_dict(row.parameters) or {},
            http=HttpEndpointPublic.from_stored(stored_dict(row.http) or {}),
            created_at=row.created_at,
            created_by=row.created_by,
        )


class ToolDefinitionPublic(BaseModel):
    """A registered tool with the definition of its latest revision."""

    id: str = Field(examples=["tool_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    name: str
    latest_revision: int = Field(description="Agent versions that name no revision get this one.")
    kind: str = Field(description="`http`.")
    description: str
    parameters: dict[str, Any]
    http: HttpEndpointPublic
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_rows(cls, tool: Tool, revision: ToolRevision) -> ToolDefinitionPublic:
        """A :class:`~agent_runtime_core.models.Tool` and its latest revision."""
        return cls(
            id=tool.id,
            name=tool.name,
            latest_revision=tool.latest_revision,
            kind=revision.kind,
            description=revision.description,
            parameters=stored_dict(revision.parameters) or {},
            http=HttpEndpointPublic.from_stored(stored_dict(revision.http) or {}),
            created_at=tool.created_at,
            updated_at=tool.updated_at,
        )


class CatalogToolPublic(BaseModel):
    """A tool the workers serve by name: built in, or from a tool package the operator installed."""

    name: str = Field(examples=["calculator"])
    description: str
    parameters: dict[str, Any] = Field(
        description="JSON Schema of the arguments (empty if not reported yet)."
    )
    source: str = Field(description="`builtin`, or `package:<distribution> <version>`.")
    last_seen_at: datetime | None = Field(
        description="When a worker last registered it; null for a built-in no worker has reported yet."
    )


class CatalogList(BaseModel):
    """Every tool a version may name by `name` alone."""

    data: list[CatalogToolPublic]
