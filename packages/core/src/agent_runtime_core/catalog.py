"""What the platform offers an agent version: model providers and built-in tools.

The API validates agent versions against this catalog without importing the worker; the worker
checks at start-up (and in its tests) that it implements exactly these names.
"""

from __future__ import annotations

from typing import Final

MODEL_PROVIDERS: Final[dict[str, str]] = {
    "openai": "OpenAI chat models, e.g. openai:gpt-4o (needs AGENT_RUNTIME_OPENAI_API_KEY).",
    "anthropic": (
        "Anthropic models, e.g. anthropic:claude-sonnet-4-5 (needs AGENT_RUNTIME_ANTHROPIC_API_KEY)."
    ),
    "openai-compatible": (
        "Any OpenAI-compatible server (Ollama, vLLM, ...), e.g. openai-compatible:llama3.1; "
        "the server is AGENT_RUNTIME_OPENAI_BASE_URL."
    ),
    "builtin": "Offline models shipped with Agent Runtime; no network, no key.",
}

BUILTIN_MODELS: Final[dict[str, str]] = {
    "scripted": (
        "Offline, deterministic model for demos and tests: calls each of the agent's tools once "
        "(arguments derived from the prompt), then answers from their results. Streams its text."
    ),
}

BUILTIN_TOOL_NAMES: Final[tuple[str, ...]] = (
    "current_time",
    "calculator",
    "http_get",
    "ask_human",
    "run_python",
)
"""The tools new agent versions may enable."""

MEMORY_TOOL_NAMES: Final[tuple[str, ...]] = ("memory_save", "memory_search", "memory_delete")
"""The long-term memory tools (the tenant's store, ``/v1/store``) new agent versions may enable.

Served by the worker's ``memory`` toolset rather than ``builtin``; each reads and writes the store
in the namespace the version's ``memory`` configuration names."""

ARTIFACT_TOOL_NAMES: Final[tuple[str, ...]] = ("artifact_list", "artifact_read", "artifact_write")
"""The artifact tools new agent versions may enable: list the run's input and output files, read
one's text (text, Markdown, JSON, CSV, PDF), write an output file.

Served by the worker's ``artifacts`` toolset rather than ``builtin``; each reads or writes the
tenant's artifacts (``/v1/artifacts``) limited to the run's own inputs and outputs."""

RETIRED_TOOLS: Final[dict[str, str]] = {}
"""Tools taken out of service: name → why (and what to use instead).

A retired tool cannot be enabled in a new version, and stored versions show it as unavailable.
The worker keeps its definition (so histories of runs that called it replay unchanged) but
answers every call with a tool error the model reads. Move a tool from ``BUILTIN_TOOL_NAMES`` to
here to retire it; remove it for good only when no run that named it can still be replayed.
"""

HUMAN_INPUT_TOOL: Final = "ask_human"
"""The tool that pauses the run until a human answers its question (`POST /v1/runs/{id}/input`)."""


def model_name_problem(model: str) -> str | None:
    """Return why ``model`` is not a usable model name, or ``None`` when it is fine."""
    provider, sep, name = model.partition(":")
    if not sep or not provider or not name.strip():
        return f"'{model}' is not of the form 'provider:model_name'; providers: " + ", ".join(MODEL_PROVIDERS)
    if provider not in MODEL_PROVIDERS:
        return f"unknown model provider '{provider}'; known providers: " + ", ".join(MODEL_PROVIDERS)
    if provider == "builtin" and name not in BUILTIN_MODELS:
        return f"unknown builtin model '{name}'; builtin models: " + ", ".join(BUILTIN_MODELS)
    return None
