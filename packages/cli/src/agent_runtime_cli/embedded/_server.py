"""The lifecycle every embedded server shares (internal): Temporal, Valkey and Postgres.

Each server is one child process with its state in a data directory. The same things must hold
for all of them, so they live here once:

- **It dies with its owner.** The child runs in its own session (a Ctrl-C in the terminal reaches
  only the owner, which stops things in order) and, on Linux, gets a parent-death signal. The
  signal is armed in the child *after* the switch to another OS user (Postgres as root), so it
  survives that switch; it is not inherited by the server's own children, which exit when the
  server does.
- **A server left by a previous owner is found from the data directory** on the next start (a pid
  file, checked against ``/proc`` so a reused pid is never signalled) and either stopped
  (Temporal, Valkey) or reused (Postgres: adopting a running cluster is cheaper and safe).
- **Stopping is bounded:** the server's stop signal, a grace period, then SIGKILL to its process
  group.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Final, Protocol, Self

from agent_runtime_cli.embedded._process import (
    child_preexec_fn,
    process_group_exists,
    process_is_running,
    signal_process_group,
    tail_file,
)

__all__ = ["EmbeddedServer", "RunAs"]

logger = logging.getLogger(__name__)

LEFTOVER_PORT_WAIT_S: Final = 10.0
"""How long `prepare` waits for the ports of a leftover server it just stopped to be released."""

_LOG_ROTATE_BYTES = 10_000_000


class RunAs(Protocol):
    """The OS identity a server process runs as (Postgres when we are root: ``_os_user.OsUser``)."""

    @property
    def uid(self) -> int:
        """User id."""
        ...

    @property
    def gid(self) -> int:
        """Primary group id."""
        ...

    @property
    def groups(self) -> tuple[int, ...]:
        """Supplementary groups."""
        ...


class EmbeddedServer(abc.ABC):
    """One server process with its pid file and log in ``data_dir``.

    Subclasses say how to run the server (`command`), how to tell it is ready (`check_ready`) and
    how to recognise a server of theirs left behind (`is_own_server`).
    """

    display_name: ClassVar[str] = "server"
    """Used in messages: ``"Valkey"``, ``"Temporal dev server"``."""
    error_type: ClassVar[type[RuntimeError]] = RuntimeError
    """Raised when the server exits or is not ready in time."""
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    """Asks the server to shut down cleanly; also its parent-death signal."""
    signal_group_on_stop: ClassVar[bool] = True
    """Send `stop_signal` to the whole process group (``False``: the leader only, e.g. Postgres,
    whose children must not be signalled behind the postmaster's back)."""
    reuse_leftover: ClassVar[bool] = False
    """Adopt a running server found in the data directory instead of stopping it."""

    def __init__(self, data_dir: Path, *, grace_period_s: float) -> None:
        """Describe the server; nothing starts until `start`.

        Args:
            data_dir: Directory for the pid file, the log and the server's state.
            grace_period_s: Time between `stop_signal` and SIGKILL on `stop`.
        """
        self.data_dir = data_dir
        self.grace_period_s = grace_period_s
        self._process: subprocess.Popen[bytes] | None = None
        self._adopted_pid: int | None = None
        self._log_file: IO[bytes] | None = None
        self.stopped_leftover = False
        """Whether `start_process` just stopped a server left over by an earlier owner (its
        ports may take a moment to be released: `prepare` waits for them)."""

    # ------------------------------------------------------------------------ to override

    @property
    @abc.abstractmethod
    def pid_path(self) -> Path:
        """File naming the running server's pid."""

    @property
    @abc.abstractmethod
    def log_path(self) -> Path:
        """File receiving the server's output."""

    @abc.abstractmethod
    def command(self) -> list[str]:
        """The command line `start` runs."""

    @abc.abstractmethod
    def check_ready(self) -> bool:
        """One readiness probe; may raise ``OSError`` (kept as the last error)."""

    @abc.abstractmethod
    def is_own_server(self, pid: int) -> bool:
        """Whether the live process ``pid`` is a server of this data directory."""

    def read_pid_file(self) -> int | None:
        """The pid recorded in `pid_path`, if any."""
        try:
            return int(self.pid_path.read_text().split("\n", 1)[0].strip())
        except (OSError, ValueError):
            return None

    def write_pid_file(self, pid: int) -> None:
        """Record ``pid`` (Postgres writes its own ``postmaster.pid``: override to do nothing)."""
        self.pid_path.write_text(f"{pid}\n")

    def prepare(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Get the data directory ready before the process starts (config files, ...)."""

    def run_as(self) -> RunAs | None:
        """The identity to run the server as; ``None``: ourselves."""
        return None

    def environment(self) -> Mapping[str, str] | None:
        """The server's environment; ``None``: ours."""
        return None

    # -------------------------------------------------------------------------- lifecycle

    @property
    def pid(self) -> int | None:
        """Pid of the running server (started or adopted by us), else ``None``."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        if self._adopted_pid is not None and self.is_own_server(self._adopted_pid):
            return self._adopted_pid
        return None

    def is_running(self) -> bool:
        """Whether the server we started (or adopted) is alive."""
        return self.pid is not None

    def leftover_pid(self) -> int | None:
        """Pid of a live server of this data directory that we did not start, if any."""
        pid = self.read_pid_file()
        if pid is None or (self._process is not None and pid == self._process.pid):
            return None
        if process_is_running(pid) and self.is_own_server(pid):
            return pid
        return None

    def start_process(self) -> None:
        """Start the server process unless it runs (returns at once; see `wait_ready`).

        A server of this data directory left by an earlier owner is stopped first, or adopted
        when `reuse_leftover` is set.
        """
        if self.pid is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        leftover = self.leftover_pid()
        if leftover is not None and self.reuse_leftover:
            logger.info(
                "%s in %s is already running (pid %d); using it", self.display_name, self.data_dir, leftover
            )
            self._adopted_pid = leftover
            return
        if leftover is not None:
            logger.warning("Stopping a %s left over by a previous run (pid %d)", self.display_name, leftover)
            self._terminate(leftover)
        self.stopped_leftover = leftover is not None
        self.prepare()
        argv = self.command()
        self._open_log(argv)
        identity = self.run_as()
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=self.environment(),
                # Our own session: a Ctrl-C in the terminal must not stop the server before the
                # API and worker that use it.
                start_new_session=True,
                preexec_fn=child_preexec_fn(self.stop_signal),
                user=identity.uid if identity else None,
                group=identity.gid if identity else None,
                extra_groups=list(identity.groups) if identity else None,
            )
        except BaseException:
            self._close_log()
            raise
        self._adopted_pid = None
        self.write_pid_file(self._process.pid)
        logger.info("Started %s (pid %d)", self.display_name, self._process.pid)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until `check_ready` succeeds.

        Raises:
            RuntimeError: (`error_type`) the server exited or was not ready within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        last_error: BaseException | None = None
        while True:
            self.raise_if_exited()
            try:
                if self.check_ready():
                    return
            except OSError as error:
                last_error = error
            if time.monotonic() > deadline:
                raise self.error_type(
                    f"{self.display_name} was not ready within {timeout_s:g}s (last error: {last_error}). "
                    f"Last lines of {self.log_path}:\n{tail_file(self.log_path)}"
                )
            time.sleep(0.05)

    def raise_if_exited(self) -> None:
        """Raise `error_type` with the end of the log if the server is not running."""
        process = self._process
        if process is None:
            if self._adopted_pid is not None and self.is_running():
                return
            raise self.error_type(f"{self.display_name} is not running")
        code = process.poll()
        if code is not None:
            raise self.error_type(
                f"{self.display_name} exited with code {code}. Last lines of {self.log_path}:\n"
                f"{tail_file(self.log_path)}"
            )

    def stop(self) -> None:
        """Stop the server: `stop_signal`, then SIGKILL after the grace period. Idempotent.

        An adopted server is stopped too: whoever calls `stop` wants the data directory free.
        """
        process, self._process = self._process, None
        adopted, self._adopted_pid = self._adopted_pid, None
        if process is not None:
            self._terminate(process.pid, process)
            logger.info("%s exited with code %s", self.display_name, process.returncode)
        elif adopted is not None and self.is_own_server(adopted):
            self._terminate(adopted)
        self._close_log()

    def close(self) -> None:
        """What leaving the ``with`` block does: `stop` (servers that own more, such as a
        temporary data directory, release it here too)."""
        self.stop()

    def __enter__(self) -> Self:
        self.start_process()
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------------------- internals

    def _terminate(self, pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
        """Stop ``pid`` (our child ``process`` or a leftover) and what is left in its group."""
        # Leftovers we started earlier lead their own group; one started otherwise may not.
        leads_group = process is not None or _process_group(pid) == pid
        if self.signal_group_on_stop and leads_group:
            signal_process_group(pid, self.stop_signal)
        else:
            with contextlib.suppress(OSError):
                os.kill(pid, self.stop_signal)
        deadline = time.monotonic() + self.grace_period_s
        while time.monotonic() < deadline:
            if process is not None:
                if process.poll() is not None and not process_group_exists(pid):
                    break
            elif not process_is_running(pid):
                break
            time.sleep(0.05)
        # Also reaches children that outlived the leader or ignored the signal.
        if leads_group:
            signal_process_group(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        if process is not None:
            process.wait()
        else:
            while process_is_running(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
        if self.read_pid_file() == pid:
            with contextlib.suppress(OSError):
                self.pid_path.unlink()

    def _open_log(self, argv: Sequence[str]) -> None:
        self._close_log()  # the previous run's, after a crash
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"\n--- starting: {' '.join(argv)}\n".encode())
        self._log_file.flush()
        identity = self.run_as()
        if identity is not None:
            # Owned like the rest of its data directory, as when the server wrote it itself.
            with contextlib.suppress(OSError):
                os.chown(self.log_path, identity.uid, identity.gid)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
