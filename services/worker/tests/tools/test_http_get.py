from __future__ import annotations

import ipaddress
import time

import pytest
from pydantic import ValidationError
from pydantic_ai import ModelRetry

from agent_runtime_worker.tools.http_get import (
    HttpGetPolicy,
    http_get,
    is_public_address,
)

from .conftest import UTF8_BODY, LocalServer, SelfSignedCertificate

LOCAL = HttpGetPolicy(allow_private_networks=True, timeout_s=5)
PUBLIC_ONLY = HttpGetPolicy()


async def test_http_get_returns_status_type_url_and_text(http_server: LocalServer) -> None:
    url = http_server.url("/text")

    result = await http_get(url, LOCAL)

    assert result.status_code == 200
    assert result.content_type == "text/plain; charset=utf-8"
    assert result.url == url
    assert result.text == "hello, world"
    assert result.truncated is False


async def test_http_get_returns_error_statuses_instead_of_failing(
    http_server: LocalServer,
) -> None:
    result = await http_get(http_server.url("/not-found"), LOCAL)

    assert (result.status_code, result.text) == (404, "no such page")


async def test_http_get_decodes_the_declared_charset(http_server: LocalServer) -> None:
    result = await http_get(http_server.url("/latin1"), LOCAL)

    assert result.text == "café"


async def test_http_get_drops_the_fragment_and_keeps_the_query(http_server: LocalServer) -> None:
    result = await http_get(http_server.url("/bytes?n=3#section"), LOCAL)

    assert result.text == "aaa"
    assert result.url == http_server.url("/bytes?n=3")


async def test_http_get_sends_the_original_host_header_to_the_pinned_address(
    http_server: LocalServer,
) -> None:
    result = await http_get(http_server.url("/echo-host", host="localhost"), LOCAL)

    assert result.text == f"localhost:{http_server.port}"


async def test_http_get_asks_for_an_uncompressed_body(http_server: LocalServer) -> None:
    result = await http_get(http_server.url("/echo-headers"), LOCAL)

    assert "accept-encoding: identity" in result.text.splitlines()


async def test_http_get_truncates_the_body_at_max_bytes(http_server: LocalServer) -> None:
    policy = LOCAL.model_copy(update={"max_bytes": 1000})

    result = await http_get(http_server.url("/bytes?n=5000000"), policy)

    assert result.text == "a" * 1000
    assert result.truncated is True


async def test_http_get_does_not_flag_a_body_of_exactly_max_bytes(
    http_server: LocalServer,
) -> None:
    policy = LOCAL.model_copy(update={"max_bytes": 1000})

    result = await http_get(http_server.url("/bytes?n=1000"), policy)

    assert len(result.text) == 1000
    assert result.truncated is False


async def test_http_get_truncation_never_splits_a_character(http_server: LocalServer) -> None:
    cut_inside_check_mark = len(UTF8_BODY) - 1
    policy = LOCAL.model_copy(update={"max_bytes": cut_inside_check_mark})

    result = await http_get(http_server.url("/utf8"), policy)

    assert result.text == "héllo wörld "
    assert result.truncated is True


async def test_http_get_follows_redirects_and_reports_the_final_url(
    http_server: LocalServer,
) -> None:
    result = await http_get(http_server.url("/chain/2"), LOCAL)

    assert result.text == "hello, world"
    assert result.url == http_server.url("/text")


async def test_http_get_follows_a_redirect_to_another_host_name(http_server: LocalServer) -> None:
    target = http_server.url("/echo-host", host="localhost")

    result = await http_get(http_server.url(f"/redirect?to={target}"), LOCAL)

    assert result.url == target
    assert result.text == f"localhost:{http_server.port}"


async def test_http_get_gives_up_after_max_redirects(http_server: LocalServer) -> None:
    policy = LOCAL.model_copy(update={"max_redirects": 2})

    with pytest.raises(ModelRetry, match="redirected more than 2 times"):
        await http_get(http_server.url("/chain/3"), policy)


async def test_http_get_with_zero_max_redirects_refuses_any_redirect(
    http_server: LocalServer,
) -> None:
    policy = LOCAL.model_copy(update={"max_redirects": 0})

    with pytest.raises(ModelRetry, match="redirected more than 0 times"):
        await http_get(http_server.url("/chain/0"), policy)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ],
)
async def test_http_get_validates_every_redirect_target(http_server: LocalServer, target: str) -> None:
    with pytest.raises(ModelRetry, match="Refusing"):
        await http_get(http_server.url(f"/redirect?to={target}"), LOCAL)


