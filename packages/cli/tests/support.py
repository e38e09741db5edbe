"""Helpers shared by the CLI tests (imported by test modules; never imports one)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent_runtime_cli.embedded import find_free_ports


def process_is_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie left for init to reap."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], timeout_s: float = 10, message: str = "") -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s:g}s {message}")
        time.sleep(0.02)


def in_background(action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in a daemon thread."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def run_python_until_line(
    script: str, prefix: str, timeout_s: float = 60
) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -c script`` and wait for its first stdout line starting with ``prefix``.

    Returns:
        The process (still running) and that line.
    """
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    for line in process.stdout:
        if line.startswith(prefix):
            return process, line.strip()
        assert time.monotonic() < deadline, f"no {prefix!r} line in time"
    raise AssertionError(f"the script exited (code {process.wait()}) before printing {prefix!r}")


class DevStack:
    """``agent-runtime dev`` as a subprocess on free ports, its output in ``data_dir/dev.log``."""

    def __init__(self, data_dir: Path) -> None:
        """Pick the ports; nothing starts until `start`."""
        self.data_dir = data_dir
        # Six distinct ports; the dev command holds each from its start until its server binds it.
        ports = find_free_ports("127.0.0.1", 6)
        self.api_port, self.temporal_port, self.ui_port = ports[:3]
        self.postgres_port, self.redis_port, self.s3_port = ports[3:]
        self.log_path = data_dir / "dev.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.api_key = ""
        """The admin API key the dev command printed when it last started."""

    @property
    def api(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def auth(self) -> dict[str, str]:
        """Headers carrying the dev admin key."""
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def state_dir(self) -> Path:
        """The ``--data-dir`` of the stack."""
        return self.data_dir / "state"

    def output(self) -> str:
        """Everything the stack printed so far."""
        return self.log_path.read_text()

    def start(self) -> None:
        """Start the stack and wait until it says it is up."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_") and k != "DATABASE_URL"
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "agent_runtime_cli", "dev", "--data-dir", str(self.state_dir)),
                    *("--api-port", str(self.api_port), "--temporal-port", str(self.temporal_port)),
                    *("--temporal-ui-port", str(self.ui_port), "--postgres-port", str(self.postgres_port)),
                    *("--redis-port", str(self.redis_port), "--s3-port", str(self.s3_port)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 120
        while "Press Ctrl-C to stop." not in self.output()[offset:]:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.2)
        output = self.output()[offset:]
        assert "Agent Runtime is up." in output, output
        found = re.search(r"^  API key +(ar_\S+)$", output, re.MULTILINE)
        assert found, output
        self.api_key = found.group(1)
        assert f"curl -H 'Authorization: Bearer {self.api_key}' {self.api}/v1/agents" in output

    def child_pid(self, name: str) -> int:
        """Pid of the last start of the supervised child ``name`` (``api``, ``worker``)."""
        found = re.findall(rf"(?:started|restarted) {name} \(pid (\d+)\)", self.output())
        assert found, self.output()
        return int(found[-1])

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and wait for the stack to exit; return its exit code."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=90)
