"""A real HTTP(S) server on 127.0.0.1 for the http_get tests; nothing here touches the internet."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

UTF8_BODY = "héllo wörld ✓".encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # Names the TLS client asked for (SNI), recorded by the SSL context's callback.
    server_names_seen: list[str | None]

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients in these tests hang up on purpose (truncation, timeouts); that is not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parsed = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parsed.query).items()}
        with suppress(BrokenPipeError, ConnectionResetError):
            self._route(parsed.path, query)

    def _route(self, path: str, query: dict[str, str]) -> None:
        if path == "/text":
            self._send(200, b"hello, world", "text/plain; charset=utf-8")
        elif path == "/echo-host":
            self._send(200, (self.headers["Host"] or "").encode(), "text/plain")
        elif path == "/echo-headers":
            body = "\n".join(f"{key.lower()}: {value}" for key, value in self.headers.items())
            self._send(200, body.encode(), "text/plain")
        elif path == "/bytes":
            self._send(200, b"a" * int(query["n"]), "text/plain")
        elif path == "/utf8":
            self._send(200, UTF8_BODY, "text/plain; charset=utf-8")
        elif path == "/latin1":
            self._send(200, "café".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif path == "/not-found":
            self._send(404, b"no such page", "text/plain")
        elif path == "/redirect":
            self._redirect(query["to"])
        elif path.startswith("/chain/"):
            remaining = int(path.removeprefix("/chain/"))
            self._redirect("/text" if remaining == 0 else f"/chain/{remaining - 1}")
        elif path == "/slow":
            time.sleep(float(query.get("seconds", "2")))
            self._send(200, b"finally", "text/plain")
        elif path == "/drip":
            # Sends a byte at a time: every read is quick, only the whole transfer is slow.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        else:
            self._send(404, b"unknown test route", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class LocalServer:
    """A running test server."""

    port: int
    scheme: str
    server_names_seen: list[str | None] = field(default_factory=list[str | None])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


@contextmanager
def _serve(ssl_context: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.server_names_seen = []
    local = LocalServer(
        port=server.server_address[1],
        scheme="https" if ssl_context else "http",
        server_names_seen=server.server_names_seen,
    )
    if ssl_context is not None:

        def record_server_name(
            _socket: ssl.SSLObject | ssl.SSLSocket, name: str | None, _context: ssl.SSLContext
        ) -> None:
            server.server_names_seen.append(name)

        ssl_context.sni_callback = record_server_name
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield local
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def http_server() -> Iterator[LocalServer]:
    """A plain HTTP server on 127.0.0.1."""
    with _serve() as server:
        yield server


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A self-signed certificate, its key, and a client context that trusts it."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))


def _make_certificate(directory: Path, dns_name: str) -> SelfSignedCertificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert_path, key_path = directory / f"{dns_name}.crt", directory / f"{dns_name}.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", f"/CN={dns_name}",
            "-keyout", str(key_path), "-out", str(cert_path),
            "-addext", f"subjectAltName=DNS:{dns_name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext", "extendedKeyUsage=serverAuth",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return SelfSignedCertificate(cert_path=cert_path, key_path=key_path)


@pytest.fixture(scope="session")
def localhost_certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    """A certificate valid for the name `localhost` only (no IP address in it)."""
    return _make_certificate(tmp_path_factory.mktemp("tls"), "localhost")


@pytest.fixture(scope="session")
def https_server(localhost_certificate: SelfSignedCertificate) -> Iterator[LocalServer]:
    """An HTTPS server on 127.0.0.1 presenting the `localhost` certificate."""
    with _serve(localhost_certificate.server_context()) as server:
        yield server


@pytest.fixture(scope="session")
def other_name_certificate(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    """A certificate valid for the name `other.test` only."""
    return _make_certificate(tmp_path_factory.mktemp("tls-other"), "other.test")


@pytest.fixture(scope="session")
def other_name_https_server(other_name_certificate: SelfSignedCertificate) -> Iterator[LocalServer]:
    """An HTTPS server on 127.0.0.1 presenting the `other.test` certificate."""
    with _serve(other_name_certificate.server_context()) as server:
        yield server
