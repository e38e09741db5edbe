"""Helpers shared by the worker's tests (test modules import from here, not from each other)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.models import Agent, AgentVersion, Run
from agent_runtime_core.repositories import RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.dependencies import WorkerDependencies

from .fake_llm import FakeLLM

HISTORIES = Path(__file__).parent / "histories"
"""Saved workflow histories, replayed by test_replay.py."""


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
        await RunRepository(session, tenant_id).create(run, {})
    return run_id


FAST_RETRIES: dict[str, Any] = {
    "model_retry_max_attempts": 3,
    "model_retry_initial_interval_s": 0.05,
    "model_retry_backoff": 1.0,
    "model_retry_max_interval_s": 3.0,
    "model_request_timeout_s": 1.0,
    "breaker_failure_threshold": 1000,  # breakers are tested in test_circuit_breakers.py
}


def provider_settings(worker_settings: Settings, fake: FakeLLM, **overrides: Any) -> Settings:
    """Worker settings whose `openai:`, `anthropic:` and `openai-compatible:` models reach ``fake``."""
    return worker_settings.model_copy(
        update={
            "openai_api_key": SecretStr("sk-test"),
            "openai_api_base_url": fake.openai_base_url,
            "anthropic_api_key": SecretStr("sk-ant-test"),
            "anthropic_base_url": fake.anthropic_base_url,
            "openai_base_url": fake.openai_base_url,
            **FAST_RETRIES,
            **overrides,
        }
    )
