"""Kong's declarative config (gateway/kong.yaml) and the compose stack (docker/), checked offline.

`deck validate` checks the file against decK's schema and the references between entities; these
tests add what only we know: every path of our OpenAPI reaches the API through a route, and the
SSE routes are not buffered and may stay open.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_runtime_api.langgraph import router as langgraph  # the package exports the router
from agent_runtime_api.langgraph.router import public_router as langgraph_public
from agent_runtime_api.main import create_app
from agent_runtime_core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
KONG_FILE = ROOT / "gateway" / "kong.yaml"
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
SAMPLE_PARAMETERS = {
    "agent_id": "agt_x",
    "artifact_id": "art_x",
    "run_id": "run_x",
    "approval_id": "apr_x",
    "version": "1",
    "key_id": "key_x",
    "provider": "openai",
    "model": "gpt-4o",
    "endpoint_id": "openai-000000000000",
    "tenant_id": "ten_x",
    "tool_id": "tool_x",
    "revision": "1",
    "name": "api_token",
    "thread_id": "thr_x",
    "assistant_id": "agt_x",
    "checkpoint_id": "turn-1",
    "cron_id": "cron_x",
}
STREAM_PATHS = {"/v1/runs/{run_id}/stream", "/v1/events/stream"}
LANGGRAPH_LONG_PATHS = {
    "/threads/{thread_id}/runs/stream",
    "/threads/{thread_id}/runs/{run_id}/stream",
    "/runs/stream",
    "/threads/{thread_id}/runs/wait",
    "/runs/wait",
    "/threads/{thread_id}/runs/{run_id}/join",
}
"""LangGraph calls that last as long as a run: streams, and waits for the run's end."""


@pytest.fixture(scope="module")
def kong() -> dict[str, Any]:
    return yaml.safe_load(KONG_FILE.read_text())


def openapi_paths() -> list[str]:
    app = create_app(Settings.model_validate({"database_url": "postgresql://unused/none"}))
    return [
        *app.openapi()["paths"],
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/docs/assets/swagger-ui-bundle.js",
        "/redoc",
        "/console",
        "/console/",
        "/console/config.json",
        "/console/assets/0123456789abcdef/js/main.js",
    ]


def langgraph_paths() -> set[str]:
    """The LangGraph Platform API's paths (not in the OpenAPI document: it is LangGraph's API)."""
    return {
        path
        for router in (langgraph, langgraph_public)
        for route in router.routes
        if isinstance(path := getattr(route, "path", None), str)
    }


def route_for(kong: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (service, route) Kong picks for ``path``: regex paths first (highest
    ``regex_priority``), then the longest matching prefix, as Kong's router does."""
    regex: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    prefix: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for service in kong["services"]:
        for route in service["routes"]:
            for candidate in route["paths"]:
                if candidate.startswith("~"):
                    if re.match(candidate[1:], path):
                        regex.append((route.get("regex_priority", 0), service, route))
                elif path.startswith(candidate):
                    prefix.append((len(candidate), service, route))
    for matches in (regex, prefix):
        if matches:
            _, service, route = max(matches, key=lambda match: match[0])
            return service, route
    return None


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMETERS[m.group(1)], path)


