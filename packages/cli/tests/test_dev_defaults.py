"""What `agent-runtime dev` sets for the API and worker unless the developer's environment does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agent_runtime_cli.dev import _dev_defaults, _is_our_api  # pyright: ignore[reportPrivateUsage]
from agent_runtime_cli.embedded import TemporalDevServer
from agent_runtime_core.settings import Settings


def test_dev_stack_lets_local_browser_apps_call_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", raising=False)
    origins = _dev_defaults()["AGENT_RUNTIME_CORS_ALLOW_ORIGINS"]
    monkeypatch.setenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", origins)
    assert "http://localhost:3000" in Settings().cors_allow_origins  # agent-chat-ui's dev server


def test_the_developers_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNTIME_CORS_ALLOW_ORIGINS", "http://localhost:3100")
    assert "AGENT_RUNTIME_CORS_ALLOW_ORIGINS" not in _dev_defaults()


def test_the_temporal_ui_decodes_through_the_api_codec_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "AGENT_RUNTIME_TEMPORAL_CODEC_CORS_ORIGINS",
        "AGENT_RUNTIME_TEMPORAL_CODEC_LOCAL_DEV_ACCESS",
    ):
        monkeypatch.delenv(name, raising=False)
    defaults = _dev_defaults("http://127.0.0.1:8233")
    for name, value in defaults.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.temporal_codec_local_dev_access
    assert set(settings.temporal_codec_cors_origins) == {"http://127.0.0.1:8233", "http://localhost:8233"}
    server = TemporalDevServer(
        tmp_path, ui_port=8233, ui_codec_endpoint="http://127.0.0.1:8000/v1/temporal/codec"
    )
    assert "--ui-codec-endpoint http://127.0.0.1:8000/v1/temporal/codec" in " ".join(server.command())
    headless = TemporalDevServer(
        tmp_path, ui_port=None, ui_codec_endpoint="http://127.0.0.1:8000/v1/temporal/codec"
    )
    assert "--ui-codec-endpoint" not in headless.command()


@pytest.mark.parametrize(
    ("status", "content", "ours"),
    [
        (200, b'{"status":"ok","database":null,"temporal":null}', True),
        (200, b"", False),  # SeaweedFS's S3 /healthz: once on a port the API was to take
        (200, b"<html>ok</html>", False),
        (200, b'["ok"]', False),
        (503, b'{"status":"ok"}', False),
        (200, b'{"status":"unavailable"}', False),
    ],
)
def test_the_dev_command_waits_for_its_own_api_not_any_server_on_the_port(
    status: int, content: bytes, ours: bool
) -> None:
    assert _is_our_api(httpx.Response(status, content=content)) is ours
