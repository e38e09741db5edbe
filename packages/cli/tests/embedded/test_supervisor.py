"""The dev-stack supervisor: real child processes and real signals."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_runtime_cli.embedded.supervisor import ShutdownRequested, Supervisor

pytestmark = pytest.mark.timeout(60)

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


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


def wait_until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def test_sigterm_stops_every_child_and_returns_143() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output, grace_period_s=5)
    with supervisor:
        api = supervisor.start("api", [sys.executable, "-c", SLEEPER])
        worker = supervisor.start("worker", [sys.executable, "-c", SLEEPER])

        def send_sigterm_once_running() -> None:
            wait_until(lambda: supervisor.state == "running" and output.getvalue().count("ready") == 2)
            os.kill(os.getpid(), signal.SIGTERM)

        in_background(send_sigterm_once_running)
        code = supervisor.run()

    assert code == 128 + signal.SIGTERM
    assert not process_is_alive(api.pid)
    assert not process_is_alive(worker.pid)
    text = output.getvalue()
    assert "[api]" in text
    assert re.search(r"^\[worker\] +ready$", text, re.MULTILINE)
    assert "received SIGTERM" in text
    # Reverse start order.
    assert text.index("stopping worker") < text.index("stopping api")


def test_crashing_child_stops_the_others_and_sets_the_exit_code() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output)
    sleeper = supervisor.start("api", [sys.executable, "-c", SLEEPER])
    supervisor.start(
        "worker",
        [sys.executable, "-c", "import sys, time; time.sleep(0.3); print('boom'); sys.exit(3)"],
    )

    assert supervisor.run() == 3
    assert not process_is_alive(sleeper.pid)
    assert "worker exited with code 3" in output.getvalue()
    assert re.search(r"^\[worker\] +boom$", output.getvalue(), re.MULTILINE)


def test_shutdown_order_covers_attached_servers() -> None:
    output = io.StringIO()
    stopped: list[str] = []
    supervisor = Supervisor(output=output)
    supervisor.attach("postgres", stop=lambda: stopped.append("postgres"))
    supervisor.attach("temporal", stop=lambda: stopped.append("temporal"))
    supervisor.start("api", [sys.executable, "-c", SLEEPER])
    supervisor.start("worker", [sys.executable, "-c", SLEEPER])

    def stop_soon() -> None:
        time.sleep(0.5)
        supervisor.request_stop()

    in_background(stop_soon)

    assert supervisor.run() == 0
    text = output.getvalue()
    assert text.index("stopping worker") < text.index("stopping api")
    assert text.index("stopping api") < text.index("stopping temporal")
    assert stopped == ["temporal", "postgres"]


def test_dead_attached_server_stops_the_stack() -> None:
    alive = [True]
    supervisor = Supervisor(output=io.StringIO(), service_check_interval_s=0.1)
    supervisor.attach("temporal", stop=lambda: None, is_alive=lambda: alive[0])
    child = supervisor.start("api", [sys.executable, "-c", SLEEPER])

    def die_soon() -> None:
        time.sleep(0.5)
        alive[0] = False

    in_background(die_soon)

    assert supervisor.run() == 1
    assert not process_is_alive(child.pid)


def test_child_ignoring_sigterm_is_killed_after_grace_period() -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    output = io.StringIO()
    supervisor = Supervisor(output=output, grace_period_s=0.5)
    child = supervisor.start("stubborn", [sys.executable, "-c", stubborn])
    wait_until(lambda: "ready" in output.getvalue())

    started = time.monotonic()
    supervisor.shutdown()
    assert time.monotonic() - started < 5
    assert child.returncode == -signal.SIGKILL


def test_grandchildren_are_stopped_with_their_parent() -> None:
    spawner = textwrap.dedent(
        """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(grandchild.pid, flush=True)
        time.sleep(60)
        """
    )
    output = io.StringIO()
    supervisor = Supervisor(output=output, grace_period_s=5)
    supervisor.start("spawner", [sys.executable, "-c", spawner])
    wait_until(lambda: output.getvalue().count("\n") >= 2)
    grandchild_pid = int(output.getvalue().splitlines()[-1].split()[-1])
    assert process_is_alive(grandchild_pid)

    supervisor.shutdown()
    wait_until(lambda: not process_is_alive(grandchild_pid), timeout_s=5)


def test_signal_during_setup_stops_what_was_registered_and_propagates() -> None:
    stopped: list[str] = []
    children: list[int] = []
    with (  # noqa: PT012
        pytest.raises(ShutdownRequested) as caught,
        Supervisor(output=io.StringIO()) as supervisor,
    ):
        supervisor.attach("postgres", stop=lambda: stopped.append("postgres"))
        children.append(supervisor.start("api", [sys.executable, "-c", SLEEPER]).pid)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # interrupted by the signal
    assert caught.value.exit_code == 130
    assert stopped == ["postgres"]
    assert not process_is_alive(children[0])


def test_call_runs_a_one_off_command_and_forwards_its_output() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output)
    code = supervisor.call("migrate", [sys.executable, "-c", "print('migrated'); exit(4)"])
    assert code == 4
    assert "[migrate" in output.getvalue()
    assert "migrated" in output.getvalue()
    supervisor.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_children_die_when_the_supervisor_is_killed() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from agent_runtime_cli.embedded.supervisor import Supervisor
        supervisor = Supervisor()
        child = supervisor.start("child", [sys.executable, "-c", {SLEEPER!r}], forward_output=False)
        print("child", child.pid, flush=True)
        supervisor.run()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = 0
    for line in parent.stdout:
        if line.startswith("child "):
            child_pid = int(line.split()[1])
            break
    assert child_pid
    assert process_is_alive(child_pid)

    parent.kill()  # SIGKILL: no cleanup code runs in the supervisor
    parent.wait()
    wait_until(lambda: not process_is_alive(child_pid), timeout_s=5)
