"""API test fixtures: the real app over ASGI, bound to the session's database, or served over
HTTP on a free port (for real clients: the LangGraph SDKs), and Node with ``tests/js``'s packages."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncGenerator, Generator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings

from .support import (
    OidcProvider,
    build_app,
    issue_api_key,
    open_client,
    served,
    skip_or_fail,
    start_oidc_provider,
)


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """A client of an API whose Temporal is unreachable (agents need none)."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")
    async for client in open_client(app):
        yield client


@pytest.fixture
async def runtime_api(
    worker_settings: Settings, running_worker: object, tenant_id: str
) -> AsyncGenerator[httpx.AsyncClient]:
    """The API with a worker behind it."""
    app = create_app(worker_settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    async for client in open_client(app):
        yield client


@pytest.fixture
async def server(worker_settings: Settings, running_worker: object) -> AsyncGenerator[str]:
    """The API with its real authentication, served on a free port, a worker behind it."""
    async with served(worker_settings) as url:
        yield url


@pytest.fixture
async def api_key(database: Database, tenant_id: str) -> str:
    """A real admin API key of the test's tenant."""
    return (await issue_api_key(database, tenant_id, ["admin"]))[1]


JS_DIR = Path(__file__).parent / "js"
"""The JavaScript tests' packages (package.json + package-lock.json) and scripts."""


@pytest.fixture(scope="session")
def node() -> str:
    """``node``, with ``tests/js``'s locked dependencies installed (``npm ci``, once per session)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        skip_or_fail(f"{missing} not found on PATH: install Node 20+ to run the JavaScript tests")
    assert node is not None and npm is not None
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"npm ci in {JS_DIR} failed:\n{installed.stdout}\n{installed.stderr}")
    return node


@pytest.fixture(scope="session")
def provider() -> Generator[OidcProvider]:
    """A real OpenID provider (npm ``oidc-provider``) for the whole session."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = f"test-{uuid.uuid4().hex[:8]}"
    for issuer in start_oidc_provider(private_key, kid):
        yield OidcProvider(issuer=issuer, private_key=private_key, kid=kid)
