"""``GET /v1/agents/{agent_id}/status``: idle, processing, waiting, error, counts and last error."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_run_id
from agent_runtime_core.models import Run, RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.temporal import workflow_id_for_run

from .support import client_for, make_agent

ERROR = {"code": "model_error", "message": "the provider said no"}


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    async for client in client_for(database_url, tenant_id):
        yield client


class Runs:
    """Writes runs of one agent straight into Postgres, finished one minute apart."""

    def __init__(self, database: Database, tenant_id: str, agent_id: str) -> None:
        self.database = database
        self.tenant_id = tenant_id
        self.agent_id = agent_id
        self.clock = utcnow() - timedelta(hours=1)

    async def add(self, status: RunStatus, error: dict[str, Any] | None = None) -> str:
        run_id = new_run_id()
        finished = status not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)
        self.clock += timedelta(minutes=1)
        run = Run(
            id=run_id,
            tenant_id=self.tenant_id,
            agent_id=self.agent_id,
            agent_version=1,
            status=status,
            input="hi",
            workflow_id=workflow_id_for_run(run_id),
            error=error,
            finished_at=self.clock if finished else None,
        )
        async with session_scope(self.database, self.tenant_id) as session:
            session.add(run)
        return run_id


async def status_of(api: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/agents/{agent_id}/status")
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_agent_without_runs_is_idle(api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(api)
    assert await status_of(api, agent_id) == {
        "agent_id": agent_id,
        "status": "idle",
        "active_runs": {"queued": 0, "running": 0, "waiting": 0},
        "last_error": None,
    }


async def test_queued_or_running_runs_make_it_processing_with_counts(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    runs = Runs(database, tenant_id, agent_id)
    await runs.add(RunStatus.QUEUED)
    assert (await status_of(api, agent_id))["status"] == "processing"
    await runs.add(RunStatus.QUEUED)
    await runs.add(RunStatus.RUNNING)
    await runs.add(RunStatus.WAITING)
    await runs.add(RunStatus.SUCCEEDED)
    status = await status_of(api, agent_id)
    assert status["status"] == "processing"  # processing wins over waiting
    assert status["active_runs"] == {"queued": 2, "running": 1, "waiting": 1}


async def test_only_waiting_runs_make_it_waiting(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    runs = Runs(database, tenant_id, agent_id)
    await runs.add(RunStatus.FAILED, ERROR)
    await runs.add(RunStatus.WAITING)
    status = await status_of(api, agent_id)
    assert status["status"] == "waiting"
    assert status["active_runs"] == {"queued": 0, "running": 0, "waiting": 1}
    assert status["last_error"]["code"] == "model_error"  # shown whatever the status


async def test_a_last_run_that_failed_makes_it_error_with_the_last_error(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    runs = Runs(database, tenant_id, agent_id)
    await runs.add(RunStatus.SUCCEEDED)
    failed = await runs.add(RunStatus.FAILED, ERROR)
    status = await status_of(api, agent_id)
    assert status["status"] == "error"
    last_error = status["last_error"]
    assert {k: last_error[k] for k in ("run_id", "status", "code", "message")} == {
        "run_id": failed,
        "status": "failed",
        "code": "model_error",
        "message": "the provider said no",
    }
    assert last_error["at"] is not None


async def test_a_timed_out_last_run_is_an_error_too(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    runs = Runs(database, tenant_id, agent_id)
    await runs.add(RunStatus.FAILED, ERROR)
    timed_out = await runs.add(RunStatus.TIMED_OUT, {"code": "timed_out", "message": "over 60 s"})
    status = await status_of(api, agent_id)
    assert status["status"] == "error"
    assert (status["last_error"]["run_id"], status["last_error"]["status"]) == (timed_out, "timed_out")


async def test_a_later_success_or_cancel_makes_it_idle_and_keeps_the_last_error(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    runs = Runs(database, tenant_id, agent_id)
    failed = await runs.add(RunStatus.FAILED, ERROR)
    await runs.add(RunStatus.SUCCEEDED)
    status = await status_of(api, agent_id)
    assert (status["status"], status["last_error"]["run_id"]) == ("idle", failed)
    await runs.add(RunStatus.FAILED, None)  # a row without an error body is read leniently
    assert (await status_of(api, agent_id))["last_error"]["code"] == "error"
    await runs.add(RunStatus.CANCELLED)
    assert (await status_of(api, agent_id))["status"] == "idle"


async def test_another_tenants_or_a_missing_agent_is_a_404(
    api: httpx.AsyncClient, database_url: str, other_tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    async for theirs in client_for(database_url, other_tenant_id):
        response = await theirs.get(f"/v1/agents/{agent_id}/status")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/v1/agents/agt_missing/status")).status_code == 404
