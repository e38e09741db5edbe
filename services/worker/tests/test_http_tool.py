"""HTTP tools against real local endpoints: a receiver that verifies our signature, retries with one
idempotency key, arguments as query or JSON body, secrets in headers (and never in messages), the
response cap, and the SSRF guard on the tool URL and its redirects. Nothing here leaves 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from pydantic_ai import ModelRetry

from agent_runtime_core.signing import (
    IDEMPOTENCY_KEY_HEADER,
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKey,
    verify_signature,
)
from agent_runtime_core.temporal.contracts import HttpRetryConfig, HttpToolConfig
from agent_runtime_worker.tools import http_tool
from agent_runtime_worker.tools.http_tool import (
    USER_AGENT,
    HttpToolConfigError,
    HttpToolPolicy,
    call_http_tool,
    effective_attempts,
    max_call_duration_s,
    render_headers,
)

RECEIVER_SECRETS = {"current": b"current-signing-secret", "old": b"old-signing-secret"}
CURRENT_KEY = SigningKey("key_current", RECEIVER_SECRETS["current"])
OLD_KEY = SigningKey("key_old", RECEIVER_SECRETS["old"])
LOCAL = HttpToolPolicy(allow_private_networks=True, require_https=False)
API_TOKEN = "tok-7f3a9c1e-very-secret"
SECRETS = {"API_TOKEN": API_TOKEN, "TEAM": "team-42"}


# --- the receiver ---------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    host: str

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get(IDEMPOTENCY_KEY_HEADER.lower())

    def signed_by(self, secret: bytes) -> bool:
        return verify_signature(
            secret,
            self.headers.get(SIGNATURE_HEADER.lower()),
            self.headers.get(TIMESTAMP_HEADER.lower()),
            self.body,
            now=float(self.headers.get(TIMESTAMP_HEADER.lower(), "0")),
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    received: list[Received]
    counters: dict[str, int]
    lock: threading.Lock

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose (caps, timeouts)


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> _Server:
        return cast(_Server, self.server)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parsed = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            method=self.command,
            path=parsed.path,
            query=parse_qs(parsed.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            host=self.headers.get("Host") or "",
        )
        with self.state.lock:
            self.state.received.append(received)
        with suppress(BrokenPipeError, ConnectionResetError):
            self._route(received, {key: values[0] for key, values in received.query.items()})

    def _route(self, received: Received, query: dict[str, str]) -> None:
        path = received.path
        if path == "/verified":
            # A receiver as the docs tell tenants to write one: refuse what is not signed by us.
            secret = RECEIVER_SECRETS[query.get("key", "current")]
            if not verify_signature(
                secret,
                self.headers.get(SIGNATURE_HEADER),
                self.headers.get(TIMESTAMP_HEADER),
                received.body,
            ):
                self._json(401, {"error": "bad signature"})
                return
            arguments = json.loads(received.body) if received.body else None
            self._json(200, {"ok": True, "arguments": arguments, "key": received.idempotency_key})
        elif path == "/record":
            self._json(200, {"method": received.method, "headers": received.headers})
        elif path == "/flaky":
            with self.state.lock:
                count = self.state.counters.get(query["id"], 0) + 1
                self.state.counters[query["id"]] = count
            if count <= int(query["fail"]):
                extra = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
                self._send(int(query.get("status", "503")), b"try later", "text/plain", extra)
            else:
                self._json(200, {"attempt": count})
        elif path == "/status":
            self._send(int(query["code"]), query.get("body", "").encode(), "text/plain")
        elif path == "/echo-headers-error":
            body = "\n".join(f"{key}: {value}" for key, value in received.headers.items())
            self._send(500, body.encode(), "text/plain")
        elif path == "/text":
            self._send(200, "plain wörds".encode(), "text/plain; charset=utf-8")
        elif path == "/bytes":
            self._send(200, b"a" * int(query["n"]), query.get("type", "text/plain"))
        elif path == "/untyped-json":
            self._send(200, b'{"untyped": true}', None)
        elif path == "/empty":
            self._send(204, b"", None)
        elif path == "/redirect":
            self.send_response(int(query.get("code", "302")))
            self.send_header("Location", query["to"])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/slow":
            time.sleep(float(query["seconds"]))
            self._json(200, {"late": True})
        else:
            self._send(404, b"unknown test route", "text/plain")

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _send(
        self, status: int, body: bytes, content_type: str | None, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@dataclass
class Endpoint:
    """A running receiver."""

    port: int
    scheme: str
    received: list[Received] = field(default_factory=list[Received])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def requests_with(self, idempotency_key: str) -> list[Received]:
        return [request for request in self.received if request.idempotency_key == idempotency_key]


@contextmanager
def _serve(ssl_context: ssl.SSLContext | None = None) -> Iterator[Endpoint]:
    server = _Server(("127.0.0.1", 0), _Receiver)
    server.received, server.counters, server.lock = [], {}, threading.Lock()
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    endpoint = Endpoint(
        port=server.server_address[1], scheme="https" if ssl_context else "http", received=server.received
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class ThrowawayCA:
    """A throwaway CA and a server certificate it issued for `localhost` and 127.0.0.1."""

    ca_pem: bytes
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def _make_ca(directory: Path) -> ThrowawayCA:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agent-runtime test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ThrowawayCA(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM), cert_path=cert_path, key_path=key_path
    )


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with _serve() as server:
        yield server


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    return _make_ca(tmp_path_factory.mktemp("http-tool-ca"))


@pytest.fixture(scope="module")
def https_endpoint(test_ca: ThrowawayCA) -> Iterator[Endpoint]:
    with _serve(test_ca.server_context()) as server:
        yield server


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits `call_http_tool` asked for (not waited: tests stay fast)."""
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(http_tool, "_sleep", record)
    return waits


