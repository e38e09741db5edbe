"""An SSRF-hardened HTTP GET tool.

The model chooses the URL, so every request is treated as hostile (the machinery is in
:mod:`agent_runtime_worker.tools._safe_http`, shared with the HTTP tools):

* only `http` and `https` URLs without embedded credentials are accepted;
* the host is resolved once, every address it resolves to is checked, and the connection is made
  to one of exactly those addresses (the URL's host is swapped for the IP while the `Host` header
  and, for HTTPS, the TLS SNI and certificate check keep the original name) so a DNS answer that
  changes between the check and the connection (DNS rebinding) cannot redirect the request;
* redirects are followed by hand, and each hop is validated and pinned like the first request;
* the body is streamed and reading stops at `max_bytes`; the whole exchange, DNS included, runs
  under one deadline.
"""

from __future__ import annotations

import ssl
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic_ai import ModelRetry

from agent_runtime_worker.tools._safe_http import (
    SafeHttpError,
    TooManyRedirects,
    is_public_address,
    send_safely,
)

__all__ = [
    "HttpGetPolicy",
    "HttpGetResult",
    "http_get",
    "is_public_address",
]

_USER_AGENT: Final = "agent-runtime-http-get/1"


class HttpGetPolicy(BaseModel):
    """Limits applied to every `http_get` call; set by the operator, never by the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_private_networks: bool = False
    """Allow private, loopback, link-local and other non-public addresses (development only).

    Cloud metadata endpoints such as 169.254.169.254 stay blocked regardless.
    """
    max_bytes: int = Field(default=1_000_000, gt=0)
    """Largest response body read, in bytes; anything beyond is dropped and flagged."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Deadline for the whole call: DNS, connecting, redirects and reading the body."""
    max_redirects: int = Field(default=3, ge=0)
    """Most redirects followed before giving up."""


class HttpGetResult(BaseModel):
    """What `http_get` fetched."""

    url: str
    """The final URL, after any redirects."""
    status_code: int
    """The HTTP status of the final response; 4xx and 5xx are returned, not raised."""
    content_type: str | None
    """The `Content-Type` header of the final response, if it had one."""
    text: str
    """The body decoded as text (undecodable bytes replaced), at most `max_bytes` bytes of it."""
    truncated: bool
    """True when the body was longer than `max_bytes` and the rest was not read."""


async def http_get(
    url: str,
    policy: HttpGetPolicy,
    *,
    verify: ssl.SSLContext | bool = True,
) -> HttpGetResult:
    """Fetch a public web page or API resource with an HTTP GET request.

    Args:
        url: An absolute `http://` or `https://` URL.
        policy: The limits to enforce.
        verify: TLS verification: `True` for httpx's default CA bundle (certifi), or an
            `ssl.SSLContext` trusting a custom CA. `False` disables verification.

    Returns:
        The final status code, content type, URL and (possibly truncated) body text.

    Raises:
        ModelRetry: If the URL is invalid or refused by the policy, the request fails, it
            exceeds the redirect limit, or it does not finish within `policy.timeout_s`.
    """
    try:
        response = await send_safely(
            "GET",
            url,
            headers={"User-Agent": _USER_AGENT, "Accept": "*/*"},
            allow_private_networks=policy.allow_private_networks,
            max_redirects=policy.max_redirects,
            max_bytes=policy.max_bytes,
            timeout_s=policy.timeout_s,
            verify=verify,
        )
    except TooManyRedirects as error:
        raise ModelRetry(f"{error.message} Try that URL directly or use another source.") from None
    except SafeHttpError as error:
        raise ModelRetry(error.message) from None
    except (TimeoutError, httpx.TimeoutException):
        raise ModelRetry(
            f"Fetching {url} did not finish within {policy.timeout_s:g} seconds. "
            "The server may be slow or unreachable; try another source."
        ) from None
    except httpx.HTTPError as error:
        raise ModelRetry(
            f"Fetching {url} failed: {type(error).__name__}: {str(error) or 'no details'}."
        ) from None
    return HttpGetResult(
        url=str(response.url),
        status_code=response.status_code,
        content_type=response.content_type,
        text=response.text(),
        truncated=response.truncated,
    )
