"""Calling a tenant's own HTTP endpoint as a tool (an agent version's ``kind="http"`` tool).

The tenant declares the endpoint (:class:`~agent_runtime_core.temporal.contracts.HttpToolConfig`:
method, URL, headers that may name the tenant's secrets, timeout, response cap, retry policy); the
model supplies the arguments. Several parties must be protected from each other:

* the worker's network from the tenant: the URL, and every redirect, goes through the same SSRF
  guard as ``http_get`` (:mod:`agent_runtime_worker.tools._safe_http`), with the operator's
  :class:`HttpToolPolicy` capping what a tool may declare (https only, timeouts, response size,
  attempts);
* the tenant's endpoint from impostors and replays: every request is signed
  (:mod:`agent_runtime_core.signing`: HMAC over timestamp and body, one signature per active key
  so secrets can be rotated) and carries the tool call's ``Idempotency-Key``, the same on every
  attempt, including the retries Temporal makes of the whole activity after a crash;
* the tenant's secrets from the model and the logs: header templates are rendered here, inside the
  activity; a secret's value never appears in an error message (the model reads those) or a log
  line, and secret-bearing headers are not forwarded to another origin on a redirect;
* the endpoint from duplicate side effects: only idempotent methods are retried by default
  (GET, HEAD, PUT, DELETE: 3 attempts; POST, PATCH: 1) and only on the declared statuses,
  connection errors and timeouts.

The model gets the JSON value the endpoint returned (or its text), and a failure as
``ModelRetry`` with a message it can act on. A tool definition that cannot work at all (an unset
secret, a malformed header) raises :class:`HttpToolConfigError` instead: retrying cannot fix it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic_ai import ModelRetry

from agent_runtime_core.signing import (
    IDEMPOTENCY_KEY_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKey,
    signed_headers,
)
from agent_runtime_core.temporal.contracts import (
    SECRET_PLACEHOLDER,
    HttpRetryConfig,
    HttpToolConfig,
    header_secret_names,
)
from agent_runtime_worker.tools._safe_http import (
    HostNotResolved,
    SafeHttpError,
    SafeResponse,
    send_safely,
)

__all__ = [
    "IDEMPOTENT_METHODS",
    "USER_AGENT",
    "HttpToolConfigError",
    "HttpToolPolicy",
    "RenderedHeaders",
    "SigningKeyResolver",
    "call_http_tool",
    "effective_attempts",
    "max_call_duration_s",
    "render_headers",
    "secret_names",
]

logger = logging.getLogger(__name__)

USER_AGENT: Final = "agent-runtime-http-tool/1"

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})
"""Methods retried by default (3 attempts); POST and PATCH are sent once unless a policy says more."""

_QUERY_METHODS: Final = frozenset({"GET", "HEAD", "DELETE"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_IDEMPOTENT_ATTEMPTS: Final = 3

_ANY_PLACEHOLDER: Final = re.compile(r"\{\{.*?\}\}")
_HEADER_NAME: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an RFC 9110 token
_HEADER_VALUE: Final = re.compile(r"^[\t\x20-\x7e]*$")  # printable ASCII and tab: no CR, LF, NUL

# Set by the worker (framing, our identity, the signature) or needed as they are by the SSRF guard.
_RESERVED_HEADERS: Final = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept-encoding",
        "user-agent",
        IDEMPOTENCY_KEY_HEADER.lower(),
        SIGNATURE_HEADER.lower(),
        TIMESTAMP_HEADER.lower(),
        KEY_ID_HEADER.lower(),
    }
)

_PREVIEW_CHARS: Final = 500
_sleep = asyncio.sleep  # tests replace it to record the backoff
_REDACTED: Final = "[redacted]"


class HttpToolConfigError(ValueError):
    """The tool's definition cannot be used: unknown method, malformed or reserved header, unset secret.

    Not the model's doing, and retrying cannot fix it; the message never contains a secret's value.
    """


class HttpToolPolicy(BaseModel):
    """Limits the operator puts on every HTTP tool; a tool's own settings are capped by them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_private_networks: bool = False
    """Allow private, loopback, link-local and other non-public addresses (development only).

    Cloud metadata endpoints such as 169.254.169.254 stay blocked regardless.
    """
    require_https: bool = True
    """Refuse `http://` endpoints and redirects to `http://`."""
    max_redirects: int = Field(default=3, ge=0)
    """Most redirects followed per attempt."""
    max_timeout_s: float = Field(default=60.0, gt=0)
    """Cap on a tool's ``timeout_s`` (the deadline of one attempt: DNS, connect, redirects, body)."""
    max_response_bytes: int = Field(default=5_000_000, gt=0)
    """Cap on a tool's ``max_response_bytes``."""
    max_attempts: int = Field(default=5, ge=1)
    """Cap on a tool's ``retry.max_attempts``."""


