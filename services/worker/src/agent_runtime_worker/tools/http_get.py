"""An SSRF-hardened HTTP GET tool.

The model chooses the URL, so every request is treated as hostile:

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

import asyncio
import codecs
import ipaddress
import socket
import ssl
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic_ai import ModelRetry

__all__ = [
    "HttpGetPolicy",
    "HttpGetResult",
    "http_get",
    "is_public_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_USER_AGENT: Final = "agent-runtime-http-get/1"

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
        async with asyncio.timeout(policy.timeout_s):
            return await _fetch(url, policy, verify)
    except (TimeoutError, httpx.TimeoutException):
        raise ModelRetry(
            f"Fetching {url} did not finish within {policy.timeout_s:g} seconds. "
            "The server may be slow or unreachable; try another source."
        ) from None
    except httpx.HTTPError as error:
        raise ModelRetry(
            f"Fetching {url} failed: {type(error).__name__}: {str(error) or 'no details'}."
        ) from None


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


async def _fetch(url: str, policy: HttpGetPolicy, verify: ssl.SSLContext | bool) -> HttpGetResult:
    current_url = _parse_url(url)
    async with httpx.AsyncClient(
        verify=verify,
        # Proxies from the environment would resolve the name themselves, defeating the pinning.
        trust_env=False,
        follow_redirects=False,
        timeout=policy.timeout_s,
        # A fresh connection per hop: a pooled TLS connection was verified for the previous hop's
        # host name, not necessarily this one.
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        redirects_followed = 0
        while True:
            addresses = await _resolve_allowed_addresses(current_url, policy)
            response = await _send_pinned(client, current_url, addresses)
            try:
                if not response.is_redirect:
                    return await _read_body(response, current_url, policy)
                location = response.headers["location"]
            finally:
                await response.aclose()
            if redirects_followed == policy.max_redirects:
                raise ModelRetry(
                    f"{url} redirected more than {policy.max_redirects} times; the last redirect "
                    f"pointed to {location!r}. Try that URL directly or use another source."
                )
            redirects_followed += 1
            current_url = _parse_url(location, base=current_url)


def _parse_url(raw_url: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        parsed = httpx.URL(raw_url) if base is None else base.join(raw_url)
    except (httpx.InvalidURL, UnicodeError, ValueError) as error:
        raise ModelRetry(f"Invalid URL {raw_url!r}: {error}.") from None
    described = raw_url if base is None else f"{raw_url!r} (redirected from {base})"
    if parsed.scheme not in ("http", "https"):
        raise ModelRetry(f"Refusing {described}: only http:// and https:// URLs are supported.")
    if not parsed.host:
        raise ModelRetry(f"Invalid URL {described}: it has no host name.")
    if parsed.userinfo:
        raise ModelRetry(f"Refusing {described}: URLs with embedded credentials are not allowed.")
    return parsed.copy_with(fragment=None)


async def _resolve_allowed_addresses(url: httpx.URL, policy: HttpGetPolicy) -> list[IPAddress]:
    host = url.raw_host.decode("ascii")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, url.port or (443 if url.scheme == "https" else 80))
    for address in addresses:
        if _is_cloud_metadata_address(address):
            raise ModelRetry(
                f"Refusing to fetch {url}: {address} is a cloud metadata endpoint, "
                "which is never reachable from tools."
            )
        if not policy.allow_private_networks and not is_public_address(address):
            resolved = "" if host == str(address) else f" ({host} resolves to {address})"
            raise ModelRetry(
                f"Refusing to fetch {url}{resolved}: {address} is a private, loopback, "
                "link-local or otherwise non-public address. Only public internet hosts "
                "can be fetched."
            )
    return addresses


def _is_cloud_metadata_address(address: IPAddress) -> bool:
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
        raise ModelRetry(f"Could not resolve host name {host!r}: {error}.") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ModelRetry(f"Could not resolve host name {host!r}.")  # pragma: no cover
    return addresses


async def _send_pinned(
    client: httpx.AsyncClient, url: httpx.URL, addresses: list[IPAddress]
) -> httpx.Response:
    """Send the GET to the validated addresses in turn until one accepts the connection."""
    host = url.raw_host.decode("ascii")
    host_header = f"[{host}]" if ":" in host else host
    if url.port is not None:
        host_header = f"{host_header}:{url.port}"
    headers = {
        "Host": host_header,
        "User-Agent": _USER_AGENT,
        "Accept": "*/*",
        # Compressed bodies would be inflated by httpx before the size limit could see them.
        "Accept-Encoding": "identity",
    }
    # The TLS handshake sends this name as SNI and verifies the certificate against it, while
    # the TCP connection goes to the pinned address.
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    connect_error: httpx.ConnectError | None = None
    for address in addresses:
        pinned_url = url.copy_with(host=str(ipaddress.ip_address(address.packed)))
        request = client.build_request("GET", pinned_url, headers=headers, extensions=extensions)
        try:
            return await client.send(request, stream=True)
        except httpx.ConnectError as error:
            connect_error = error
    assert connect_error is not None
    raise connect_error


async def _read_body(response: httpx.Response, url: httpx.URL, policy: HttpGetPolicy) -> HttpGetResult:
    decoder = codecs.getincrementaldecoder(_text_encoding(response))(errors="replace")
    pieces: list[str] = []
    remaining = policy.max_bytes
    truncated = False
    async for chunk in response.aiter_bytes():
        if len(chunk) > remaining:
            chunk = chunk[:remaining]
            truncated = True
        remaining -= len(chunk)
        pieces.append(decoder.decode(chunk))
        if truncated:
            break
    # A truncated body may end inside a multi-byte character; leave that fragment out.
    pieces.append(decoder.decode(b"", final=not truncated))
    return HttpGetResult(
        url=str(url),
        status_code=response.status_code,
        content_type=response.headers.get("content-type"),
        text="".join(pieces),
        truncated=truncated,
    )


def _text_encoding(response: httpx.Response) -> str:
    encoding = response.charset_encoding
    if encoding is not None:
        try:
            return codecs.lookup(encoding).name
        except LookupError:
            pass
    return "utf-8"
