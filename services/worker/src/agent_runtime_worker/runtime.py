"""Process-wide resources of a worker: the database engine and settings.

Activities (and code pydantic-ai runs inside activities: model resolution, the event handler,
tool calls) reach them here. Workflow code never does: it has no I/O and reads no settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings


@dataclass(frozen=True)
class WorkerResources:
    """What a worker process opened at start-up."""

    settings: Settings
    database: Database


_resources: WorkerResources | None = None


def install_resources(resources: WorkerResources) -> None:
    """Make ``resources`` available to activities of this process."""
    global _resources
    _resources = resources


def resources() -> WorkerResources:
    """The resources of this worker process (set by :func:`install_resources`)."""
    if _resources is None:
        raise RuntimeError("worker resources are not installed; start the worker with build_worker()")
    return _resources
