"""The worker's two halves: workflow code loads no I/O code, and activities keep their names."""

from __future__ import annotations

import subprocess
import sys

from temporalio import activity

from agent_runtime_worker.activities.human_requests import HumanRequestActivities
from agent_runtime_worker.activities.retention import RetentionActivities
from agent_runtime_worker.activities.runs import RunActivities
from agent_runtime_worker.contracts import (
    HumanRequestActivityContract,
    RetentionActivityContract,
    RunActivityContract,
)

IO_MODULES = (
    "agent_runtime_core.db",
    "agent_runtime_core.repositories",
    "agent_runtime_core.event_bus",
    "agent_runtime_core.breakers",
    "agent_runtime_worker.activities",
    "agent_runtime_worker.dependencies",
    "agent_runtime_worker.events",
    "redis",
    "psycopg",
)


def test_importing_the_workflow_loads_no_database_or_redis_code() -> None:
    # A fresh interpreter: this test process has imported everything already.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, agent_runtime_worker.workflows.agent_run, agent_runtime_worker.workflows.retention; "
            "print('\\n'.join(sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    leaked = sorted(m for m in loaded if any(m == io or m.startswith(io + ".") for io in IO_MODULES))
    assert leaked == []


def test_activity_implementations_keep_the_names_the_workflow_schedules() -> None:
    for contract, implementation in (
        (RunActivityContract, RunActivities),
        (HumanRequestActivityContract, HumanRequestActivities),
        (RetentionActivityContract, RetentionActivities),
    ):
        for name, declared in vars(contract).items():
            if not callable(declared) or name.startswith("_"):
                continue
            scheduled = activity._Definition.must_from_callable(declared).name  # pyright: ignore[reportPrivateUsage]
            served = activity._Definition.must_from_callable(getattr(implementation, name)).name  # pyright: ignore[reportPrivateUsage]
            assert served == scheduled == name