def _key() -> str:
    return f"call_{uuid.uuid4().hex}"


async def _call(
    config: HttpToolConfig,
    arguments: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    policy: HttpToolPolicy = LOCAL,
    signing_keys: list[SigningKey] | None = None,
    secrets: dict[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Any:
    return await call_http_tool(
        config,
        {} if arguments is None else arguments,
        idempotency_key=key or _key(),
        secrets=SECRETS if secrets is None else secrets,
        signing_keys=[CURRENT_KEY] if signing_keys is None else signing_keys,
        policy=policy,
        verify=verify,
    )


# --- signature, idempotency key, arguments --------------------------------------------------------


async def test_a_post_is_signed_and_carries_the_idempotency_key(endpoint: Endpoint) -> None:
    key = _key()

    result = await _call(HttpToolConfig(url=endpoint.url("/verified")), {"city": "Paris", "days": 3}, key=key)

    assert result == {"ok": True, "arguments": {"city": "Paris", "days": 3}, "key": key}
    [request] = endpoint.requests_with(key)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers[KEY_ID_HEADER.lower()] == "key_current"
    assert json.loads(request.body) == {"city": "Paris", "days": 3}
    assert request.signed_by(RECEIVER_SECRETS["current"])
    assert not request.signed_by(b"some-other-secret")


async def test_an_unsigned_call_is_refused_by_a_verifying_receiver(endpoint: Endpoint) -> None:
    with pytest.raises(ModelRetry, match="HTTP 401") as raised:
        await _call(HttpToolConfig(url=endpoint.url("/verified")), {"a": 1}, signing_keys=[])

    assert "bad signature" in raised.value.message


async def test_during_a_key_rotation_a_receiver_with_either_key_verifies(endpoint: Endpoint) -> None:
    for receiver_holds in ("current", "old"):
        key = _key()
        config = HttpToolConfig(url=endpoint.url(f"/verified?key={receiver_holds}"))

        result = await _call(config, {"n": 1}, key=key, signing_keys=[CURRENT_KEY, OLD_KEY])

        assert result["ok"] is True
        [request] = endpoint.requests_with(key)
        assert request.headers[SIGNATURE_HEADER.lower()].count("v1=") == 2
        assert request.headers[KEY_ID_HEADER.lower()] == "key_current,key_old"
        assert request.signed_by(RECEIVER_SECRETS["current"]) and request.signed_by(RECEIVER_SECRETS["old"])


async def test_a_receiver_holding_only_the_new_key_refuses_a_request_signed_with_the_old(
    endpoint: Endpoint,
) -> None:
    with pytest.raises(ModelRetry, match="HTTP 401"):
        await _call(HttpToolConfig(url=endpoint.url("/verified?key=current")), {}, signing_keys=[OLD_KEY])


async def test_a_get_sends_the_arguments_as_query_parameters(endpoint: Endpoint) -> None:
    key = _key()
    arguments = {
        "q": "café & co",
        "limit": 3,
        "ratio": 0.5,
        "exact": True,
        "tags": ["a", "b"],
        "skip": None,
        "filter": {"since": 2024},
    }

    await _call(HttpToolConfig(method="GET", url=endpoint.url("/record?fixed=1")), arguments, key=key)

    [request] = endpoint.requests_with(key)
    assert request.method == "GET"
    assert request.body == b""
    assert "content-type" not in request.headers
    assert request.query == {
        "fixed": ["1"],
        "q": ["café & co"],
        "limit": ["3"],
        "ratio": ["0.5"],
        "exact": ["true"],
        "tags": ["a", "b"],
        "filter": ['{"since":2024}'],
    }
    # Without a body, the signature covers the timestamp and an empty body.
    assert request.signed_by(RECEIVER_SECRETS["current"])


@pytest.mark.parametrize(("method", "in_query"), [("DELETE", True), ("PUT", False), ("PATCH", False)])
async def test_each_method_puts_the_arguments_where_it_should(
    endpoint: Endpoint, method: str, in_query: bool
) -> None:
    key = _key()

    await _call(HttpToolConfig(method=method.lower(), url=endpoint.url("/record")), {"id": "x1"}, key=key)

    [request] = endpoint.requests_with(key)
    assert request.method == method
    if in_query:
        assert (request.query, request.body) == ({"id": ["x1"]}, b"")
    else:
        assert (request.query, json.loads(request.body)) == ({}, {"id": "x1"})


async def test_head_returns_a_sentence_for_the_empty_body(endpoint: Endpoint) -> None:
    result = await _call(HttpToolConfig(method="HEAD", url=endpoint.url("/text")))

    assert result == "The endpoint answered HTTP 200 with an empty body."


async def test_an_unsupported_method_is_a_configuration_error(endpoint: Endpoint) -> None:
    with pytest.raises(HttpToolConfigError, match="not 'TRACE'"):
        await _call(HttpToolConfig(method="TRACE", url=endpoint.url("/record")))


# --- secrets in headers ---------------------------------------------------------------------------


async def test_secrets_are_rendered_into_headers(endpoint: Endpoint) -> None:
    key = _key()
    config = HttpToolConfig(
        url=endpoint.url("/record"),
        headers={
            "Authorization": "Bearer {{secrets.API_TOKEN}}",
            "X-Team": "{{ secrets.TEAM }}/static",
            "X-Plain": "no secrets here",
        },
    )

    await _call(config, {}, key=key)

    [request] = endpoint.requests_with(key)
    assert request.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert request.headers["x-team"] == "team-42/static"
    assert request.headers["x-plain"] == "no secrets here"


async def test_a_missing_secret_is_a_clear_error_and_nothing_is_sent(endpoint: Endpoint) -> None:
    key = _key()
    config = HttpToolConfig(url=endpoint.url("/record"), headers={"X-Key": "{{secrets.NOT_SET}}"})

    with pytest.raises(HttpToolConfigError, match="uses the secret NOT_SET, which is not set"):
        await _call(config, {}, key=key)

    assert endpoint.requests_with(key) == []


@pytest.mark.parametrize(
    ("headers", "secrets", "message_part"),
    [
        ({"X-Key": "{{secrets.EVIL}}"}, {"EVIL": "abc\r\nX-Injected: 1"}, "line break"),
        ({"X-Key": "{{secrets.EVIL}}"}, {"EVIL": "abc\nX-Injected: 1"}, "line break"),
        ({"X-Key": "a\r\nX-Injected: 1"}, {}, "line break"),
        ({"X-Key": "naïve"}, {}, "non-ASCII"),
        ({"Bad Header": "x"}, {}, "not a valid HTTP header name"),
        ({"X-Bad\r\nX-Injected": "x"}, {}, "not a valid HTTP header name"),
        ({"Host": "internal.example"}, {}, "set by Agent Runtime"),
        ({"Idempotency-Key": "mine"}, {}, "set by Agent Runtime"),
        ({"Agent-Runtime-Signature": "v1=forged"}, {}, "set by Agent Runtime"),
        ({"content-type": "text/plain"}, {}, "set by Agent Runtime"),
        ({"X-A": "1", "x-a": "2"}, {}, "declared twice"),
        ({"X-Key": "{{env.HOME}}"}, {}, "placeholder other than"),
        ({"X-Key": "{{secrets.}}"}, {}, "placeholder other than"),
    ],
)
def test_malformed_or_reserved_headers_are_refused(
    headers: dict[str, str], secrets: dict[str, str], message_part: str
) -> None:
    with pytest.raises(HttpToolConfigError) as raised:
        render_headers(headers, secrets)

    assert message_part in str(raised.value)
    assert "abc" not in str(raised.value)  # a secret's value is never quoted


def test_rendered_headers_do_not_show_their_values() -> None:
    rendered = render_headers({"Authorization": "Bearer {{secrets.API_TOKEN}}"}, SECRETS)

    assert API_TOKEN not in repr(rendered)
    assert rendered.sensitive == frozenset({"authorization"})


async def test_a_secret_echoed_by_the_server_never_reaches_the_model_or_the_log(
    endpoint: Endpoint, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    config = HttpToolConfig(
        url=endpoint.url("/echo-headers-error"),
        headers={"Authorization": "Bearer {{secrets.API_TOKEN}}"},
        retry=HttpRetryConfig(max_attempts=2, retry_on_status=[500]),
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(ModelRetry) as raised:
        await _call(config, {"x": 1})

    message = raised.value.message
    assert "HTTP 500" in message and "after 2 attempts" in message
    assert "authorization: Bearer [redacted]" in message  # the echo is there, scrubbed
    assert API_TOKEN not in message
    assert "retrying" in caplog.text and API_TOKEN not in caplog.text


# --- retries --------------------------------------------------------------------------------------


async def test_an_idempotent_get_is_retried_with_the_same_key_and_fresh_signatures(
    endpoint: Endpoint, sleeps: list[float]
) -> None:
    key, flaky_id = _key(), uuid.uuid4().hex
    clock = iter([1_800_000_000.0, 1_800_000_007.0, 1_800_000_014.0])

    result = await call_http_tool(
        HttpToolConfig(method="GET", url=endpoint.url(f"/flaky?id={flaky_id}&fail=2&status=503")),
        {},
        idempotency_key=key,
        secrets={},
        signing_keys=[CURRENT_KEY],
        policy=LOCAL,
        now=lambda: next(clock),
    )

    assert result == {"attempt": 3}
    requests = endpoint.requests_with(key)
    assert len(requests) == 3
    assert [request.headers[TIMESTAMP_HEADER.lower()] for request in requests] == [
        "1800000000",
        "1800000007",
        "1800000014",
    ]
    assert all(request.signed_by(RECEIVER_SECRETS["current"]) for request in requests)
    assert sleeps == [1.0, 2.0]  # HttpRetryConfig's defaults: 1 s, doubling


async def test_a_post_is_not_retried_by_default(endpoint: Endpoint, sleeps: list[float]) -> None:
    key = _key()
    config = HttpToolConfig(url=endpoint.url(f"/flaky?id={uuid.uuid4().hex}&fail=1&status=503"))

    with pytest.raises(ModelRetry) as raised:
        await _call(config, {"order": 1}, key=key)

    assert len(endpoint.requests_with(key)) == 1
    assert sleeps == []
    assert raised.value.message == (
        f"POST {endpoint.url('/flaky')} answered HTTP 503 Service Unavailable: try later."
    )


async def test_a_declared_retry_policy_is_honoured_for_a_post(
    endpoint: Endpoint, sleeps: list[float]
) -> None:
    key = _key()
    config = HttpToolConfig(
        url=endpoint.url(f"/flaky?id={uuid.uuid4().hex}&fail=1&status=503"),
        retry=HttpRetryConfig(max_attempts=3, initial_interval_s=0.25, backoff=3.0),
    )

    result = await _call(config, {"order": 1}, key=key)

    assert result == {"attempt": 2}
    requests = endpoint.requests_with(key)
    assert len(requests) == 2
    assert requests[0].body == requests[1].body == b'{"order":1}'
    assert sleeps == [0.25]


async def test_backoff_grows_and_is_capped_and_retry_after_is_honoured(
    endpoint: Endpoint, sleeps: list[float]
) -> None:
    config = HttpToolConfig(
        url=endpoint.url(f"/flaky?id={uuid.uuid4().hex}&fail=9&status=429&retry_after=4"),
        retry=HttpRetryConfig(max_attempts=4, initial_interval_s=0.5, backoff=10.0, max_interval_s=6.0),
    )

    with pytest.raises(ModelRetry, match=r"HTTP 429 Too Many Requests: try later \(after 4 attempts\)"):
        await _call(config)

    # 0.5 s raised to Retry-After's 4 s; then 5 s; then 50 s capped at 6 s.
    assert sleeps == [4.0, 5.0, 6.0]


async def test_a_status_outside_retry_on_status_is_final(endpoint: Endpoint, sleeps: list[float]) -> None:
    key = _key()
    config = HttpToolConfig(
        method="GET",
        url=endpoint.url("/status?code=404&body=no+such+customer"),
        retry=HttpRetryConfig(max_attempts=3),
    )

    with pytest.raises(ModelRetry) as raised:
        await _call(config, key=key)

    assert (
        raised.value.message
        == f"GET {endpoint.url('/status')} answered HTTP 404 Not Found: no such customer."
    )
    assert len(endpoint.requests_with(key)) == 1 and sleeps == []


async def test_the_operator_caps_the_attempts(endpoint: Endpoint, sleeps: list[float]) -> None:
    key = _key()
    config = HttpToolConfig(
        url=endpoint.url(f"/flaky?id={uuid.uuid4().hex}&fail=9"), retry=HttpRetryConfig(max_attempts=50)
    )

    with pytest.raises(ModelRetry, match="after 2 attempts"):
        await _call(config, key=key, policy=LOCAL.model_copy(update={"max_attempts": 2}))

    assert len(endpoint.requests_with(key)) == 2


async def test_connection_errors_are_retried_for_idempotent_methods(sleeps: list[float]) -> None:
    # Port 1 on loopback: nothing listens there in a test environment.
    with pytest.raises(
        ModelRetry, match=r"GET http://127\.0\.0\.1:1/x failed: ConnectError.*after 3 attempts"
    ):
        await _call(HttpToolConfig(method="GET", url="http://127.0.0.1:1/x"))

    assert sleeps == [1.0, 2.0]


async def test_a_slow_endpoint_times_out(endpoint: Endpoint) -> None:
    started = time.perf_counter()

    with pytest.raises(ModelRetry, match=r"did not answer within 0\.3 seconds\.$"):
        await _call(HttpToolConfig(url=endpoint.url("/slow?seconds=3"), timeout_s=0.3))

    assert time.perf_counter() - started < 1.5


async def test_the_operator_caps_the_timeout(endpoint: Endpoint) -> None:
    policy = LOCAL.model_copy(update={"max_timeout_s": 0.3})

    with pytest.raises(ModelRetry, match=r"within 0\.3 seconds"):
        await _call(HttpToolConfig(url=endpoint.url("/slow?seconds=3"), timeout_s=120), policy=policy)


def test_attempts_and_the_worst_case_duration() -> None:
    get = HttpToolConfig(method="get", url="https://example.com/", timeout_s=5)
    post = HttpToolConfig(url="https://example.com/", timeout_s=5)
    declared = post.model_copy(update={"retry": HttpRetryConfig(max_attempts=4, max_interval_s=3.0)})
    policy = HttpToolPolicy(max_timeout_s=4)

    assert [effective_attempts(config, policy) for config in (get, post, declared)] == [3, 1, 4]
    assert max_call_duration_s(get, policy) == 3 * 4 + 1 + 2
    assert max_call_duration_s(post, policy) == 4
    assert max_call_duration_s(declared, policy) == 4 * 4 + 1 + 2 + 3


# --- responses ------------------------------------------------------------------------------------


async def test_a_text_response_is_returned_as_text(endpoint: Endpoint) -> None:
    assert await _call(HttpToolConfig(method="GET", url=endpoint.url("/text"))) == "plain wörds"


async def test_an_untyped_json_response_is_parsed(endpoint: Endpoint) -> None:
    assert await _call(HttpToolConfig(method="GET", url=endpoint.url("/untyped-json"))) == {"untyped": True}


async def test_an_empty_response_is_described(endpoint: Endpoint) -> None:
    assert await _call(HttpToolConfig(url=endpoint.url("/empty"))) == (
        "The endpoint answered HTTP 204 with an empty body."
    )


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
async def test_a_response_over_the_cap_is_truncated_with_a_marker(
    endpoint: Endpoint, content_type: str
) -> None:
    config = HttpToolConfig(
        method="GET", url=endpoint.url(f"/bytes?n=50000&type={content_type}"), max_response_bytes=100
    )

    result = await _call(config)

    assert result == "a" * 100 + "\n[truncated: the response was longer than 100 bytes]"


async def test_the_operator_caps_the_response_size(endpoint: Endpoint) -> None:
    policy = LOCAL.model_copy(update={"max_response_bytes": 10})

    result = await _call(HttpToolConfig(method="GET", url=endpoint.url("/bytes?n=1000")), policy=policy)

    assert result == "a" * 10 + "\n[truncated: the response was longer than 10 bytes]"


# --- the SSRF guard -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_endpoint_is_refused_unless_private_networks_are_allowed(
    endpoint: Endpoint, host: str
) -> None:
    key = _key()
    config = HttpToolConfig(url=endpoint.url("/verified", host=host))

    with pytest.raises(ModelRetry, match=r"Refusing to call .*non-public address"):
        await _call(config, key=key, policy=HttpToolPolicy(require_https=False))

    assert endpoint.requests_with(key) == []
    assert (await _call(config, key=key))["ok"] is True  # LOCAL allows private networks


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
async def test_every_redirect_target_is_checked(endpoint: Endpoint, target: str) -> None:
    # Private networks are allowed, so the first hop is; cloud metadata never is.
    with pytest.raises(ModelRetry, match="Refusing"):
        await _call(HttpToolConfig(url=endpoint.url(f"/redirect?code=307&to={target}")))


async def test_a_redirect_to_a_private_address_is_refused_when_only_the_first_hop_is_checked_public(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 127.0.0.1 is public, so the first hop passes; its redirect to 10.0.0.1 must not.
    from agent_runtime_worker.tools import _safe_http

    real = _safe_http.is_public_address
    monkeypatch.setattr(
        _safe_http, "is_public_address", lambda address: str(address) == "127.0.0.1" or real(address)
    )
    key = _key()

    with pytest.raises(
        ModelRetry, match=r"Refusing to call http://10\.0\.0\.1/admin: 10\.0\.0\.1 is a private"
    ):
        await _call(
            HttpToolConfig(url=endpoint.url("/redirect?code=307&to=http://10.0.0.1/admin")),
            key=key,
            policy=HttpToolPolicy(require_https=False),
        )

    assert len(endpoint.requests_with(key)) == 1  # the first hop only


async def test_too_many_redirects_are_refused(endpoint: Endpoint) -> None:
    policy = LOCAL.model_copy(update={"max_redirects": 0})

    with pytest.raises(ModelRetry, match="redirected more than 0 times"):
        await _call(HttpToolConfig(url=endpoint.url("/redirect?to=/verified")), policy=policy)


async def test_a_307_keeps_method_body_and_signature_on_the_same_origin(endpoint: Endpoint) -> None:
    key = _key()

    result = await _call(
        HttpToolConfig(url=endpoint.url("/redirect?code=307&to=/verified")), {"n": 7}, key=key
    )

    assert result == {"ok": True, "arguments": {"n": 7}, "key": key}  # the receiver verified it
    assert [request.method for request in endpoint.requests_with(key)] == ["POST", "POST"]


async def test_a_303_continues_as_a_get_without_the_body(endpoint: Endpoint) -> None:
    key = _key()

    await _call(HttpToolConfig(url=endpoint.url("/redirect?code=303&to=/record")), {"n": 7}, key=key)

    first, second = endpoint.requests_with(key)
    assert (first.method, second.method) == ("POST", "GET")
    assert second.body == b"" and "content-type" not in second.headers


async def test_secret_headers_and_the_signature_are_not_sent_to_another_origin(endpoint: Endpoint) -> None:
    key = _key()
    other_origin = endpoint.url("/record", host="localhost")
    config = HttpToolConfig(
        url=endpoint.url(f"/redirect?code=307&to={other_origin}"),
        headers={
            "Authorization": "Bearer {{secrets.API_TOKEN}}",
            "X-Team": "{{secrets.TEAM}}",
            "X-Plain": "kept",
            "Cookie": "session=1",
        },
    )

    await _call(config, {"n": 1}, key=key)

    first, second = endpoint.requests_with(key)
    assert first.host == f"127.0.0.1:{endpoint.port}" and second.host == f"localhost:{endpoint.port}"
    assert {"authorization", "x-team", "cookie", SIGNATURE_HEADER.lower()} <= first.headers.keys()
    assert not {"authorization", "x-team", "cookie", SIGNATURE_HEADER.lower()} & second.headers.keys()
    assert second.headers["x-plain"] == "kept"
    assert json.loads(second.body) == {"n": 1}


# --- HTTPS ----------------------------------------------------------------------------------------


async def test_https_endpoint_verifies_our_signature(https_endpoint: Endpoint, test_ca: ThrowawayCA) -> None:
    key = _key()
    policy = HttpToolPolicy(allow_private_networks=True)  # require_https stays on

    result = await _call(
        HttpToolConfig(url=https_endpoint.url("/verified", host="localhost")),
        {"secure": True},
        key=key,
        policy=policy,
        verify=test_ca.client_context(),
    )

    assert result == {"ok": True, "arguments": {"secure": True}, "key": key}


async def test_an_untrusted_certificate_is_refused_without_retrying(
    https_endpoint: Endpoint, sleeps: list[float]
) -> None:
    with pytest.raises(ModelRetry, match=r"CERTIFICATE_VERIFY_FAILED.*\.$") as raised:
        await _call(HttpToolConfig(method="GET", url=https_endpoint.url("/verified")), policy=LOCAL)

    assert "attempts" not in raised.value.message and sleeps == []


async def test_require_https_refuses_an_http_endpoint(endpoint: Endpoint) -> None:
    key = _key()

    with pytest.raises(ModelRetry, match=r"only https:// URLs are allowed"):
        await _call(
            HttpToolConfig(url=endpoint.url("/verified")),
            key=key,
            policy=HttpToolPolicy(allow_private_networks=True),
        )

    assert endpoint.requests_with(key) == []


async def test_require_https_refuses_a_redirect_to_http(
    endpoint: Endpoint, https_endpoint: Endpoint, test_ca: ThrowawayCA
) -> None:
    key = _key()
    downgrade = endpoint.url("/record")

    with pytest.raises(ModelRetry, match=r"Refusing .*only https:// URLs are allowed"):
        await _call(
            HttpToolConfig(url=https_endpoint.url(f"/redirect?code=307&to={downgrade}", host="localhost")),
            key=key,
            policy=HttpToolPolicy(allow_private_networks=True),
            verify=test_ca.client_context(),
        )

    assert len(https_endpoint.requests_with(key)) == 1 and endpoint.requests_with(key) == []


async def test_the_signature_does_not_follow_a_redirect_to_another_origin(
    endpoint: Endpoint, https_endpoint: Endpoint, test_ca: ThrowawayCA
) -> None:
    # http -> https on another port is another origin: the receiver there gets no signature (it
    # could replay it to the declared endpoint), so one that verifies refuses the call.
    key = _key()
    upgrade = https_endpoint.url("/verified", host="localhost")

    with pytest.raises(ModelRetry, match="HTTP 401"):
        await _call(
            HttpToolConfig(url=endpoint.url(f"/redirect?code=308&to={upgrade}")),
            {"up": 1},
            key=key,
            verify=test_ca.client_context(),
        )

    [arrived] = https_endpoint.requests_with(key)
    assert SIGNATURE_HEADER.lower() not in arrived.headers
    assert (arrived.method, json.loads(arrived.body)) == ("POST", {"up": 1})


@pytest.mark.parametrize(
    "overrides",
    [{"max_timeout_s": 0}, {"max_response_bytes": 0}, {"max_redirects": -1}, {"max_attempts": 0}, {"x": 1}],
)
def test_the_policy_rejects_invalid_limits(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HttpToolPolicy.model_validate(overrides)
