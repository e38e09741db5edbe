"""Fixtures of the CLI tests that use a live API: the SDK tests' stack (the real API served by
uvicorn with real authentication, a worker on the Temporal dev server, Postgres and Redis; see
``packages/client/tests/conftest.py``), and the agents the commands run, made once per session.

The tests run ``agent-runtime`` as a separate process (in a pseudo-terminal, or plainly) while
the API runs on the tests' event loop, so each test drives the command from a thread
(``await asyncio.to_thread(...)``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_runtime_client import AgentVersionParams, AsyncAgentRuntime
from packages.client.tests.conftest import Stack, stack

__all__ = ["stack"]  # the SDK tests' fixture, reused as it is

CALC: AgentVersionParams = {"model": "builtin:scripted", "tools": [{"name": "calculator"}]}
AGENTS: dict[str, AgentVersionParams] = {
    "calc": CALC,
    "careful": {"model": "builtin:scripted", "tools": [{"name": "calculator", "requires_approval": True}]},
    "asker": {"model": "builtin:scripted", "tools": [{"name": "ask_human"}]},
    # The scripted model calls the calculator, then needs a second request: over the limit.
    "fragile": {**CALC, "limits": {"max_requests": 1}},
    # Waits for an approval longer than the run may last.
    "slowpoke": {
        "model": "builtin:scripted",
        "tools": [{"name": "calculator", "requires_approval": True}],
        "limits": {"run_timeout_s": 1},
    },
}
"""The agents the CLI tests run, by name (created once per session, shared by the tests)."""


@pytest.fixture(scope="session")
async def cli_agents(stack: Stack) -> dict[str, str]:
    """The ids of :data:`AGENTS` by name."""
    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        return {
            name: (await client.agents.create(name, version=version)).id for name, version in AGENTS.items()
        }


@pytest.fixture
def cli_env(stack: Stack, cli_agents: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment of an ``agent-runtime`` process that uses the stack's API, with a
    configuration folder of this test alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_")}
    env.update(
        AGENT_RUNTIME_URL=stack.url,
        AGENT_RUNTIME_API_KEY=stack.api_key,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TERM="xterm-256color",
        LC_ALL="C.UTF-8",
        PYTHONIOENCODING="utf-8",
    )
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    return env


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Writes a file of this test (name, text); returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
