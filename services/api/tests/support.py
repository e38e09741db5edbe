"""Helpers shared by the API tests (fixtures live in ``conftest.py``). Test modules import from
here, never from each other."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from jwt.algorithms import RSAAlgorithm

from agent_runtime_api.deps import get_principal, get_stream_options
from agent_runtime_api.main import create_app
from agent_runtime_api.services.api_keys import ApiKeyService
from agent_runtime_api.services.streams import StreamOptions
from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.settings import Settings

VERSION = {"model": "builtin:scripted", "instructions": "Be brief.", "tools": [{"name": "calculator"}]}
"""A valid version body: the offline scripted model with the calculator."""

TERMINAL_STATUSES = {"succeeded", "failed", "cancelled", "timed_out"}
TERMINAL_EVENTS = {"run.succeeded", "run.failed", "run.cancelled", "run.timed_out"}

TEST_SECRETS_KEYS = {"test-1": "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="}
"""A fixed key-encryption key for tool secrets (32 bytes, test only)."""
SECRETS_SETTINGS = {"secrets_keys": TEST_SECRETS_KEYS, "secrets_active_key_id": "test-1"}
"""Settings of the tests' secrets encryption; a test may override them (``secrets_keys={}``)."""

FAST_STREAMS = StreamOptions(keepalive_s=0.3, poll_interval_s=0.05, reconcile_interval_s=0.3)
"""Stream timings short enough for tests."""


# ------------------------------------------------------------------------------------- apps


def build_app(database_url: str, tenant_id: str, **overrides: object) -> FastAPI:
    """The API app as a tenant of its own sees it."""
    settings = Settings.model_validate(
        {"database_url": database_url, "database_pool_size": 3, **SECRETS_SETTINGS, **overrides}
    )
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    return app


def build_authenticating_app(database_url: str, **overrides: object) -> FastAPI:
    """The API app with its real authentication (API keys, and OIDC when configured)."""
    settings = Settings.model_validate(
        {"database_url": database_url, "database_pool_size": 3, **SECRETS_SETTINGS, **overrides}
    )
    return create_app(settings)


def stream_app(settings: Settings, tenant_id: str) -> FastAPI:
    """The API with fast streams; the tenant is ours unless the request names another
    (``X-Test-Tenant``)."""
    app = create_app(settings)

    def principal(request: Request) -> Principal:
        return Principal(tenant_id=request.headers.get("x-test-tenant", tenant_id), subject="test")

    app.dependency_overrides[get_principal] = principal
    app.dependency_overrides[get_stream_options] = lambda: FAST_STREAMS
    return app


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The API with its real authentication and fast streams, served by uvicorn on a free port
    (for real clients: the LangGraph SDKs, a browser); its base URL."""
    app = create_app(settings)
    app.dependency_overrides[get_stream_options] = lambda: FAST_STREAMS
    port = find_free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def skip_or_fail(message: str) -> None:
    """Skip a test for a missing tool (Node, Chromium), except under CI (``CI`` set): fail there."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


async def open_client(app: FastAPI) -> AsyncGenerator[httpx.AsyncClient]:
    """An HTTP client over ASGI with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def client_for(
    database_url: str, tenant_id: str, **settings: object
) -> AsyncGenerator[httpx.AsyncClient]:
    """A client of an API of ``tenant_id`` without Temporal, with these settings."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", **settings)
    async for client in open_client(app):
        yield client


async def issue_api_key(
    database: Database,
    tenant_id: str,
    roles: Iterable[str],
    *,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    name: str = "test",
) -> tuple[str, str]:
    """Store an API key of ``tenant_id`` straight in the database; return its id and token."""
    async with session_scope(database, tenant_id) as session:
        key, token = await ApiKeyService(session, tenant_id).issue(
            name=name, roles=roles, scopes=scopes, created_by="test", expires_at=expires_at
        )
    return key.id, token


# -------------------------------------------------------------------------------- responses


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check ``response`` is a problem+json with this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# ---------------------------------------------------------------------------- agents, runs


