"""A deploy while runs wait on humans: build A's workers are replaced by build B's.

Build A is this checkout. Build B (``build_b_worker.py``) is build A with ``http_get`` retired, the
way a real retirement is written (moved from ``BUILTIN_TOOL_NAMES`` to ``RETIRED_TOOLS``); and the
runs are started with inputs carrying fields a newer API adds (a new version field, a new run
field), which build A's workers must ignore. Three runs wait on approvals under build A:

* ``plain``: a calculator call waits for approval (its input carries the unknown fields);
* ``reaches_retired``: an ``http_get`` call waits for approval, and is approved after build B
  has retired ``http_get``;
* ``used_retired``: ``http_get`` already ran under build A (no approval needed) while a calculator
  call waits: build B must replay a history in which the retired tool was called.

Then build A stops, build B takes over, the humans approve, and every run completes; the one that
reaches the retired tool gets a readable tool error that the model answers from; every history
replays on build B's code. With ``AGENT_RUNTIME_RECORD_HISTORIES=1`` the histories are saved to
``histories/deploy_*.json``, which ``test_replay.py`` keeps replaying.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.durable_exec.temporal import PydanticAIPlugin
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from agent_runtime_core import catalog
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import HumanRequestKind, HumanRequestStatus, RunStatus
from agent_runtime_core.repositories import HumanRequestRepository, RunRepository
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    DECIDE_APPROVAL_UPDATE,
    AgentRunResult,
    ApprovalDecisionUpdate,
    HumanRequestResolution,
    workflow_id_for_run,
)
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow

from . import build_b_worker
from .crash_harness import (
    SlowHttpServer,
    WorkerProcesses,
    assert_events_consistent,
    eventually,
    run_events,
    serve_http,
    wait_polling,
    worker_environment,
)
from .support import HISTORIES, new_run

BUILD_B = [sys.executable, str(Path(build_b_worker.__file__).resolve()), "worker", "--log-level", "warning"]


def run_input(run_id: str, tenant_id: str, text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A workflow input as a newer API writes it: with fields build A has never heard of."""
    return {
        "run_id": run_id,
        "tenant_id": tenant_id,
        "input": text,
        "thread_id": "thr_added_by_a_newer_api",
        "agent": {
            "agent_id": "agt_deploy",
            "agent_name": "deploy",
            "version": 1,
            "model": "builtin:scripted",
            "tools": tools,
            "limits": {"approval_timeout_s": 3600, "run_timeout_s": 7200, "max_tool_calls": 9},
            "memory": {"strategy": "summarize", "max_context_tokens": 8000},
        },
    }


async def pending_approvals(database: Database, tenant_id: str, run_id: str) -> list[str]:
    async with session_scope(database, tenant_id) as session:
        requests = await HumanRequestRepository(session, tenant_id).list(
            run_id, HumanRequestKind.APPROVAL, status=HumanRequestStatus.PENDING
        )
    return [request.id for request in requests]


async def run_status(database: Database, tenant_id: str, run_id: str) -> RunStatus | None:
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
    return run.status if run is not None else None


async def replay_on_build_b(handles: list[WorkflowHandle[Any, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay every history with build B's catalog (``http_get`` retired) in this process."""
    monkeypatch.setitem(catalog.RETIRED_TOOLS, build_b_worker.RETIRED_TOOL, build_b_worker.RETIRED_BECAUSE)
    replayer = Replayer(
        workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=pydantic_data_converter
    )
    for handle in handles:
        await replayer.replay_workflow(await handle.fetch_history())  # raises on nondeterminism


@pytest.mark.timeout(240)
async def test_build_b_completes_the_runs_build_a_left_waiting(
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    database: Database,
    database_url: str,
    redis_url: str,
    task_queue: str,
    tenant_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = worker_environment(
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=task_queue,
        redis_url=redis_url,
    )
    workers = WorkerProcesses(tmp_path, env)
    try:
        async with serve_http(SlowHttpServer(hang=set(), body="the document")) as http:
            scenarios = {
                "plain": ("What is 6 * 7?", [{"name": "calculator", "requires_approval": True}]),
                "reaches_retired": (f"Fetch {http.url}", [{"name": "http_get", "requires_approval": True}]),
                "used_retired": (
                    f"Fetch {http.url} and compute 2 + 3",
                    [{"name": "http_get"}, {"name": "calculator", "requires_approval": True}],
                ),
            }
            build_a = workers.spawn()
            await wait_polling(temporal_client, task_queue, build_a)
            runs: dict[str, str] = {}
            handles: dict[str, WorkflowHandle[Any, Any]] = {}
            for name, (text, tools) in scenarios.items():
                run_id = runs[name] = await new_run(database, tenant_id, text)
                handles[name] = await temporal_client.start_workflow(
                    AGENT_RUN_WORKFLOW,
                    run_input(run_id, tenant_id, text, tools),
                    id=workflow_id_for_run(run_id),
                    task_queue=task_queue,
                    result_type=AgentRunResult,
                )
            for name, run_id in runs.items():
                await eventually(
                    lambda run_id=run_id: pending_approvals(database, tenant_id, run_id),
                    timeout_s=60,
                    message=lambda name=name: f"{name} never waited for an approval:\n{build_a.log()}",
                )
            assert len(http.arrivals) == 1, "build A ran http_get once, for used_retired"

            # The deploy: build A stops (gracefully: SIGTERM), build B starts.
            build_a.process.terminate()
            build_a.process.wait(timeout=30)
            build_b = workers.spawn(argv=BUILD_B)
            await wait_polling(temporal_client, task_queue, build_b)

            for name, run_id in runs.items():
                for request_id in await pending_approvals(database, tenant_id, run_id):
                    decision = ApprovalDecisionUpdate(
                        request_id=request_id, approve=True, decided_by="deploy"
                    )
                    await handles[name].execute_update(
                        DECIDE_APPROVAL_UPDATE, decision, result_type=HumanRequestResolution
                    )
            results = {
                name: await asyncio.wait_for(handle.result(), timeout=90) for name, handle in handles.items()
            }
            assert build_b.alive(), build_b.log()
    finally:
        workers.close()

    for name, result in results.items():
        assert result.status == "succeeded", (name, result, build_b.log())
        assert await run_status(database, tenant_id, runs[name]) == RunStatus.SUCCEEDED
        assert_events_consistent(await run_events(database, tenant_id, runs[name]))
    assert "calculator: 42" in str(results["plain"].output)
    assert "calculator: 5" in str(results["used_retired"].output)
    assert '"text": "the document"' in str(results["used_retired"].output), "build A's result is kept"

    # The retired tool: not run (no second request), a tool error the model read and answered from.
    assert len(http.arrivals) == 1
    retired_output = str(results["reaches_retired"].output)
    assert "http_get failed" in retired_output and "retired" in retired_output, retired_output
    finished = [
        event.data
        for event in await run_events(database, tenant_id, runs["reaches_retired"])
        if event.type == "tool.call.finished"
    ]
    assert [(data["tool"], data["ok"]) for data in finished] == [("http_get", False)], finished
    assert build_b_worker.RETIRED_BECAUSE in finished[0]["error"]

    await replay_on_build_b(list(handles.values()), monkeypatch)
    if os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):
        for name, handle in handles.items():
            history = await handle.fetch_history()
            (HISTORIES / f"deploy_{name}.json").write_text(history.to_json())
