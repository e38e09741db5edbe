"""The one place requests are sent: configuration, retries, idempotency keys, error mapping.

Resources describe a call (method, path, query, body, whether it creates something) and hand it
here; this module sends it with the client's credentials, retries it as the
:class:`~agent_runtime_client.RetryPolicy` allows, turns an error status into the matching
:class:`~agent_runtime_client.APIError`, and parses the answer into a model. A creating call gets
one ``Idempotency-Key`` (a fresh UUID, or the caller's) that every retry of it repeats, so a retry
after a lost answer returns the original run instead of starting a second one. The sync and async
clients share everything but the sending itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from agent_runtime_client._errors import APIConnectionError, APITimeoutError, error_from_response
from agent_runtime_client._models import PresignedRequest
from agent_runtime_client._retries import RetryPolicy, parse_retry_after

__all__ = [
    "DEFAULT_BASE_URL",
    "VERSION",
    "AsyncHTTP",
    "Call",
    "ClientOptions",
    "SyncHTTP",
    "content_call",
    "path",
    "presigned_put",
]

logger = logging.getLogger("agent_runtime_client")

M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where ``agent-runtime dev`` serves the API."""
BASE_URL_ENV = "AGENT_RUNTIME_URL"
API_KEY_ENV = "AGENT_RUNTIME_API_KEY"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_STREAM_READ_TIMEOUT_S = 60.0
"""Longest silence on an event stream before it is reconnected (the API pings every 15 s)."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods whose repetition is harmless (RFC 9110 idempotent methods)."""


def _package_version() -> str:
    try:
        return version("agent-runtime-client")
    except PackageNotFoundError:  # running from a source tree
        return "0"


VERSION = _package_version()
"""This SDK's version (sent in ``User-Agent``)."""


def path(template: str, *segments: str | int) -> str:
    """``template`` with each ``{}`` replaced by a segment, escaped (ids never change the path).

    Example:
        >>> path("/v1/runs/{}/approvals/{}", "run_1", "apr/2")
        '/v1/runs/run_1/approvals/apr%2F2'
    """
    return template.format(*(quote(str(segment), safe="") for segment in segments))


