"""What `agent-runtime dev` sets for the API and worker unless the developer's environment does."""

from __future__ import annotations

import pytest

from agent_runtime_cli.dev import _dev_defaults  # pyright: ignore[reportPrivateUsage]
from agent_runtime_core.settings import Settings


def test_dev_stack_lets_local_browser_apps_call_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", raising=False)
    origins = _dev_defaults()["AGENT_RUNTIME_CORS_ALLOW_ORIGINS"]
    monkeypatch.setenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", origins)
    assert "http://localhost:3000" in Settings().cors_allow_origins  # agent-chat-ui's dev server


def test_the_developers_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", "http://localhost:3100")
    assert "AGENT_RUNTIME_CORS_ALLOW_ORIGINS" not in _dev_defaults()
