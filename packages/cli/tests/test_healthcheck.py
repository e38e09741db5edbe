"""``agent-runtime healthcheck`` (the image's HEALTHCHECK), against small local stand-ins; the
image's real API and worker are probed in ``test_image.py``."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_cli.healthcheck import check, check_worker, main


@pytest.fixture
def server() -> Generator[tuple[int, list[int]]]:
    """A local HTTP server answering GET with the next status of the returned list (200 by default)."""
    statuses: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    instance = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=instance.serve_forever, daemon=True)
    thread.start()
    try:
        yield instance.server_address[1], statuses
    finally:
        instance.shutdown()
        instance.server_close()


def test_the_api_is_healthy_only_when_healthz_answers_200(server: tuple[int, list[int]]) -> None:
    port, statuses = server
    environ = {"AGENT_RUNTIME_API_PORT": str(port)}
    assert check("auto", environ=environ) == (True, f"API http://127.0.0.1:{port}/healthz: HTTP 200")
    statuses.append(503)
    healthy, seen = check("auto", environ=environ)
    assert not healthy and "HTTP 503" in seen
    healthy, seen = check("api", environ={"AGENT_RUNTIME_API_PORT": str(find_free_port())}, timeout_s=1)
    assert not healthy and "refused" in seen.lower()


def test_a_worker_is_healthy_while_its_file_is_fresh(tmp_path: Path, server: tuple[int, list[int]]) -> None:
    port, _ = server
    file = tmp_path / "worker.health"
    environ = {"AGENT_RUNTIME_WORKER_HEALTH_FILE": str(file), "AGENT_RUNTIME_API_PORT": str(port)}
    # No file yet: auto asks the API (here one that answers): the container runs an API.
    assert check("auto", environ=environ)[0]
    assert not check("worker", environ=environ)[0]  # forced: the worker has not started
    file.touch()
    assert check("auto", environ=environ) == check("worker", environ=environ)
    assert check("auto", environ=environ)[0]
    mtime = file.stat().st_mtime
    assert check_worker(file, max_age_s=30, now=mtime + 29)[0]
    healthy, seen = check_worker(file, max_age_s=30, now=mtime + 31)
    assert not healthy and "31 s old" in seen
    assert not check("worker", environ={})[0]  # nothing configured


def test_the_command_exits_0_or_1_fast_without_loading_the_cli(tmp_path: Path) -> None:
    file = tmp_path / "worker.health"
    file.touch()
    env = {**os.environ, "AGENT_RUNTIME_WORKER_HEALTH_FILE": str(file)}
    probe = (
        "import sys; sys.argv = ['agent-runtime', 'healthcheck', *sys.argv[1:]]\n"
        "from agent_runtime_cli.entry import main\n"
        "try:\n    main()\n"
        "finally:\n"
        "    heavy = [m for m in ('typer', 'pydantic', 'httpx', 'agent_runtime_core') if m in sys.modules]\n"
        "    print('loaded:', heavy, file=sys.stderr)\n"
    )
    started = time.monotonic()
    healthy = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started
    assert healthy.returncode == 0, healthy.stderr
    assert "loaded: []" in healthy.stderr
    assert elapsed < 5  # ~50 ms; a hang guard on a loaded machine
    stale = subprocess.run(
        [sys.executable, "-c", probe, "--max-age", "0"], env=env, capture_output=True, text=True, timeout=30
    )
    assert stale.returncode == 1 and "unhealthy: worker" in stale.stderr


def test_main_prints_what_it_saw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "worker.health"
    file.touch()
    assert main(["--target", "worker", "--health-file", str(file)], environ={}) == 0
    assert capsys.readouterr().out.startswith("healthy: worker: health file")
    assert (
        main(["--target", "worker", "--health-file", str(file), "--quiet", "--max-age", "0"], environ={}) == 1
    )
    assert capsys.readouterr() == ("", "")