@pytest.mark.skipif(shutil.which("deck") is None, reason="decK is not installed (apt-get install deck)")
def test_deck_validates_the_kong_config() -> None:
    result = subprocess.run(
        ["deck", "validate", "--state", str(KONG_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_api_path_has_a_route_to_the_api(kong: dict[str, Any]) -> None:
    assert kong["_format_version"] == "3.0"
    for path in openapi_paths():
        found = route_for(kong, concrete(path))
        assert found is not None, f"no Kong route for {path}"
        service, route = found
        assert service["url"] == "http://api:8000"
        assert route.get("strip_path") is False, f"{route['name']} would strip the path of {path}"
        streaming = path in STREAM_PATHS
        assert (route.get("response_buffering", True) is False) == streaming, (path, route["name"])
        if streaming:
            # Longer than the API's 15 s keep-alive, with room to spare.
            assert service["read_timeout"] >= 600_000
    # Not everything goes to the API: unknown top-level paths get Kong's 404.
    assert route_for(kong, "/admin") is None


def test_artifact_uploads_pass_a_larger_body_unbuffered(kong: dict[str, Any]) -> None:
    found = route_for(kong, "/v1/artifacts")
    assert found is not None
    _, route = found
    assert "POST" in route["methods"] and route["request_buffering"] is False
    (size_limit,) = [
        plugin["config"] for plugin in route["plugins"] if plugin["name"] == "request-size-limiting"
    ]
    # Above the API's own cap (25 MiB file + 64 KiB of multipart framing), in MiB.
    api_cap = Settings().artifact_max_upload_bytes + 64 * 1024
    assert size_limit["size_unit"] == "megabytes" and size_limit["allowed_payload_size"] * 1024**2 >= api_cap
    # Every other call on artifacts stays on the general route with the 1 MB cap.
    assert route_for(kong, "/v1/artifacts/uploads") != found


def test_every_langgraph_path_has_a_route_and_long_calls_are_unbuffered(kong: dict[str, Any]) -> None:
    paths = langgraph_paths()
    assert paths >= LANGGRAPH_LONG_PATHS
    assert len(paths) > 20
    for path in paths:
        found = route_for(kong, concrete(path))
        assert found is not None, f"no Kong route for {path}"
        service, route = found
        assert service["url"] == "http://api:8000" and route.get("strip_path") is False
        long = path in LANGGRAPH_LONG_PATHS
        assert (route.get("response_buffering", True) is False) == long, (path, route["name"])
        assert (service["read_timeout"] >= 600_000) == long, (path, service["name"])
    cors = next(plugin for plugin in kong["plugins"] if plugin["name"] == "cors")["config"]
    # The JavaScript SDK reads a run's id from Content-Location and rejoins a stream at Location.
    assert {"Content-Location", "Location"} <= set(cors["exposed_headers"])
    assert "PUT" in cors["methods"]  # store items, secrets, tools


def test_gateway_plugins_keep_the_request_id_and_limit_requests(kong: dict[str, Any]) -> None:
    plugins = {plugin["name"]: plugin["config"] for plugin in kong["plugins"]}
    assert set(plugins) == {"correlation-id", "rate-limiting", "cors", "request-size-limiting"}
    assert plugins["correlation-id"] == {
        "header_name": "X-Request-ID",
        "generator": "uuid",
        "echo_downstream": True,
    }
    assert "X-Request-ID" in plugins["cors"]["exposed_headers"]
    for header in ("Authorization", "X-API-Key", "Idempotency-Key", "Last-Event-ID"):
        assert header in plugins["cors"]["headers"]
    assert plugins["rate-limiting"]["minute"] > 0
    assert plugins["request-size-limiting"]["allowed_payload_size"] >= 1


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="no Docker Compose client installed")
def test_compose_file_parses_and_mounts_the_gateway_and_realm() -> None:
    command = _compose_command()
    assert command is not None
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert {"postgres", "valkey", "temporal", "keycloak", "kong", "api", "worker"} <= set(services)
    assert "../gateway/kong.yaml:/kong/kong.yaml:ro" in services["kong"]["volumes"]
    assert "../auth:/opt/keycloak/data/import:ro" in services["keycloak"]["volumes"]
    assert "--import-realm" in services["keycloak"]["command"]


def _route_plugin(route: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((plugin["config"] for plugin in route.get("plugins", []) if plugin["name"] == name), None)


def test_run_starts_and_the_codec_endpoint_take_larger_bodies(kong: dict[str, Any]) -> None:
    """Run inputs may be 2,000,000 characters (13 MB of JSON at most): every route that starts a
    run lifts the global 1 MB cap; the codec endpoint takes batches of payloads, with CORS of its
    own for the Temporal UI."""
    limit = 6 * 2_000_000 + 1024 * 1024
    for path in (
        "/v1/runs",
        "/threads/thr_x/runs",
        "/runs",
        "/runs/stream",
        "/runs/wait",
        "/threads/thr_x/runs/wait",
    ):
        found = route_for(kong, path)
        assert found is not None, path
        size = _route_plugin(found[1], "request-size-limiting")
        assert size is not None and size["allowed_payload_size"] * 1024 * 1024 >= limit  # Kong: MiB, path
    # Everything else keeps the global cap.
    [global_size] = [p["config"] for p in kong["plugins"] if p["name"] == "request-size-limiting"]
    assert global_size["allowed_payload_size"] == 1
    found = route_for(kong, "/v1/agents")
    assert found is not None and _route_plugin(found[1], "request-size-limiting") is None
    found = route_for(kong, "/v1/temporal/codec/decode")
    assert found is not None and found[1]["name"] == "temporal-codec"
    cors = _route_plugin(found[1], "cors")
    assert cors is not None and cors["credentials"] is True and "*" not in cors["origins"]
    assert "X-Namespace" in cors["headers"]
