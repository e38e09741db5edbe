"""End to end: `agent-runtime dev` as a subprocess, a run driven over HTTP to `succeeded` and
followed live over SSE (through the embedded Valkey)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest

from agent_runtime_cli.embedded._process import process_is_running

from .support import DevStack, process_is_alive, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


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
            stack.process.wait()
            # The servers die with the stack (parent-death signal); give them a moment to go.
            time.sleep(2)
        shutil.rmtree(data_dir, ignore_errors=True)


def drive_run(api: str, headers: dict[str, str], idempotency_key: str = "e2e-1") -> dict[str, object]:
    """Create an agent, start a run, follow it over SSE to the end; return the run."""
    with httpx.Client(base_url=api, timeout=10, headers=headers) as client:
        agent = client.post(
            "/v1/agents",
            json={
                "name": f"e2e-{idempotency_key}",
                "version": {"model": "builtin:scripted", "tools": [{"name": "calculator"}]},
            },
        )
        assert agent.status_code == 201, agent.text
        run = client.post(
            "/v1/runs",
            json={"agent_id": agent.json()["id"], "input": "What is 6 * 7?"},
            headers={"Idempotency-Key": idempotency_key},
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
    # The Temporal UI decodes payloads through the API's codec endpoint, which lets the UI (no
    # sign-in) call it from this machine without credentials.
    ui_origin = f"http://127.0.0.1:{stack.ui_port}"
    codec = httpx.get(f"{ui_origin}/api/v1/settings", timeout=10).json()["Codec"]["Endpoint"]
    assert codec == f"{stack.api}/v1/temporal/codec"
    plain = {
        "payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IjQyIg=="}]
    }  # json/plain "42"
    decoded = httpx.post(
        f"{codec}/decode", json=plain, headers={"Origin": ui_origin, "X-Namespace": "default"}, timeout=10
    )
    assert decoded.status_code == 200 and decoded.json() == plain, decoded.text
    assert decoded.headers["access-control-allow-origin"] == ui_origin
    assert httpx.get(f"{stack.api}/openapi.json", timeout=10).json()["info"]["title"] == "Agent Runtime API"
    # Artifacts go to the embedded SeaweedFS the banner names.
    assert f"  S3             http://127.0.0.1:{stack.s3_port}  (bucket agent-runtime;" in stack.output()
    artifact = httpx.post(
        f"{stack.api}/v1/artifacts",
        files={"file": ("kept.txt", b"kept across restarts", "text/plain")},
        headers=stack.auth,
        timeout=30,
    )
    assert artifact.status_code == 201, artifact.text

    assert stack.stop() in {0, 143}
    ports = (
        stack.api_port,
        stack.temporal_port,
        stack.ui_port,
        stack.postgres_port,
        stack.redis_port,
        stack.s3_port,
    )
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)

    first_key = stack.api_key
    stack.start()  # same data dir: agents, runs, workflow histories and the dev key are still there
    assert stack.api_key == first_key
    runs = httpx.get(f"{stack.api}/v1/runs", headers=stack.auth, timeout=10).json()["data"]
    assert [r["id"] for r in runs] == [run["id"]]
    assert runs[0]["status"] == "succeeded"
    content = httpx.get(
        f"{stack.api}/v1/artifacts/{artifact.json()['id']}/content", headers=stack.auth, timeout=30
    )
    assert content.content == b"kept across restarts"
    assert (stack.data_dir / "state" / "valkey" / "valkey.log").exists()
    assert stack.stop() in {0, 143}


def test_dev_stack_restarts_a_killed_worker_and_valkey_and_one_ctrl_c_drains_it(stack: DevStack) -> None:
    stack.start()
    worker = stack.child_pid("worker")
    valkey = int((stack.state_dir / "valkey" / "valkey.pid").read_text())

    os.kill(worker, signal.SIGKILL)
    os.kill(valkey, signal.SIGKILL)
    wait_until(lambda: "restarted worker" in stack.output(), timeout_s=30, message=stack.output())
    wait_until(lambda: "restarted valkey" in stack.output(), timeout_s=30, message=stack.output())
    assert stack.process is not None and stack.process.poll() is None
    assert "stopping the others" not in stack.output()
    new_worker = stack.child_pid("worker")
    assert new_worker != worker and process_is_alive(new_worker)
    new_valkey = int((stack.state_dir / "valkey" / "valkey.pid").read_text())
    assert new_valkey != valkey and process_is_running(new_valkey)

    run = drive_run(stack.api, stack.auth)  # served by the new worker, streamed through the new Valkey
    assert run["status"] == "succeeded", run

    # The servers under the API and worker: both come back, and so does service.
    postmaster = int((stack.state_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    temporal = int((stack.state_dir / "temporal" / "temporal.pid").read_text())
    os.kill(postmaster, signal.SIGKILL)
    os.kill(temporal, signal.SIGKILL)
    wait_until(lambda: "restarted postgres" in stack.output(), timeout_s=60, message=stack.output())
    wait_until(lambda: "restarted temporal" in stack.output(), timeout_s=60, message=stack.output())
    run = drive_run(stack.api, stack.auth, idempotency_key="after-server-crashes")
    assert run["status"] == "succeeded", run
    seaweedfs = int((stack.state_dir / "seaweedfs" / "seaweedfs.pid").read_text())
    os.kill(seaweedfs, signal.SIGKILL)
    wait_until(lambda: "restarted seaweedfs" in stack.output(), timeout_s=60, message=stack.output())
    artifact = httpx.post(
        f"{stack.api}/v1/artifacts",
        files={"file": ("a.txt", b"after a crash", "text/plain")},
        headers=stack.auth,
    )
    assert artifact.status_code == 201, artifact.text

    # One Ctrl-C through `uv run` reaches the stack twice: it must still drain, not force.
    assert stack.process is not None
    offset = len(stack.output())
    stack.process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    assert stack.stop(signal.SIGINT) == 130
    shutdown = stack.output()[offset:]
    assert "shutting down gracefully" in shutdown, shutdown
    assert "ignored 1 more signal(s)" in shutdown, shutdown
    assert "worker stopped (exit code 0)" in shutdown, shutdown
    assert "exit code -9" not in shutdown, shutdown
