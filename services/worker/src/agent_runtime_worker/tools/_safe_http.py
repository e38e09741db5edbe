"""SSRF-hardened HTTP requests, shared by the tools that reach URLs from outside the worker.

A URL a tool is given (by the model, or by a tenant's tool definition) may point at the worker's
own network: a database, an admin port, the cloud's metadata service handing out credentials. So
every request is treated as hostile:

* only `http` (optionally refused) and `https` URLs without embedded credentials are accepted;
* the host is resolved once, every address it resolves to is checked, and the connection is made
  to one of exactly those addresses (the URL's host is swapped for the IP while the `Host` header
  and, for HTTPS, the TLS SNI and certificate check keep the original name) so a DNS answer that
  changes between the check and the connection (DNS rebinding) cannot redirect the request;
  private networks may be allowed (development), cloud metadata endpoints never are;
* redirects are followed by hand, and each hop is validated and pinned like the first request:
  301, 302 and 303 continue as a GET without a body, 307 and 308 keep the method and body, and a
  hop to another origin no longer carries secret-bearing headers;
* the body is streamed and reading stops at `max_bytes`; the whole exchange, DNS and redirects
  included, runs under one deadline.

Errors are raised as :class:`SafeHttpError` subclasses whose message is written for a model to
read; each tool turns them into its own `ModelRetry`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

__all__ = [
    "ALWAYS_SENSITIVE_HEADERS",
    "HostNotResolved",
    "IPAddress",
    "SafeHttpError",
    "SafeResponse",
    "TooManyRedirects",
    "UrlRefused",
    "decode_text",
    "is_cloud_metadata_address",
    "is_public_address",
    "parse_url",
    "resolve_allowed_addresses",
    "send_safely",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_SENSITIVE_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers never forwarded to another origin on a redirect, whatever the caller marks sensitive."""

_REDIRECTS_TO_GET: Final = frozenset({301, 302, 303})

# Checked in addition to `is_global`, whose exact definition has shifted between Python patch
# releases; listing the ranges keeps the policy stable whatever interpreter the worker runs on.
_NON_PUBLIC_NETWORKS: Final[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = (
    ipaddress.IPv4Network("0.0.0.0/8"),  # "this" network, includes the unspecified address
    ipaddress.IPv4Network("10.0.0.0/8"),  # private
    ipaddress.IPv4Network("100.64.0.0/10"),  # carrier-grade NAT (RFC 6598)
    ipaddress.IPv4Network("127.0.0.0/8"),  # loopback
    ipaddress.IPv4Network("169.254.0.0/16"),  # link-local, cloud metadata services
    ipaddress.IPv4Network("172.16.0.0/12"),  # private
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv4Network("192.0.2.0/24"),  # documentation (TEST-NET-1)
    ipaddress.IPv4Network("192.88.99.0/24"),  # deprecated 6to4 relay anycast
    ipaddress.IPv4Network("192.168.0.0/16"),  # private
    ipaddress.IPv4Network("198.18.0.0/15"),  # benchmarking
    ipaddress.IPv4Network("198.51.100.0/24"),  # documentation (TEST-NET-2)
    ipaddress.IPv4Network("203.0.113.0/24"),  # documentation (TEST-NET-3)
    ipaddress.IPv4Network("224.0.0.0/4"),  # multicast
    ipaddress.IPv4Network("240.0.0.0/4"),  # reserved, includes broadcast 255.255.255.255
    ipaddress.IPv6Network("::/128"),  # unspecified
    ipaddress.IPv6Network("::1/128"),  # loopback
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
    ipaddress.IPv6Network("100::/64"),  # discard-only
    ipaddress.IPv6Network("2001::/23"),  # IETF protocol assignments, includes Teredo 2001::/32
    ipaddress.IPv6Network("2001:db8::/32"),  # documentation
    ipaddress.IPv6Network("fc00::/7"),  # unique local
    ipaddress.IPv6Network("fe80::/10"),  # link-local
    ipaddress.IPv6Network("fec0::/10"),  # site-local (deprecated)
    ipaddress.IPv6Network("ff00::/8"),  # multicast
)

# Instance metadata endpoints hand out cloud credentials; they stay blocked even when the
# policy allows private networks (e.g. in development, where the worker may run on a cloud VM).
_CLOUD_METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean, OpenStack, ...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::23",  # AWS EKS pod identity IPv6
        "fd20:ce::254",  # GCP IPv6
    )
)