@dataclass(frozen=True)
class RenderedHeaders:
    """A tool's headers with their secrets filled in."""

    headers: dict[str, str]
    sensitive: frozenset[str]
    """Lower-cased names of the headers whose template named a secret."""
    secret_values: tuple[str, ...]
    """The secret values used, to scrub from anything shown to the model or logged."""

    def __repr__(self) -> str:  # never print the values
        return f"RenderedHeaders(names={sorted(self.headers)!r}, sensitive={sorted(self.sensitive)!r})"


class SigningKeyResolver(Protocol):
    """Reads a tenant's signing keys (the worker's signing-key repository implements it)."""

    async def signing_keys(self, tenant_id: str) -> list[SigningKey]:
        """The keys to sign with now: the current one first, then those still in their overlap."""
        ...


def secret_names(templates: Mapping[str, str]) -> set[str]:
    """The secrets ``{{secrets.NAME}}`` placeholders in header values name (to read them first)."""
    return header_secret_names(templates)


def render_headers(templates: Mapping[str, str], secrets: Mapping[str, str]) -> RenderedHeaders:
    """Fill ``{{secrets.NAME}}`` placeholders in header values and validate every header.

    Raises:
        HttpToolConfigError: A name is not a valid header name, is reserved (set by the worker:
            ``Host``, ``Content-Type``, ``User-Agent``, ``Idempotency-Key``, the signature
            headers, framing headers) or repeated; a placeholder names a secret missing from
            ``secrets`` or is not of the ``{{secrets.NAME}}`` form; a rendered value contains a
            line break, a control character or non-ASCII text. Messages name headers and
            secrets, never values.
    """
    headers: dict[str, str] = {}
    sensitive: set[str] = set()
    used: list[str] = []
    for name, template in templates.items():
        if not _HEADER_NAME.fullmatch(name):
            raise HttpToolConfigError(f"{name!r} is not a valid HTTP header name.")
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("agent-runtime-"):
            raise HttpToolConfigError(f"Header {name!r} is set by Agent Runtime and cannot be declared.")
        if any(existing.lower() == lowered for existing in headers):
            raise HttpToolConfigError(f"Header {name!r} is declared twice.")
        names = SECRET_PLACEHOLDER.findall(template)
        missing = sorted({secret for secret in names if secret not in secrets})
        if missing:
            raise HttpToolConfigError(
                f"Header {name!r} uses the secret {', '.join(missing)}, which is not set for this tenant."
            )
        value = SECRET_PLACEHOLDER.sub(lambda match: secrets[match.group(1)], template)
        if _ANY_PLACEHOLDER.search(SECRET_PLACEHOLDER.sub("", template)):
            raise HttpToolConfigError(f"Header {name!r} has a placeholder other than {{{{secrets.NAME}}}}.")
        if not _HEADER_VALUE.fullmatch(value):
            origin = f" (after filling in {', '.join(sorted(set(names)))})" if names else ""
            raise HttpToolConfigError(
                f"The value of header {name!r}{origin} contains a line break, a control character "
                "or non-ASCII text."
            )
        headers[name] = value
        if names:
            sensitive.add(lowered)
            used.extend(secrets[secret] for secret in names)
    # Longest first, so a secret containing another is scrubbed whole.
    secret_values = tuple(sorted({value for value in used if value}, key=len, reverse=True))
    return RenderedHeaders(headers=headers, sensitive=frozenset(sensitive), secret_values=secret_values)


def effective_attempts(endpoint: HttpToolConfig, policy: HttpToolPolicy) -> int:
    """How many times a call may be sent: the declared policy, else the method's default, capped."""
    if endpoint.retry is not None:
        declared = endpoint.retry.max_attempts
    else:
        declared = _DEFAULT_IDEMPOTENT_ATTEMPTS if endpoint.method.upper() in IDEMPOTENT_METHODS else 1
    return max(1, min(declared, policy.max_attempts))


def max_call_duration_s(endpoint: HttpToolConfig, policy: HttpToolPolicy) -> float:
    """An upper bound of :func:`call_http_tool`'s duration: every attempt's deadline plus waits.

    The activity running the call needs a ``start_to_close_timeout`` at least this long.
    """
    attempts = effective_attempts(endpoint, policy)
    retry = endpoint.retry or HttpRetryConfig()
    waits = sum(_backoff_s(retry, attempt, None) for attempt in range(1, attempts))
    return attempts * _effective_timeout_s(endpoint, policy) + waits


