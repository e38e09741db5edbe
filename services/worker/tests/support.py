"""Helpers shared by the worker's tests (test modules import from here, not from each other)."""

from __future__ import annotations

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.models import Agent, AgentVersion, Run
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.dependencies import WorkerDependencies


def worker_dependencies(database: Database, settings: Settings | None = None) -> WorkerDependencies:
    """The dependencies a worker with ``settings`` (default: no Redis) would hand its activities."""
    return WorkerDependencies.open(settings or Settings(redis_url=""), database)


async def new_run(database: Database, tenant_id: str, text: str = "x") -> str:
    """A queued run (with its agent and version) written straight to the database."""
    agent_id, run_id = new_agent_id(), new_run_id()
    async with session_scope(database, tenant_id) as session:
        session.add(Agent(id=agent_id, tenant_id=tenant_id, name=agent_id, latest_version=1))
        await session.flush()
        session.add(AgentVersion(agent_id=agent_id, version=1, tenant_id=tenant_id, model="builtin:scripted"))
        await session.flush()
        run = Run(
            id=run_id,
            tenant_id=tenant_id,
            agent_id=agent_id,
            agent_version=1,
            input=text,
            workflow_id=f"run-{run_id}",
        )
        await RunRepository(session, tenant_id).add(run)
        await RunEventRepository(session, tenant_id).append(run, "run.queued", {})
    return run_id
