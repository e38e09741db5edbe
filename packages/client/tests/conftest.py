"""Fixtures of the SDK's tests: one real stack shared by the whole package's tests.

The SDK is tested against the real API served by uvicorn on a free port, with its real
authentication, a real worker on a Temporal dev server, Postgres and Redis (the root conftest's
session servers). Starting them once for the package, not per test, keeps the tests fast; tests
stay apart by what they create (their own agents, runs, threads, names, metadata), and a test
that needs a tenant of its own (rate limits) makes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from agent_runtime_client import AgentRuntime, AsyncAgentRuntime
from agent_runtime_core.db import Database
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings

from .support import FAST_STREAMS, issue_api_key, serve


@dataclass(frozen=True)
class Stack:
    """The served API and the credentials the tests use."""

    url: str
    tenant_id: str
    api_key: str
    """An admin key of ``tenant_id``."""
    operator_key: str
    """An admin key of the operators' tenant (``ten_default``): sets other tenants' limits."""
    database: Database
    settings: Settings
    """The API's and the worker's settings."""


@pytest.fixture(scope="session")
async def stack(
    make_worker_settings: Callable[[str], Settings],
    make_tenant_id: Callable[[], str],
    temporal_env: WorkflowEnvironment,
    database: Database,
    run_worker: Callable[..., contextlib.AbstractAsyncContextManager[Any]],
    s3_settings: dict[str, object],
) -> AsyncGenerator[Stack]:
    """The API (real auth, fast streams) with a worker behind it, for every SDK test; artifacts
    are stored in the session's S3 server (SeaweedFS)."""
    from agent_runtime_api.deps import get_stream_options
    from agent_runtime_api.main import create_app
    from agent_runtime_worker.main import build_worker

    base = make_worker_settings(f"client-sdk-{uuid.uuid4()}")
    settings = Settings.model_validate({**base.model_dump(), **s3_settings})
    async with run_worker(build_worker(temporal_env.client, settings, database)):
        app = create_app(settings)
        app.dependency_overrides[get_stream_options] = lambda: FAST_STREAMS
        async with serve(app) as url:
            tenant_id = make_tenant_id()
            yield Stack(
                url=url,
                tenant_id=tenant_id,
                api_key=await issue_api_key(database, tenant_id, ["admin"]),
                operator_key=await issue_api_key(database, DEFAULT_TENANT_ID, ["admin"]),
                database=database,
                settings=settings,
            )


@pytest.fixture
async def aclient(stack: Stack) -> AsyncGenerator[AsyncAgentRuntime]:
    """An async client of the stack's tenant."""
    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        yield client


@pytest.fixture
async def client(stack: Stack) -> AsyncGenerator[AgentRuntime]:
    """A sync client of the stack's tenant. The server runs on the test's event loop, so tests
    call it from a thread (``await asyncio.to_thread(...)``)."""
    client = AgentRuntime(stack.url, stack.api_key)
    yield client
    await asyncio.to_thread(client.close)


@pytest.fixture(scope="session")
async def calculator_agent(stack: Stack) -> str:
    """One agent shared by the run tests: the scripted model with the calculator."""
    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        agent = await client.agents.create(
            "sdk-calculator", version={"model": "builtin:scripted", "tools": [{"name": "calculator"}]}
        )
    return agent.id


@pytest.fixture(scope="session")
async def approval_agent(stack: Stack) -> str:
    """One agent whose calculator calls need a human's approval."""
    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        agent = await client.agents.create(
            "sdk-careful",
            version={
                "model": "builtin:scripted",
                "tools": [{"name": "calculator", "requires_approval": True}],
            },
        )
    return agent.id