async def call_http_tool(
    endpoint: HttpToolConfig,
    arguments: dict[str, Any],
    *,
    idempotency_key: str,
    secrets: Mapping[str, str],
    signing_keys: Sequence[SigningKey],
    policy: HttpToolPolicy,
    verify: ssl.SSLContext | bool = True,
    now: Callable[[], float] = time.time,
) -> Any:
    """Call the tenant's endpoint with the model's arguments and return its answer.

    GET, HEAD and DELETE send ``arguments`` as query parameters (added to the URL's own: strings
    as they are, numbers as JSON numbers, booleans as ``true``/``false``, ``null`` left out, a
    list of scalars as a repeated parameter, anything else as compact JSON); POST, PUT and PATCH
    send them as a JSON body (``Content-Type: application/json``). Every request carries
    ``Idempotency-Key``, ``User-Agent: agent-runtime-http-tool/1`` and, when ``signing_keys`` is
    not empty, ``Agent-Runtime-Timestamp``, ``Agent-Runtime-Signature`` and
    ``Agent-Runtime-Key-Id`` (see :mod:`agent_runtime_core.signing`). An attempt that fails with
    a status in ``retry_on_status``, a connection error, a DNS failure or a timeout is repeated
    (see :func:`effective_attempts`) after an exponential backoff (``Retry-After`` honoured up to
    ``max_interval_s``), with the same idempotency key and a fresh timestamp and signature.

    Args:
        endpoint: The tool's endpoint, as the agent version declared it.
        arguments: The model's arguments (a JSON object).
        idempotency_key: The tool call's key, the same on every attempt and activity retry.
        secrets: The tenant's secrets by name, decrypted (only those the headers name are used).
        signing_keys: The tenant's signing keys, current first; empty sends no signature.
        policy: The operator's limits.
        verify: TLS verification: `True` (httpx's CA bundle), an `ssl.SSLContext`, or `False`.
        now: The clock the timestamps are taken from.

    Returns:
        For a 2xx answer: the parsed JSON value when the response is JSON (declared, or
        undeclared but parseable); otherwise its text, ending with a ``[truncated: ...]`` marker
        when it was longer than the response cap; a short sentence for an empty body.

    Raises:
        ModelRetry: A non-2xx answer (after the attempts allowed, for retryable statuses), a
            timeout, a connection failure, a refused URL or redirect (SSRF guard, `http://` under
            ``require_https``, too many redirects). The message names the method, the URL
            without its query, the status and a preview of the body, with secrets scrubbed.
        HttpToolConfigError: The definition cannot work (see :func:`render_headers`; also an
            unsupported method).
        ValueError: ``idempotency_key`` is empty or not printable ASCII.
    """
    method = endpoint.method.upper()
    if method not in _QUERY_METHODS | _BODY_METHODS:
        raise HttpToolConfigError(
            f"HTTP tools support GET, HEAD, DELETE, POST, PUT and PATCH, not {endpoint.method!r}."
        )
    if not idempotency_key or not _HEADER_VALUE.fullmatch(idempotency_key) or "\t" in idempotency_key:
        raise ValueError("the idempotency key must be non-empty printable ASCII")
    rendered = render_headers(endpoint.headers, secrets)
    scrub = _Scrubber(rendered.secret_values)
    url, body = _encode_arguments(method, endpoint.url, arguments)
    display_url = _display_url(endpoint.url)
    attempts = effective_attempts(endpoint, policy)
    retry = endpoint.retry or HttpRetryConfig()
    timeout_s = _effective_timeout_s(endpoint, policy)
    max_bytes = _effective_max_bytes(endpoint, policy)
    base_headers = {
        **rendered.headers,
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_KEY_HEADER: idempotency_key,
    }
    if "accept" not in {name.lower() for name in base_headers}:
        base_headers["Accept"] = "application/json, */*;q=0.5"
    if body is not None:
        base_headers["Content-Type"] = "application/json"
    # The signature proves the request to the endpoint the tenant declared; a hop to another
    # origin does not get it (it could be replayed to the endpoint within the tolerance).
    sensitive = rendered.sensitive | {SIGNATURE_HEADER.lower()}

    failure = ""
    for attempt in range(1, attempts + 1):
        request_headers = {**base_headers, **signed_headers(signing_keys, int(now()), body or b"")}
        retry_after: str | None = None
        try:
            response = await send_safely(
                method,
                url,
                headers=request_headers,
                content=body,
                sensitive_headers=sensitive,
                allow_private_networks=policy.allow_private_networks,
                require_https=policy.require_https,
                max_redirects=policy.max_redirects,
                max_bytes=max_bytes,
                timeout_s=timeout_s,
                verify=verify,
                action="call",
            )
        except HostNotResolved as error:
            failure = error.message
        except SafeHttpError as error:  # refused URL or redirect, too many redirects: final
            raise ModelRetry(scrub(error.message)) from None
        except TimeoutError:
            failure = f"{method} {display_url} did not answer within {timeout_s:g} seconds"
        except httpx.TransportError as error:
            failure = f"{method} {display_url} failed: {type(error).__name__}: {str(error) or 'no details'}"
            if _is_certificate_error(error):  # not transient: sending again cannot help
                raise ModelRetry(scrub(failure) + ".") from None
        except httpx.HTTPError as error:
            raise ModelRetry(
                scrub(f"{method} {display_url} failed: {type(error).__name__}: {str(error) or 'no details'}.")
            ) from None
        else:
            if 200 <= response.status_code < 300:
                return _result(response, max_bytes)
            failure = scrub(_status_failure(method, display_url, response))
            if response.status_code not in retry.retry_on_status:
                raise ModelRetry(_with_attempts(failure, attempt))
            retry_after = response.headers.get("retry-after")
        failure = scrub(failure)
        if attempt < attempts:
            delay = _backoff_s(retry, attempt, retry_after)
            logger.info(
                "HTTP tool %s %s: attempt %d of %d failed (%s); retrying in %.2f s",
                method,
                display_url,
                attempt,
                attempts,
                failure,
                delay,
            )
            await _sleep(delay)
    raise ModelRetry(_with_attempts(failure, attempts))


