"""The dev-stack supervisor: real child processes and real signals."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agent_runtime_cli.embedded.supervisor import ShutdownRequested, Supervisor

from ..support import in_background, process_is_alive, wait_until  # noqa: TID252 - tests are no installed package

pytestmark = pytest.mark.timeout(60)

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


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


def test_killed_child_is_restarted_and_the_others_stay_up() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output, restart_initial_delay_s=0.2)
    api = supervisor.start("api", [sys.executable, "-c", SLEEPER])
    worker = supervisor.start("worker", [sys.executable, "-c", SLEEPER])
    new_worker_pids: list[int] = []

    def kill_the_worker_then_stop() -> None:
        wait_until(lambda: supervisor.state == "running" and output.getvalue().count("ready") == 2)
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: "restarted worker" in output.getvalue() and output.getvalue().count("ready") == 3)
        new_worker_pids.append(int(re.findall(r"restarted worker \(pid (\d+)\)", output.getvalue())[0]))
        assert process_is_alive(api.pid)
        supervisor.request_stop()

    in_background(kill_the_worker_then_stop)

    assert supervisor.run() == 0
    text = output.getvalue()
    assert "worker exited with code -9; restarting it in 0.2 s (the rest of the stack stays up)" in text
    assert "stopping the others" not in text
    assert new_worker_pids and new_worker_pids[0] != worker.pid
    assert not process_is_alive(new_worker_pids[0])
    assert not process_is_alive(api.pid)


def test_child_crashing_fast_again_and_again_is_given_up_with_a_clear_message() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output, restart_initial_delay_s=0.05, max_fast_crashes=3)
    sleeper = supervisor.start("api", [sys.executable, "-c", SLEEPER])
    supervisor.start("worker", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])

    started = time.monotonic()
    assert supervisor.run() == 3
    text = output.getvalue()
    # Backoff doubles: 0.05 s, then 0.1 s, then the third crash gives up.
    assert "restarting it in 0.05 s" in text
    assert "restarting it in 0.1 s" in text
    assert "crashed 3 times in a row, each within 30 s of starting. Giving up on it" in text
    assert text.count("[worker") >= 3 and re.search(r"^\[worker\] +boom$", text, re.MULTILINE)
    assert time.monotonic() - started < 20
    assert not process_is_alive(sleeper.pid)


def test_child_started_without_restart_stops_the_stack_with_its_exit_code() -> None:
    output = io.StringIO()
    supervisor = Supervisor(output=output)
    sleeper = supervisor.start("api", [sys.executable, "-c", SLEEPER])
    supervisor.start("once", [sys.executable, "-c", "import sys; sys.exit(3)"], restart=False)

    assert supervisor.run() == 3
    assert "once exited with code 3; stopping the others" in output.getvalue()
    assert not process_is_alive(sleeper.pid)


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


def test_dead_attached_server_without_restart_stops_the_stack() -> None:
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


def test_dead_attached_server_is_restarted_and_the_stack_stays_up() -> None:
    output = io.StringIO()
    alive = [True]
    restarts: list[float] = []
    supervisor = Supervisor(output=output, service_check_interval_s=0.05, restart_initial_delay_s=0.1)

    def restart() -> None:
        restarts.append(time.monotonic())
        if len(restarts) == 1:
            raise RuntimeError("port still busy")  # a failed restart is retried with backoff
        alive[0] = True

    supervisor.attach("valkey", stop=lambda: None, is_alive=lambda: alive[0], restart=restart)
    child = supervisor.start("api", [sys.executable, "-c", SLEEPER])

    def die_then_stop() -> None:
        wait_until(lambda: supervisor.state == "running")
        time.sleep(0.2)
        alive[0] = False
        wait_until(lambda: "restarted valkey" in output.getvalue())
        assert process_is_alive(child.pid)
        supervisor.request_stop()

    in_background(die_then_stop)

    assert supervisor.run() == 0
    text = output.getvalue()
    assert "valkey is no longer running; restarting it in 0.1 s" in text
    assert "valkey failed to restart: port still busy; restarting it in 0.2 s" in text
    assert len(restarts) == 2


def test_one_ctrl_c_delivered_twice_still_drains_gracefully() -> None:
    # `uv run` forwards the SIGINT the terminal already sent us: two signals, one Ctrl-C.
    draining = (
        "import signal, sys, time\n"
        "def drain(*_):\n"
        "    time.sleep(1); print('drained', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, drain)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    output = io.StringIO()
    supervisor = Supervisor(output=output, grace_period_s=10)
    with supervisor:
        worker = supervisor.start("worker", [sys.executable, "-c", draining])

        def ctrl_c_through_uv() -> None:
            wait_until(lambda: supervisor.state == "running" and "ready" in output.getvalue())
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

        in_background(ctrl_c_through_uv)
        code = supervisor.run()

    assert code == 130
    assert worker.returncode == 0
    text = output.getvalue()
    assert "drained" in text
    assert "worker stopped (exit code 0)" in text
    assert "ignored 1 more signal(s) that came within 2 s of the first" in text


def test_a_signal_after_the_force_window_skips_the_grace_period() -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    output = io.StringIO()
    supervisor = Supervisor(output=output, grace_period_s=30, force_after_s=0.3)
    with supervisor:
        worker = supervisor.start("worker", [sys.executable, "-c", stubborn])

        def ctrl_c_twice() -> None:
            wait_until(lambda: supervisor.state == "running" and "ready" in output.getvalue())
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.6)
            os.kill(os.getpid(), signal.SIGINT)

        in_background(ctrl_c_twice)
        started = time.monotonic()
        assert supervisor.run() == 130

    assert time.monotonic() - started < 10
    assert worker.returncode == -signal.SIGKILL


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
