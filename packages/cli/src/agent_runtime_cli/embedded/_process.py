"""Process plumbing shared by the supervisor and the embedded servers (internal).

Children run in their own session so that a Ctrl-C in the terminal reaches only us and we decide
the shutdown order. On Linux they also get ``PR_SET_PDEATHSIG`` so that they die with us even when
we are killed with SIGKILL and never get to run our shutdown code.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[[int, int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int

    def call(option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
        return int(prctl(option, arg2, arg3, arg4, arg5))

    return call


# Resolved once at import time: the pre-exec hook runs between fork and exec, where loading a
# library (taking the loader lock another thread may hold) is not safe.
_prctl = _load_prctl()


def child_preexec_fn(death_signal: int | None) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child receive ``death_signal`` when we die.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not the process.
    A child spawned from a short-lived worker thread would be killed when that thread finishes, so
    the hook is only installed when spawning from the main thread.

    Args:
        death_signal: Signal the child gets when its parent dies; ``None`` disables the feature.

    Returns:
        The hook, or ``None`` when not applicable (not Linux, not the main thread, disabled).
    """
    if death_signal is None or _prctl is None:
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = _prctl
    parent_pid = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        # We may have died between fork() and prctl(); then nobody would ever signal the child.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def process_exists(pid: int) -> bool:
    """Return whether a process with ``pid`` exists (zombies included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_is_running(pid: int) -> bool:
    """Return whether ``pid`` exists and is not a zombie (exited, waiting to be reaped)."""
    if not process_exists(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS) or gone meanwhile: trust kill(pid, 0)
    # The state follows the parenthesised command name, which may itself contain ") ".
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def process_group_exists(pgid: int) -> bool:
    """Return whether any process is left in the process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_process_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to the process group ``pgid``, ignoring an already empty group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def terminate_process_group(
    process: subprocess.Popen[bytes],
    *,
    grace_period_s: float,
    force: Callable[[], bool] | None = None,
) -> int:
    """Stop a child started with ``start_new_session=True`` together with its descendants.

    Sends SIGTERM to the child's process group, waits up to ``grace_period_s`` for the child and
    the rest of its group to exit, then sends SIGKILL to whatever is left.

    Args:
        process: The child; its pid is also its process group id.
        grace_period_s: How long to wait between SIGTERM and SIGKILL.
        force: Polled while waiting; when it returns ``True`` we skip to SIGKILL at once.

    Returns:
        The child's return code.
    """
    pgid = process.pid
    signal_process_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_period_s
    while time.monotonic() < deadline:
        if force is not None and force():
            break
        if process.poll() is not None and not process_group_exists(pgid):
            break
        time.sleep(0.05)
    # Also reaches grandchildren that outlived the leader or ignored SIGTERM.
    signal_process_group(pgid, signal.SIGKILL)
    return process.wait()


def read_proc_cmdline(pid: int) -> list[str] | None:
    """Return the argv of ``pid`` from ``/proc`` (Linux), or ``None`` when unavailable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_proc_cwd(pid: int) -> Path | None:
    """Return the working directory of ``pid`` from ``/proc`` (Linux), or ``None``."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def tail_file(path: Path, *, max_lines: int = 30) -> str:
    """Return the last ``max_lines`` lines of a log file, or an empty string if unreadable."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode(errors="replace").splitlines()
    return "\n".join(lines[-max_lines:])