@dataclass(frozen=True)
class ClientOptions:
    """A client's configuration, resolved from its arguments and the environment."""

    base_url: str
    api_key: str | None
    timeout: httpx.Timeout
    stream_read_timeout_s: float
    retry: RetryPolicy
    headers: Mapping[str, str]

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout | None,
        stream_read_timeout_s: float | None,
        retry: RetryPolicy | None,
        headers: Mapping[str, str] | None,
    ) -> ClientOptions:
        """Arguments win; then ``AGENT_RUNTIME_URL`` / ``AGENT_RUNTIME_API_KEY``; then defaults."""
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        if timeout is None:
            timeout = DEFAULT_TIMEOUT_S
        return cls(
            base_url=url.rstrip("/"),
            api_key=key,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            stream_read_timeout_s=stream_read_timeout_s or DEFAULT_STREAM_READ_TIMEOUT_S,
            retry=retry or RetryPolicy(),
            headers=dict(headers or {}),
        )

    def default_headers(self) -> dict[str, str]:
        """Headers of every request."""
        headers = {"User-Agent": f"agent-runtime-client/{VERSION}", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(self.headers)
        return headers

    def stream_timeout(self, read_s: float | None = None) -> httpx.Timeout:
        """The timeout of an event stream: the client's, with a read timeout that outlasts the
        server's keep-alive pings (or ``read_s``)."""
        return httpx.Timeout(
            connect=self.timeout.connect,
            read=read_s if read_s is not None else self.stream_read_timeout_s,
            write=self.timeout.write,
            pool=self.timeout.pool,
        )


@dataclass(frozen=True)
class Call:
    """One API call, as resources describe it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    creates: bool = False
    """A creating POST: it carries an ``Idempotency-Key`` (``idempotency_key`` or a new UUID)."""
    idempotency_key: str | None = None
    retry_safe: bool | None = None
    """Whether sending it twice is harmless, so that a broken connection may be retried: by
    default, for GET, PUT and DELETE. ``True`` for a POST the API makes idempotent (run creation,
    by its ``Idempotency-Key``) or that only reads; ``False`` for a PUT that adds a revision."""
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    files: Mapping[str, tuple[str, IO[bytes], str]] | None = None
    """A ``multipart/form-data`` body: each field's file name, file (read from its start at each
    attempt) and media type."""
    content: Callable[[], bytes | Iterable[bytes] | AsyncIterable[bytes]] | None = None
    """A raw body, made anew for each attempt (a file streamed in chunks)."""
    url: str | None = None
    """An absolute URL outside the API (a presigned object-storage request): it is sent with the
    call's own headers only, never the client's credentials."""

    def prepared_headers(self) -> dict[str, str]:
        """The call's own headers, with its idempotency key."""
        headers = dict(self.headers)
        if self.creates or self.idempotency_key is not None:
            headers["Idempotency-Key"] = self.idempotency_key or str(uuid.uuid4())
        return headers

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice is harmless."""
        return self.method in _SAFE_METHODS if self.retry_safe is None else self.retry_safe

    def body(self) -> Any:
        """The JSON body: ``None`` members left out, datetimes and decimals as the API reads them."""
        return None if self.json is None else to_jsonable_python(_without_none(self.json))


def presigned_put(
    request: PresignedRequest, chunks: Callable[[], Iterable[bytes] | AsyncIterable[bytes]]
) -> Call:
    """The call that sends a file's bytes (``chunks()``, anew at each attempt) to the object
    storage as the API presigned it: its method, URL and exactly its headers, no credentials."""
    return Call(
        request.method,
        request.url.partition("?")[0],  # what errors and logs show: never the signature
        url=request.url,
        headers=dict(request.headers),
        content=chunks,
    )


def content_call(artifact_id: str) -> Call:
    """The call that reads an artifact's bytes."""
    return Call("GET", path("/v1/artifacts/{}/content", artifact_id), headers={"Accept": "*/*"})


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        items: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {key: item for key, item in items.items() if item is not None}
    return value


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
            cleaned[key] = [_query_value(item) for item in items]
        else:
            cleaned[key] = _query_value(value)
    return cleaned


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _connection_error(error: httpx.TransportError, call: Call) -> APIConnectionError:
    what = f"{call.method} {call.path}"
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"{what} timed out: {error!r}")
    return APIConnectionError(f"{what} failed: {error!r}")


def _log_retry(call: Call, delay: float, attempt: int, policy: RetryPolicy, why: str) -> None:
    logger.info(
        "retrying %s %s in %.2f s after %s (attempt %d of %d)",
        call.method,
        call.path,
        delay,
        why,
        attempt + 1,
        policy.max_attempts,
    )


def _build_request(
    client: httpx.Client | httpx.AsyncClient,
    options: ClientOptions,
    call: Call,
    headers: Mapping[str, str],
    timeout: httpx.Timeout | None,
) -> httpx.Request:
    content = call.content() if call.content is not None else None
    if call.url is not None:
        request = client.build_request(
            call.method, call.url, headers=headers, content=content, timeout=timeout or options.timeout
        )
        # Never the API's credentials to another server (an http_client's own default headers).
        request.headers.pop("Authorization", None)
        return request
    return client.build_request(
        call.method,
        options.base_url + call.path,
        params=_clean_params(call.params),
        json=call.body(),
        files=call.files,
        content=content,
        headers={**options.default_headers(), **headers},
        timeout=timeout or options.timeout,
    )


def _parse(model: type[M], response: httpx.Response) -> M:
    return model.model_validate_json(response.content)


