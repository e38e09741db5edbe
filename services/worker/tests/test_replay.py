"""Replay saved workflow histories with the current code: a change that breaks determinism for
runs in flight fails here, before it reaches a worker.

To record new histories (after an intended, patched change), run:
    AGENT_RUNTIME_RECORD_HISTORIES=1 uv run pytest services/worker/tests/test_replay.py
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.durable_exec.temporal import PydanticAIPlugin
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from agent_runtime_core import catalog
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import HumanRequestKind, HumanRequestStatus
from agent_runtime_core.repositories import HumanRequestRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    ANSWER_INPUT_UPDATE,
    DECIDE_APPROVAL_UPDATE,
    AgentConfig,
    AgentRunInput,
    ApprovalDecisionUpdate,
    HumanRequestResolution,
    InputAnswerUpdate,
    LimitsConfig,
    ToolConfig,
)
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow

from . import build_b_worker
from .support import HISTORIES, new_run

SCENARIOS: dict[str, tuple[str, list[ToolConfig], LimitsConfig]] = {
    "tools_succeeded": (
        "What is (2 + 3) * 4 in Europe/Paris?",
        [ToolConfig(name="calculator"), ToolConfig(name="current_time")],
        LimitsConfig(),
    ),
    "no_tools_succeeded": ("hello", [], LimitsConfig()),
    "invalid_tool_args_retried": ("compute 1 / 0", [ToolConfig(name="calculator")], LimitsConfig()),
    "request_limit_failed": ("3 * 3", [ToolConfig(name="calculator")], LimitsConfig(max_requests=1)),
    "approvals_approved_and_rejected": (
        "What is 2 + 2 in Asia/Tokyo?",
        [
            ToolConfig(name="calculator", requires_approval=True),
            ToolConfig(name="current_time", requires_approval=True),
        ],
        LimitsConfig(),
    ),
    "question_answered": ("Plan my trip", [ToolConfig(name="ask_human")], LimitsConfig()),
}


async def _answer_humans(
    database: Database, tenant_id: str, run_id: str, handle: WorkflowHandle[Any, Any]
) -> None:
    """Decide approvals (approve the first, reject the rest) and answer questions as they come."""
    answered: set[str] = set()
    while True:
        async with session_scope(database, tenant_id) as session:
            run = await RunRepository(session, tenant_id).get(run_id)
            repo = HumanRequestRepository(session, tenant_id)
            approvals = await repo.list(run_id, HumanRequestKind.APPROVAL, status=HumanRequestStatus.PENDING)
            questions = await repo.list(run_id, HumanRequestKind.INPUT, status=HumanRequestStatus.PENDING)
        if run is None or run.status.is_terminal:
            return
        for index, approval in enumerate(a for a in approvals if a.id not in answered):
            answered.add(approval.id)
            decision = ApprovalDecisionUpdate(
                request_id=approval.id, approve=index == 0, reason="recorded", decided_by="replay"
            )
            await handle.execute_update(DECIDE_APPROVAL_UPDATE, decision, result_type=HumanRequestResolution)
        for question in (q for q in questions if q.id not in answered):
            answered.add(question.id)
            answer = InputAnswerUpdate(request_id=question.id, answer="By train.", decided_by="replay")
            await handle.execute_update(ANSWER_INPUT_UPDATE, answer, result_type=HumanRequestResolution)
        await asyncio.sleep(0.05)


def saved_histories() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", saved_histories(), ids=lambda p: p.stem)
async def test_saved_history_replays_deterministically(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)  # raises on nondeterminism


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("deploy_*.json")), ids=lambda p: p.stem)
async def test_deploy_history_replays_with_its_tool_retired(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded by test_deploy.py: inputs with fields no build knew, a tool that build B retired
    (called before the deploy, or approved after it). They replay on a build that retired it."""
    monkeypatch.setitem(catalog.RETIRED_TOOLS, build_b_worker.RETIRED_TOOL, build_b_worker.RETIRED_BECAUSE)
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)


async def test_saved_histories_replay_after_encryption_and_offload_are_turned_on(
    s3_settings: dict[str, object],
) -> None:
    """Histories written in clear and inline (every saved one) replay on a worker whose converter
    encrypts and offloads: turning either on never breaks a run in flight. Histories written with
    them replay in test_payload_offload.py."""
    settings = Settings.model_validate(
        {
            **s3_settings,
            "temporal_payload_keys": {"k1": base64.b64encode(os.urandom(32)).decode()},
            "temporal_payload_active_key_id": "k1",
        }
    )
    converter = data_converter_from_settings(settings)
    try:
        replayer = Replayer(
            workflows=[AgentRunWorkflow], plugins=[PydanticAIPlugin()], data_converter=converter
        )
        for path in saved_histories():
            history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
            await replayer.replay_workflow(history)
    finally:
        await close_data_converter(converter)


def test_histories_are_saved() -> None:
    assert {p.stem for p in saved_histories()} >= set(SCENARIOS)
    # Recorded after bookkeeping moved to local activities (the `local-bookkeeping-activities` patch).
    assert {p.stem for p in saved_histories()} >= {
        "tools_succeeded_local_bookkeeping",
        "approvals_approved_and_rejected_local_bookkeeping",
        "question_answered_local_bookkeeping",
    }
    # Recorded by test_deploy.py: build B (a tool retired, fields added) took over waiting runs.
    assert {p.stem for p in saved_histories()} >= {
        "deploy_plain",
        "deploy_reaches_retired",
        "deploy_used_retired",
    }
    # Recorded by test_model_fallback.py: a run that fell over (the `model-fallback` patch).
    assert "model_fallback" in {p.stem for p in saved_histories()}
    # Recorded by test_mcp.py: an MCP server's tool listed and called (the `mcp-servers` patch).
    assert "mcp_tool_called" in {p.stem for p in saved_histories()}


@pytest.mark.skipif(
    not os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"), reason="records histories on demand"
)
async def test_record_histories(
    temporal_client: Client, running_worker: object, task_queue: str, database: Database, tenant_id: str
) -> None:
    HISTORIES.mkdir(exist_ok=True)
    for name, (text, tools, limits) in SCENARIOS.items():
        run_id = await new_run(database, tenant_id, text)
        agent_id = "agt_replay"
        run_input = AgentRunInput(
            run_id=run_id,
            tenant_id=tenant_id,
            input=text,
            agent=AgentConfig(
                agent_id=agent_id,
                agent_name="replay",
                version=1,
                model="builtin:scripted",
                tools=tools,
                limits=limits,
            ),
        )
        handle = await temporal_client.start_workflow(
            AGENT_RUN_WORKFLOW, run_input, id=f"run-{run_id}", task_queue=task_queue
        )
        await asyncio.wait_for(_answer_humans(database, tenant_id, run_id, handle), timeout=30)
        await asyncio.wait_for(handle.result(), timeout=30)
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