class _Scrubber:
    def __init__(self, secret_values: tuple[str, ...]) -> None:
        self._values = secret_values

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, _REDACTED)
        return text


def _is_certificate_error(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _effective_timeout_s(endpoint: HttpToolConfig, policy: HttpToolPolicy) -> float:
    declared = endpoint.timeout_s
    if not (math.isfinite(declared) and declared > 0):
        return policy.max_timeout_s
    return min(declared, policy.max_timeout_s)


def _effective_max_bytes(endpoint: HttpToolConfig, policy: HttpToolPolicy) -> int:
    declared = endpoint.max_response_bytes
    return policy.max_response_bytes if declared <= 0 else min(declared, policy.max_response_bytes)


def _backoff_s(retry: HttpRetryConfig, attempt: int, retry_after: str | None) -> float:
    """The wait after failed attempt ``attempt`` (1-based), at most ``max_interval_s``."""
    cap = max(0.0, retry.max_interval_s)
    delay = max(0.0, retry.initial_interval_s) * max(1.0, retry.backoff) ** (attempt - 1)
    if retry_after is not None and retry_after.strip().isdigit():
        delay = max(delay, float(retry_after.strip()))
    return min(delay, cap)


def _encode_arguments(method: str, raw_url: str, arguments: dict[str, Any]) -> tuple[str, bytes | None]:
    if not isinstance(arguments, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ModelRetry("The tool's arguments must be a JSON object.")
    if method in _BODY_METHODS:
        try:
            body = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ModelRetry(f"The tool's arguments cannot be sent as JSON: {error}.") from None
        return raw_url, body.encode()
    items = [(key, value) for key, raw in arguments.items() for value in _query_values(raw)]
    if not items:
        return raw_url, None
    try:
        url = httpx.URL(raw_url)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return raw_url, None  # send_safely refuses it with the reason
    params = httpx.QueryParams([*url.params.multi_items(), *items])
    return str(url.copy_with(params=params)), None


def _query_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int | float | bool):
        return [_query_scalar(value)]
    if isinstance(value, list):
        items = cast(list[Any], value)
        scalars = [item for item in items if isinstance(item, str | int | float | bool)]
        if len(scalars) == len(items):
            return [_query_scalar(item) for item in scalars]
    return [json.dumps(value, separators=(",", ":"), ensure_ascii=False)]


def _query_scalar(value: str | int | float | bool) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _display_url(raw_url: str) -> str:
    """The URL without query, fragment or credentials, for messages."""
    try:
        url = httpx.URL(raw_url)
        return str(url.copy_with(query=None, fragment=None, userinfo=b""))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return repr(raw_url)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _result(response: SafeResponse, max_bytes: int) -> Any:
    if not response.body:
        return f"The endpoint answered HTTP {response.status_code} with an empty body."
    text = response.text()
    if response.truncated:
        return f"{text}\n[truncated: the response was longer than {max_bytes} bytes]"
    if _is_json(response.content_type) or response.content_type is None:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _status_failure(method: str, display_url: str, response: SafeResponse) -> str:
    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    preview = " ".join(response.text().split())
    if len(preview) > _PREVIEW_CHARS:
        preview = preview[:_PREVIEW_CHARS] + "…"
    return f"{method} {display_url} answered {status}" + (f": {preview}" if preview else " (empty body)")


def _with_attempts(failure: str, attempts: int) -> str:
    return failure + (f" (after {attempts} attempts)." if attempts > 1 else ".")