_NAT64_WELL_KNOWN_PREFIX: Final = ipaddress.IPv6Network("64:ff9b::/96")


class SafeHttpError(Exception):
    """The request was refused or could not be sent; ``message`` is written for the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UrlRefused(SafeHttpError):
    """The URL (or a redirect's) is malformed, of a refused scheme, or reaches a refused address."""


class HostNotResolved(SafeHttpError):
    """The host name did not resolve (possibly a transient DNS failure)."""


class TooManyRedirects(SafeHttpError):
    """More redirects than allowed; nothing was read from the last one."""

    def __init__(self, url: str, max_redirects: int, location: str) -> None:
        super().__init__(
            f"{url} redirected more than {max_redirects} times; the last redirect pointed to {location!r}."
        )
        self.url = url
        self.max_redirects = max_redirects
        self.location = location


@dataclass(frozen=True)
class SafeResponse:
    """The final response of a request, its body read (up to the byte cap) and the connection closed."""

    url: httpx.URL
    """The final URL, after any redirects."""
    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes
    """At most ``max_bytes`` of the body."""
    truncated: bool
    """True when the body was longer than ``max_bytes`` and the rest was not read."""
    charset: str | None
    """The charset the `Content-Type` header declared, if any."""

    @property
    def content_type(self) -> str | None:
        """The `Content-Type` header, if there was one."""
        return self.headers.get("content-type")

    def text(self) -> str:
        """The body decoded with its declared charset (UTF-8 otherwise); see :func:`decode_text`."""
        return decode_text(self.body, self.charset, truncated=self.truncated)


async def send_safely(
    method: str,
    url: str | httpx.URL,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    sensitive_headers: Collection[str] = (),
    allow_private_networks: bool = False,
    require_https: bool = False,
    max_redirects: int,
    max_bytes: int,
    timeout_s: float,
    verify: ssl.SSLContext | bool = True,
    action: str = "fetch",
) -> SafeResponse:
    """Send one request (any method) to a checked address, following redirects by hand.

    Args:
        method: The HTTP method; 301, 302 and 303 redirects continue as GET (HEAD stays HEAD)
            without the body, 307 and 308 repeat the method and body.
        url: An absolute URL; its fragment is dropped.
        headers: Request headers; ``Host`` is always set from the URL and ``Accept-Encoding``
            to ``identity`` (a compressed body would be inflated before the cap could see it).
        content: The request body, if any.
        sensitive_headers: Names (any case) of headers that carry secrets; they and
            :data:`ALWAYS_SENSITIVE_HEADERS` are dropped from the first hop to another origin
            (scheme, host and port) onwards.
        allow_private_networks: Allow non-public addresses; cloud metadata stays refused.
        require_https: Refuse `http://` URLs, including redirect targets.
        max_redirects: Most redirects followed.
        max_bytes: Largest body read, in bytes.
        timeout_s: Deadline for everything: DNS, connecting, redirects, reading the body.
        verify: TLS verification: `True` for httpx's default CA bundle, an `ssl.SSLContext`
            trusting a custom CA, or `False` (no verification).
        action: The verb used in refusal messages ("Refusing to <action> <url>").

    Returns:
        The final response, with its (possibly truncated) body.

    Raises:
        UrlRefused: A URL is malformed or refused by the policy.
        HostNotResolved: A host name does not resolve.
        TooManyRedirects: More than ``max_redirects`` redirects.
        TimeoutError: The deadline passed (httpx's own timeouts are raised as this too).
        httpx.HTTPError: The connection failed or broke (``httpx.TransportError``).
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _send(
                method.upper(),
                url,
                headers=dict(headers or {}),
                content=content,
                sensitive_headers=frozenset(name.lower() for name in sensitive_headers)
                | ALWAYS_SENSITIVE_HEADERS,
                allow_private_networks=allow_private_networks,
                require_https=require_https,
                max_redirects=max_redirects,
                max_bytes=max_bytes,
                timeout_s=timeout_s,
                verify=verify,
                action=action,
            )
    except httpx.TimeoutException as error:
        raise TimeoutError(str(error)) from None


def is_public_address(address: IPAddress) -> bool:
    """Tell whether an address is a public internet address that tools may connect to.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4 and well-known
    NAT64) are judged by the IPv4 address they reach.

    Args:
        address: The address to check.

    Returns:
        False for private, loopback, link-local, multicast, reserved, unspecified, carrier-grade
        NAT, documentation and other special-purpose addresses; True otherwise.
    """
    if isinstance(address, ipaddress.IPv6Address):
        # A zone id (`fe80::1%eth0`) does not change where the packet goes; drop it.
        address = ipaddress.IPv6Address(address.packed)
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    if any(address in network for network in _NON_PUBLIC_NETWORKS):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_private)


def parse_url(raw_url: str, *, base: httpx.URL | None = None, require_https: bool = False) -> httpx.URL:
    """Parse ``raw_url`` (relative to ``base``, for a redirect's `Location`) and check its form.

    Raises:
        UrlRefused: Malformed, not http(s) (not https when ``require_https``), without a host,
            or with embedded credentials.
    """
    try:
        parsed = httpx.URL(raw_url) if base is None else base.join(raw_url)
    except (httpx.InvalidURL, UnicodeError, ValueError) as error:
        raise UrlRefused(f"Invalid URL {raw_url!r}: {error}.") from None
    described = raw_url if base is None else f"{raw_url!r} (redirected from {base})"
    if parsed.scheme not in ("http", "https"):
        raise UrlRefused(f"Refusing {described}: only http:// and https:// URLs are supported.")
    if require_https and parsed.scheme != "https":
        raise UrlRefused(f"Refusing {described}: only https:// URLs are allowed.")
    if not parsed.host:
        raise UrlRefused(f"Invalid URL {described}: it has no host name.")
    if parsed.userinfo:
        raise UrlRefused(f"Refusing {described}: URLs with embedded credentials are not allowed.")
    return parsed.copy_with(fragment=None)


async def resolve_allowed_addresses(
    url: httpx.URL, *, allow_private_networks: bool, action: str = "fetch"
) -> list[IPAddress]:
    """Resolve the URL's host once and check every address it resolves to.

    Raises:
        UrlRefused: One of the addresses is a cloud metadata endpoint, or non-public while
            ``allow_private_networks`` is false.
        HostNotResolved: The name does not resolve.
    """
    host = url.raw_host.decode("ascii")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
    for address in addresses:
        if is_cloud_metadata_address(address):
            raise UrlRefused(
                f"Refusing to {action} {url}: {address} is a cloud metadata endpoint, "
                "which is never reachable from tools."
            )
        if not allow_private_networks and not is_public_address(address):
            resolved = "" if host == str(address) else f" ({host} resolves to {address})"
            raise UrlRefused(
                f"Refusing to {action} {url}{resolved}: {address} is a private, loopback, "
                "link-local or otherwise non-public address. Only public internet hosts "
                "can be reached."
            )
    return addresses


def decode_text(body: bytes, charset: str | None, *, truncated: bool) -> str:
    """Decode ``body`` with ``charset`` (UTF-8 when missing or unknown), replacing bad bytes.

    A truncated body may end inside a multi-byte character; that fragment is left out.
    """
    encoding = "utf-8"
    if charset is not None:
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(charset).name
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(body, final=not truncated)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return address.ipv4_mapped
    if address.sixtofour is not None:  # 2002:aabb:ccdd::/48
        return address.sixtofour
    low_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64_WELL_KNOWN_PREFIX:  # 64:ff9b::a.b.c.d
        return low_32_bits
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return low_32_bits
    return None


def is_cloud_metadata_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.packed)
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return embedded in _CLOUD_METADATA_ADDRESSES
    return address in _CLOUD_METADATA_ADDRESSES


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise HostNotResolved(f"Could not resolve host name {host!r}: {error}.") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise HostNotResolved(f"Could not resolve host name {host!r}.")  # pragma: no cover
    return addresses


@functools.cache
def _default_ssl_context(verify: bool) -> ssl.SSLContext:
    """httpx's context for ``verify``, built once: a client given ``True`` builds a new one and
    loads the whole CA bundle into it, ≈ 20-30 ms of CPU, and every request here has a new client."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default_port = 443 if url.scheme == "https" else 80
    return url.scheme, url.host.lower(), url.port or default_port


async def _send(
    method: str,
    url: str | httpx.URL,
    *,
    headers: dict[str, str],
    content: bytes | None,
    sensitive_headers: frozenset[str],
    allow_private_networks: bool,
    require_https: bool,
    max_redirects: int,
    max_bytes: int,
    timeout_s: float,
    verify: ssl.SSLContext | bool,
    action: str,
) -> SafeResponse:
    current_url = parse_url(str(url), require_https=require_https)
    headers = {name: value for name, value in headers.items() if name.lower() != "host"}
    async with httpx.AsyncClient(
        verify=verify if isinstance(verify, ssl.SSLContext) else _default_ssl_context(verify),
        # Proxies from the environment would resolve the name themselves, defeating the pinning.
        trust_env=False,
        follow_redirects=False,
        timeout=timeout_s,
        # A fresh connection per hop: a pooled TLS connection was verified for the previous hop's
        # host name, not necessarily this one.
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        redirects_followed = 0
        while True:
            addresses = await resolve_allowed_addresses(
                current_url, allow_private_networks=allow_private_networks, action=action
            )
            response = await _send_pinned(client, method, current_url, addresses, headers, content)
            try:
                if not response.is_redirect:
                    return await _read_body(response, current_url, max_bytes)
                status, location = response.status_code, response.headers["location"]
            finally:
                await response.aclose()
            if redirects_followed == max_redirects:
                raise TooManyRedirects(str(url), max_redirects, location)
            redirects_followed += 1
            next_url = parse_url(location, base=current_url, require_https=require_https)
            if status in _REDIRECTS_TO_GET and method != "HEAD":
                method, content = "GET", None
                headers = {
                    name: value
                    for name, value in headers.items()
                    if name.lower() not in ("content-type", "content-length")
                }
            if _origin(next_url) != _origin(current_url):
                # Once dropped they stay dropped, even if a later hop comes back.
                headers = {
                    name: value for name, value in headers.items() if name.lower() not in sensitive_headers
                }
            current_url = next_url


async def _send_pinned(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    addresses: list[IPAddress],
    headers: dict[str, str],
    content: bytes | None,
) -> httpx.Response:
    """Send the request to the validated addresses in turn until one accepts the connection."""
    host = url.raw_host.decode("ascii")
    host_header = f"[{host}]" if ":" in host else host
    if url.port is not None:
        host_header = f"{host_header}:{url.port}"
    request_headers = {
        **headers,
        "Host": host_header,
        # Compressed bodies would be inflated by httpx before the size limit could see them.
        "Accept-Encoding": "identity",
    }
    # The TLS handshake sends this name as SNI and verifies the certificate against it, while
    # the TCP connection goes to the pinned address.
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    connect_error: httpx.ConnectError | None = None
    for address in addresses:
        pinned_url = url.copy_with(host=str(ipaddress.ip_address(address.packed)))
        request = client.build_request(
            method, pinned_url, headers=request_headers, content=content, extensions=extensions
        )
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:
            # Nothing was sent to this address; the next one may accept the connection.
            connect_error = error
    assert connect_error is not None
    raise connect_error


async def _read_body(response: httpx.Response, url: httpx.URL, max_bytes: int) -> SafeResponse:
    pieces: list[bytes] = []
    remaining = max_bytes
    truncated = False
    async for chunk in response.aiter_bytes():
        if len(chunk) > remaining:
            chunk = chunk[:remaining]
            truncated = True
        remaining -= len(chunk)
        pieces.append(chunk)
        if truncated:
            break
    return SafeResponse(
        url=url,
        status_code=response.status_code,
        reason_phrase=response.reason_phrase,
        headers=response.headers,
        body=b"".join(pieces),
        truncated=truncated,
        charset=response.charset_encoding,
    )
