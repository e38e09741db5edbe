"""End to end: `agent-runtime dev` as a subprocess, a run driven over HTTP to `succeeded` and
followed live over SSE (through the embedded Valkey)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest

from agent_runtime_cli.embedded import find_free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


class DevStack:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.api_port = find_free_port()
        self.temporal_port = find_free_port()
        self.ui_port = find_free_port()
        self.postgres_port = find_free_port()
        self.redis_port = find_free_port()
        self.log_path = data_dir / "dev.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.api_key = ""
        """The admin API key the dev command printed when it last started."""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_") and k != "DATABASE_URL"
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(
                        sys.executable,
                        "-m",
                        "agent_runtime_cli",
                        "dev",
                        "--data-dir",
                        str(self.data_dir / "state"),
                    ),
                    *("--api-port", str(self.api_port), "--temporal-port", str(self.temporal_port)),
                    *("--temporal-ui-port", str(self.ui_port), "--postgres-port", str(self.postgres_port)),
                    *("--redis-port", str(self.redis_port)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 120
        while "Press Ctrl-C to stop." not in self.log_path.read_text()[offset:]:
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, self.log_path.read_text()
            time.sleep(0.2)
        output = self.log_path.read_text()[offset:]
        assert "Agent Runtime is up." in output, output
        found = re.search(r"^  API key +(ar_\S+)$", output, re.MULTILINE)
        assert found, output
        self.api_key = found.group(1)
        assert f"curl -H 'Authorization: Bearer {self.api_key}' {self.api}/v1/agents" in output

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def stack() -> Generator[DevStack]:
    data_dir = Path(tempfile.mkdtemp(prefix="ar-dev-e2e-"))
    data_dir.chmod(0o755)  # the embedded Postgres runs as an unprivileged user when we are root
    stack = DevStack(data_dir)
    try:
        yield stack
    finally:
        if stack.process is not None and stack.process.poll() is None:
            stack.process.kill()


def drive_run(api: str, headers: dict[str, str]) -> dict[str, object]:
    with httpx.Client(base_url=api, timeout=10, headers=headers) as client:
        agent = client.post(
            "/v1/agents",
            json={"name": "e2e", "version": {"model": "builtin:scripted", "tools": [{"name": "calculator"}]}},
        )
        assert agent.status_code == 201, agent.text
        run = client.post(
            "/v1/runs",
            json={"agent_id": agent.json()["id"], "input": "What is 6 * 7?"},
            headers={"Idempotency-Key": "e2e-1"},
        )
        assert run.status_code == 202, run.text
        run_id = run.json()["id"]
        # Follow it live: the stream ends after the terminal event.
        with client.stream("GET", f"/v1/runs/{run_id}/stream", timeout=60) as response:
            assert response.status_code == 200
            types = [line[len("event: ") :] for line in response.iter_lines() if line.startswith("event: ")]
        assert types[0] == "run.queued" and types[-1] == "run.succeeded", types
        assert "model.text.delta" in types
        deadline = time.monotonic() + 60
        while True:
            body = client.get(f"/v1/runs/{run_id}").json()
            if body["status"] not in {"queued", "running"}:
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.1)


def test_dev_command_serves_a_run_to_success_and_keeps_it_across_restarts(stack: DevStack) -> None:
    stack.start()
    assert httpx.get(f"{stack.api}/v1/runs", timeout=10).status_code == 401  # no key, no entry
    run = drive_run(stack.api, stack.auth)
    assert run["status"] == "succeeded", run
    assert "calculator: 42" in str(run["output"])
    ui = httpx.get(str(run["temporal_ui_url"]), timeout=10)
    assert ui.status_code == 200
    assert httpx.get(f"{stack.api}/openapi.json", timeout=10).json()["info"]["title"] == "Agent Runtime API"

    assert stack.stop() in {0, 143}
    for port in (stack.api_port, stack.temporal_port, stack.ui_port, stack.postgres_port, stack.redis_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)

    first_key = stack.api_key
    stack.start()  # same data dir: agents, runs, workflow histories and the dev key are still there
    assert stack.api_key == first_key
    runs = httpx.get(f"{stack.api}/v1/runs", headers=stack.auth, timeout=10).json()["data"]
    assert [r["id"] for r in runs] == [run["id"]]
    assert runs[0]["status"] == "succeeded"
    assert (stack.data_dir / "state" / "valkey" / "valkey.log").exists()
    assert stack.stop() in {0, 143}