async def test_http_get_times_out_on_a_server_that_does_not_answer(
    http_server: LocalServer,
) -> None:
    policy = LOCAL.model_copy(update={"timeout_s": 0.3})
    started = time.perf_counter()

    with pytest.raises(ModelRetry, match=r"did not finish within 0\.3 seconds"):
        await http_get(http_server.url("/slow?seconds=3"), policy)

    assert time.perf_counter() - started < 1.5


async def test_http_get_limits_the_total_time_of_a_slowly_dripping_body(
    http_server: LocalServer,
) -> None:
    # Each byte arrives well within the timeout; only the whole transfer takes too long.
    policy = LOCAL.model_copy(update={"timeout_s": 0.5})
    started = time.perf_counter()

    with pytest.raises(ModelRetry, match="did not finish within"):
        await http_get(http_server.url("/drip"), policy)

    assert time.perf_counter() - started < 1.5


async def test_http_get_reports_a_refused_connection() -> None:
    with pytest.raises(ModelRetry, match="ConnectError"):
        # Port 1 on loopback: nothing listens there in a test environment.
        await http_get("http://127.0.0.1:1/", LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/admin",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[ff02::1]/",
        "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
        "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
        "http://localhost/",
        "http://LOCALHOST/",
        "http://2130706433/",  # 127.0.0.1 written as one decimal number
    ],
)
async def test_http_get_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(ModelRetry, match="Refusing to fetch"):
        await http_get(url, PUBLIC_ONLY)


async def test_http_get_names_the_resolved_address_when_refusing_a_host_name() -> None:
    with pytest.raises(ModelRetry, match=r"localhost resolves to 127\.0\.0\.1"):
        await http_get("http://localhost/", PUBLIC_ONLY)


async def test_http_get_refuses_cloud_metadata_even_when_private_networks_are_allowed() -> None:
    with pytest.raises(ModelRetry, match="cloud metadata"):
        await http_get("http://169.254.169.254/latest/meta-data/", LOCAL)


@pytest.mark.parametrize(
    ("url", "message_part"),
    [
        ("ftp://example.com/file", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("javascript:alert(1)", "only http:// and https://"),
        ("example.com/page", "only http:// and https://"),
        ("http:///path", "no host name"),
        ("http://user:secret@127.0.0.1/", "embedded credentials"),
        ("http://[::1/", "Invalid URL"),
    ],
)
async def test_http_get_refuses_malformed_and_unsupported_urls(url: str, message_part: str) -> None:
    with pytest.raises(ModelRetry) as raised:
        await http_get(url, LOCAL)

    assert message_part in raised.value.message


async def test_https_is_pinned_to_the_resolved_address_but_verified_against_the_host_name(
    https_server: LocalServer, localhost_certificate: SelfSignedCertificate
) -> None:
    # The certificate names `localhost` and no IP address, and the connection goes to
    # 127.0.0.1: the handshake only succeeds if SNI and verification use the original name.
    result = await http_get(
        https_server.url("/echo-host", host="localhost"),
        LOCAL,
        verify=localhost_certificate.client_context(),
    )

    assert result.text == f"localhost:{https_server.port}"
    assert https_server.server_names_seen[-1] == "localhost"


async def test_https_refuses_a_certificate_for_another_name(
    other_name_https_server: LocalServer, other_name_certificate: SelfSignedCertificate
) -> None:
    with pytest.raises(ModelRetry, match="CERTIFICATE_VERIFY_FAILED"):
        await http_get(
            other_name_https_server.url("/text", host="localhost"),
            LOCAL,
            verify=other_name_certificate.client_context(),
        )


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "2002:808:808::1",  # 6to4 wrapping 8.8.8.8
        "64:ff9b::808:808",  # NAT64 wrapping 8.8.8.8
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",
        "0.1.2.3",
        "10.255.255.255",
        "100.64.0.0",
        "100.127.255.255",
        "127.0.0.1",
        "169.254.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.0.1",
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:100.64.0.1",
        "::127.0.0.1",
        "2002:a00:1::",
        "2002:7f00:1::1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "2001::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "overrides",
    [{"max_bytes": 0}, {"timeout_s": 0}, {"max_redirects": -1}, {"unknown": True}],
)
def test_http_get_policy_rejects_invalid_limits(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HttpGetPolicy.model_validate(overrides)


def test_http_get_policy_is_immutable() -> None:
    with pytest.raises(ValidationError):
        PUBLIC_ONLY.allow_private_networks = True  # pyright: ignore[reportAttributeAccessIssue]