async def create_agent(api: httpx.AsyncClient, name: str = "support-bot", **extra: Any) -> dict[str, Any]:
    """Create an agent called ``name``; return it."""
    response = await api.post("/v1/agents", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def make_agent(api: httpx.AsyncClient, **version: Any) -> str:
    """Create an agent with a first version of the scripted model; return its id."""
    body = {"name": f"agent-{time.monotonic_ns()}", "version": {"model": "builtin:scripted", **version}}
    response = await api.post("/v1/agents", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def start_run(api: httpx.AsyncClient, agent_id: str, text: str) -> str:
    """Start a run of ``agent_id`` with ``text``; return its id."""
    response = await api.post("/v1/runs", json={"agent_id": agent_id, "input": text})
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def wait_for_status(
    api: httpx.AsyncClient, run_id: str, statuses: set[str], timeout_s: float = 30
) -> dict[str, Any]:
    """Poll the run until its status is one of ``statuses``; return it."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run stuck in {run['status']}: {run}")
        await asyncio.sleep(0.05)


async def events_of(api: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    """The run's recorded events."""
    return (await api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()["data"]


async def pending_approvals(
    api: httpx.AsyncClient, run_id: str, count: int, timeout_s: float = 20
) -> list[dict[str, Any]]:
    """Poll until the run has ``count`` pending approvals; return them."""
    deadline = time.monotonic() + timeout_s
    while True:
        approvals = (await api.get(f"/v1/runs/{run_id}/approvals")).json()["data"]
        pending = [a for a in approvals if a["status"] == "pending"]
        if len(pending) >= count:
            return pending
        assert time.monotonic() < deadline, approvals
        await asyncio.sleep(0.05)


class StreamCutter:
    """A TCP proxy in front of the API that drops one streaming response in the middle.

    Every connection is forwarded as is, except the first response to a request whose first line
    contains ``cut_request``: it is cut (both sockets closed) once ``after_ids`` SSE ``id:`` lines
    went through, halfway into the next event, the way a proxy timeout or a lost Wi-Fi cuts a
    stream. With ``mid_group``, the cut waits until the last id sent is a part's
    (``<seq>.<index>``): the client has some parts of an event and not the others.
    ``requests`` records the first line and the ``Last-Event-ID`` of every request."""

    def __init__(self, upstream: str, cut_request: bytes, after_ids: int, *, mid_group: bool = False) -> None:
        url = httpx.URL(upstream)
        self.host, self.port = url.host, url.port or 80
        self.cut_request, self.after_ids, self.mid_group = cut_request, after_ids, mid_group
        self.cuts = 0
        self.requests: list[tuple[str, str | None]] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> StreamCutter:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection(self.host, self.port)
        armed = asyncio.Event()

        async def requests() -> None:
            while data := await client_r.read(65536):
                for head in re.findall(rb"(?m)^(?:GET|POST|PUT|PATCH|DELETE) [^\r\n]*", data):
                    found = re.search(rb"(?im)^last-event-id: *([^\r\n]*)", data)
                    self.requests.append((head.decode(), found.group(1).decode() if found else None))
                    if self.cut_request in head and self.cuts == 0:
                        armed.set()
                upstream_w.write(data)
                await upstream_w.drain()

        async def responses() -> None:
            seen, last_id = 0, b""
            while data := await upstream_r.read(65536):
                if armed.is_set() and self.cuts == 0:
                    for found in re.finditer(rb"(?m)^id: *([^\r\n]*)", data):
                        seen += 1
                        ready = seen > self.after_ids and (not self.mid_group or b"." in last_id)
                        last_id = found.group(1)
                        if ready:  # the start of an event: send half of it
                            self.cuts += 1
                            client_w.write(data[: found.start() + 12])
                            await client_w.drain()
                            return
                client_w.write(data)
                await client_w.drain()

        pump = asyncio.ensure_future(requests())
        try:
            await responses()
        finally:
            pump.cancel()
            for writer in (client_w, upstream_w):
                writer.close()


# --------------------------------------------------------------------------- OpenID provider

OIDC_PROVIDER_DIR = Path(__file__).parent / "oidc"
OIDC_AUDIENCE = "https://api.agent-runtime.test"
"""The audience (resource indicator) the test provider mints access tokens for."""


@dataclass(frozen=True)
class OidcProvider:
    """The running test provider (npm ``oidc-provider``) and the private key it signs with."""

    issuer: str
    private_key: rsa.RSAPrivateKey
    kid: str

    def sign(
        self, claims: dict[str, Any], *, kid: str | None = None, key: rsa.RSAPrivateKey | None = None
    ) -> str:
        """A token signed RS256 by the provider's key (or ``key``), as the provider would."""
        headers = {"kid": kid or self.kid, "typ": "at+jwt"}
        return jwt.encode(claims, key or self.private_key, algorithm="RS256", headers=headers)

    def claims(self, tenant_id: str, **extra: Any) -> dict[str, Any]:
        """Valid claims for ``tenant_id`` with the admin role."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": OIDC_AUDIENCE,
            "sub": "svc-test",
            "iat": now,
            "exp": now + 300,
            "tenant_id": tenant_id,
            "realm_access": {"roles": ["admin"]},
            **extra,
        }


def start_oidc_provider(private_key: rsa.RSAPrivateKey, kid: str) -> Generator[str]:
    """Run ``tests/oidc/provider.mjs`` signing with ``private_key``; yield its issuer URL."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the test OpenID provider (npm oidc-provider)")
    if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OIDC_PROVIDER_DIR,
            check=True,
            timeout=300,
        )
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    process = subprocess.Popen(
        [node, "provider.mjs", OIDC_AUDIENCE],
        cwd=OIDC_PROVIDER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OIDC_TEST_SIGNING_JWK": json.dumps(jwk)},
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the OpenID provider did not start within 30 s"
        line = process.stdout.readline()
        assert line, f"the OpenID provider exited with {process.wait()}"
        yield json.loads(line)["issuer"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