class SyncHTTP:
    """Sends calls for :class:`~agent_runtime_client.AgentRuntime`."""

    def __init__(self, options: ClientOptions, http_client: httpx.Client | None = None) -> None:
        self.options = options
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=options.timeout)
        self.sleep = time.sleep

    def close(self) -> None:
        """Close the connections (only those of a client this object made)."""
        if self._owns_client:
            self._client.close()

    def _request(
        self, call: Call, headers: Mapping[str, str], timeout: httpx.Timeout | None
    ) -> httpx.Request:
        return _build_request(self._client, self.options, call, headers, timeout)

    def send(
        self, call: Call, *, stream: bool = False, request_timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        """Send ``call``, retrying as the policy allows; the response is a success (2xx).

        With ``stream``, the body is not read: close the response when done.

        Raises:
            APIError: The API answered an error status (the matching subclass).
            APIConnectionError: The API could not be reached (after the retries).
        """
        policy = self.options.retry
        headers = call.prepared_headers()  # one idempotency key for every attempt
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.send(self._request(call, headers, request_timeout), stream=stream)
            except httpx.TransportError as exc:
                delay = policy.delay_after_error(attempt, exc, idempotent=call.idempotent)
                if delay is None:
                    raise _connection_error(exc, call) from exc
                _log_retry(call, delay, attempt, policy, repr(exc))
                self.sleep(delay)
                continue
            if response.is_success:
                return response
            try:
                response.read()
            finally:
                response.close()
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = policy.delay_after_status(
                attempt, response.status_code, retry_after, idempotent=call.idempotent
            )
            if delay is None:
                raise error_from_response(response)
            _log_retry(call, delay, attempt, policy, f"HTTP {response.status_code}")
            self.sleep(delay)

    def model(self, model: type[M], call: Call) -> M:
        """Send ``call`` and parse its answer as ``model``."""
        return _parse(model, self.send(call))

    def empty(self, call: Call) -> None:
        """Send ``call``, whose answer has no body (204)."""
        self.send(call)

    @contextlib.contextmanager
    def stream(self, call: Call, *, read_timeout_s: float | None = None) -> Generator[httpx.Response]:
        """Open ``call`` as a stream (retrying the opening as :meth:`send` does); closed on exit."""
        response = self.send(call, stream=True, request_timeout=self.options.stream_timeout(read_timeout_s))
        try:
            yield response
        finally:
            response.close()


class AsyncHTTP:
    """Sends calls for :class:`~agent_runtime_client.AsyncAgentRuntime`."""

    def __init__(self, options: ClientOptions, http_client: httpx.AsyncClient | None = None) -> None:
        self.options = options
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=options.timeout)
        self.sleep = anyio.sleep

    async def close(self) -> None:
        """Close the connections (only those of a client this object made)."""
        if self._owns_client:
            await self._client.aclose()

    def _request(
        self, call: Call, headers: Mapping[str, str], timeout: httpx.Timeout | None
    ) -> httpx.Request:
        return _build_request(self._client, self.options, call, headers, timeout)

    async def send(
        self, call: Call, *, stream: bool = False, request_timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        """Send ``call``, retrying as the policy allows; the response is a success (2xx).

        With ``stream``, the body is not read: close the response when done.

        Raises:
            APIError: The API answered an error status (the matching subclass).
            APIConnectionError: The API could not be reached (after the retries).
        """
        policy = self.options.retry
        headers = call.prepared_headers()  # one idempotency key for every attempt
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.send(
                    self._request(call, headers, request_timeout), stream=stream
                )
            except httpx.TransportError as exc:
                delay = policy.delay_after_error(attempt, exc, idempotent=call.idempotent)
                if delay is None:
                    raise _connection_error(exc, call) from exc
                _log_retry(call, delay, attempt, policy, repr(exc))
                await self.sleep(delay)
                continue
            if response.is_success:
                return response
            try:
                await response.aread()
            finally:
                await response.aclose()
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = policy.delay_after_status(
                attempt, response.status_code, retry_after, idempotent=call.idempotent
            )
            if delay is None:
                raise error_from_response(response)
            _log_retry(call, delay, attempt, policy, f"HTTP {response.status_code}")
            await self.sleep(delay)

    async def model(self, model: type[M], call: Call) -> M:
        """Send ``call`` and parse its answer as ``model``."""
        return _parse(model, await self.send(call))

    async def empty(self, call: Call) -> None:
        """Send ``call``, whose answer has no body (204)."""
        await self.send(call)

    @contextlib.asynccontextmanager
    async def stream(
        self, call: Call, *, read_timeout_s: float | None = None
    ) -> AsyncGenerator[httpx.Response]:
        """Open ``call`` as a stream (retrying the opening as :meth:`send` does); closed on exit."""
        response = await self.send(
            call, stream=True, request_timeout=self.options.stream_timeout(read_timeout_s)
        )
        try:
            yield response
        finally:
            await response.aclose()
