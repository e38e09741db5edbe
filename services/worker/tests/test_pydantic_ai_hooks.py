"""The pydantic-ai internals the worker relies on, one test each.

pydantic-ai is pinned to one minor version (``services/worker/pyproject.toml``) because the worker
uses these private hooks; when an upgrade moves one, its test here fails with the hook's name
instead of a run failing somewhere in a workflow.
"""

from __future__ import annotations

import importlib
import inspect

from pydantic_ai.durable_exec._base import BaseDurabilityCapability
from pydantic_ai.durable_exec.temporal import TemporalDurability

from agent_runtime_worker.agents.runtime_agent import RuntimeDurability


def test_model_errors_as_application_errors_encodes_model_errors_for_the_workflow() -> None:
    """``models/governed.py`` raises model errors in pydantic-ai's own encoding."""
    module = importlib.import_module("pydantic_ai.durable_exec.temporal._model_errors")
    hook = getattr(module, "model_errors_as_application_errors", None)
    assert hook is not None, (
        "pydantic_ai.durable_exec.temporal._model_errors.model_errors_as_application_errors moved"
    )
    assert "non_retryable" in inspect.signature(hook).parameters


def test_get_current_run_context_is_where_governed_models_find_their_run() -> None:
    """``GovernedModel.request`` (non-streamed) finds its run's identity through it."""
    module = importlib.import_module("pydantic_ai._run_context")
    assert callable(getattr(module, "get_current_run_context", None)), (
        "pydantic_ai._run_context.get_current_run_context moved"
    )


def test_model_id_for_request_is_the_durability_hook_runtime_durability_overrides() -> None:
    """``RuntimeDurability._model_id_for_request`` sends a fallback model's string to the activity."""
    base = getattr(BaseDurabilityCapability, "_model_id_for_request", None)
    assert base is not None, "BaseDurabilityCapability._model_id_for_request moved"
    assert list(inspect.signature(base).parameters) == ["self", "ctx", "request_context"]
    assert RuntimeDurability._model_id_for_request is not base  # pyright: ignore[reportPrivateUsage]


def test_resolve_model_for_request_builds_the_model_inside_the_activity() -> None:
    """``RuntimeDurability._resolve_model_for_request`` hands model building to the worker's I/O half."""
    base = getattr(TemporalDurability, "_resolve_model_for_request", None)
    assert base is not None, "TemporalDurability._resolve_model_for_request moved"
    assert inspect.iscoroutinefunction(base)
    assert list(inspect.signature(base).parameters) == ["self", "model_id", "run_context"]
