"""Run the dev stack's processes together and tear them down in order.

The ``agent-runtime dev`` shape::

    postgres = EmbeddedPostgres(data_dir / "postgres", port=pg_port)
    temporal = TemporalDevServer(data_dir / "temporal", search_attributes=...)
    with Supervisor() as supervisor:  # SIGINT/SIGTERM now raise ShutdownRequested
        # Attach *before* starting: a signal arriving mid-start still stops what was started.
        supervisor.attach(
            "postgres", stop=postgres.stop, is_alive=postgres.is_running, restart=postgres.start
        )
        database_url = postgres.start()
        supervisor.attach("temporal", stop=temporal.stop, is_alive=temporal.is_running, restart=...)
        temporal.start()
        temporal.wait_ready()
        if supervisor.call("migrate", [..., "migrate"], env=env) != 0:
            return 1
        supervisor.start("api", [..., "api"], env=env)
        supervisor.start("worker", [..., "worker"], env=env)
        return supervisor.run()  # until Ctrl-C, restarting whatever dies meanwhile
    # Leaving the block stops worker, api, Temporal, Postgres: reverse order of registration.

The stack demonstrates durability, so it must survive what it demonstrates: a child that dies
(``kill -9`` of the worker, a crashed Valkey) is **restarted** with exponential backoff (1 s, 2 s,
4 s, ... capped at 30 s; a child that ran 30 s resets it) while everything else keeps running.
Only after 5 crashes in a row, each within 30 s of its start, does the supervisor give up on it;
it says so and stops the stack. Attached servers are restarted through their ``restart``
callable.

``run`` returns the exit code (128 + signal number after a signal; the code of the child given up
on); a signal during setup propagates as `ShutdownRequested` (a ``KeyboardInterrupt``) carrying
the exit code, after everything registered has been stopped.

Children run in their own session (process group) so the terminal's Ctrl-C reaches only us and
we choose the order; stopping a child sends SIGTERM to its whole group, waits a grace period,
then SIGKILLs the group. On Linux each child also gets ``PR_SET_PDEATHSIG`` so it does not
outlive us even if we are SIGKILLed.

One Ctrl-C always drains gracefully. It can reach us twice (``uv run`` forwards the SIGINT the
terminal already sent us, and SIGTERM to a process group reaches both), so a signal only forces
the shutdown (skipping the grace periods, which cuts in-flight model calls that then run again)
when it comes ``force_after_s`` (2 s) or more after the first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Literal, TextIO

from agent_runtime_cli.embedded._process import child_preexec_fn, terminate_process_group

__all__ = ["ShutdownRequested", "Supervisor"]

_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_COLORS = ("36", "33", "32", "35", "34", "31", "96", "93")
_State = Literal["setup", "running", "stopping", "stopped"]
_NEVER = float("inf")
_SignalHandler = Callable[[int, FrameType | None], Any] | int


class ShutdownRequested(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while the stack was still being set up."""

    def __init__(self, signum: int) -> None:
        """Record the signal.

        Args:
            signum: The signal received.
        """
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """Conventional exit code for death by this signal (130 for SIGINT)."""
        return 128 + self.signum


@dataclass
class _Restarts:
    """When a unit last started and how many times in a row it died soon after."""

    started_at: float = field(default_factory=time.monotonic)
    fast_crashes: int = 0
    restart_at: float = _NEVER
    """When the pending restart is due; `_NEVER` while the unit runs."""


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    grace_period_s: float
    spawn: Callable[[], subprocess.Popen[bytes]]
    """Starts the same command again."""
    restart: bool
    reader: threading.Thread | None = None
    restarts: _Restarts = field(default_factory=_Restarts)


@dataclass
class _Service:
    name: str
    stop: Callable[[], None]
    is_alive: Callable[[], bool] | None = None
    restart: Callable[[], object] | None = None
    stopped: bool = field(default=False)
    alive_once: bool = field(default=False)
    restarts: _Restarts = field(default_factory=_Restarts)


class Supervisor:
    """Starts named child processes, forwards their output, and stops everything in order."""

    def __init__(
        self,
        *,
        output: TextIO | None = None,
        grace_period_s: float = 10.0,
        death_signal: int | None = signal.SIGTERM,
        poll_interval_s: float = 0.2,
        service_check_interval_s: float = 1.0,
        restart_initial_delay_s: float = 1.0,
        restart_max_delay_s: float = 30.0,
        stable_after_s: float = 30.0,
        max_fast_crashes: int = 5,
        force_after_s: float = 2.0,
        color: bool | None = None,
        name: str = "supervisor",
    ) -> None:
        """Configure the supervisor.

        Args:
            output: Where prefixed child output and our messages go (default ``sys.stdout``).
            grace_period_s: Default time between SIGTERM and SIGKILL when stopping a child.
            death_signal: Signal children get if we die without cleaning up (Linux only);
                ``None`` disables it.
            poll_interval_s: How often `run` checks whether a child exited.
            service_check_interval_s: How often `run` calls the attached ``is_alive`` checks.
            restart_initial_delay_s: Wait before the first restart of a crashed child; doubled
                after each crash in a row.
            restart_max_delay_s: Cap of that wait.
            stable_after_s: A child that ran this long before dying starts the count afresh.
            max_fast_crashes: Give up (and stop the stack) after this many crashes in a row, each
                within ``stable_after_s`` of the child's start.
            force_after_s: A stop signal arriving this long after the first one forces the
                shutdown; earlier ones are duplicates of the first (``uv run`` forwarding).
            color: Color the prefixes; by default when ``output`` is a terminal and ``NO_COLOR``
                is unset.
            name: Prefix of our own messages.
        """
        self._output: TextIO = output if output is not None else sys.stdout
        self.grace_period_s = grace_period_s
        self.death_signal = death_signal
        self.poll_interval_s = poll_interval_s
        self.service_check_interval_s = service_check_interval_s
        self.restart_initial_delay_s = restart_initial_delay_s
        self.restart_max_delay_s = restart_max_delay_s
        self.stable_after_s = stable_after_s
        self.max_fast_crashes = max_fast_crashes
        self.force_after_s = force_after_s
        self.name = name
        if color is None:
            color = _is_terminal(self._output) and "NO_COLOR" not in os.environ
        self._color = color
        self._units: list[_Child | _Service] = []
        self._names: list[str] = [name]
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._state: _State = "setup"
        self._stop_signal: int | None = None
        self._first_signal_at: float | None = None
        self._ignored_signals = 0
        self._stop_requested = False
        self._force = False
        self._defer_signals = 0
        self._deferred_signal: int | None = None
        self._previous_handlers: dict[int, _SignalHandler] | None = None

    @property
    def state(self) -> str:
        """``"setup"``, ``"running"`` (inside `run`), ``"stopping"`` or ``"stopped"``."""
        return self._state

    # ---------------------------------------------------------------------------- registration

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        cwd: Path | str | None = None,
        grace_period_s: float | None = None,
        forward_output: bool = True,
        restart: bool = True,
    ) -> subprocess.Popen[bytes]:
        """Start a child process that `run` watches (and restarts) and `shutdown` stops.

        Args:
            name: Label used in the output prefix (``[api]``) and messages.
            argv: Program and arguments.
            env: Variables to set for the child, on top of our environment (``PYTHONUNBUFFERED=1``
                is added unless set, so Python children's output shows up promptly).
            inherit_env: Start from our environment; when ``False`` the child gets only ``env``.
            cwd: Working directory.
            grace_period_s: Time between SIGTERM and SIGKILL for this child.
            forward_output: Prefix and forward stdout/stderr lines to our output; when ``False``
                the child writes to our stdout/stderr directly.
            restart: Restart it with backoff when it dies; ``False``: its exit stops the stack.

        Returns:
            The child process.
        """
        child_env = dict(os.environ) if inherit_env else {}
        child_env.setdefault("PYTHONUNBUFFERED", "1")
        child_env.update(env or {})
        self._register_name(name)
        pipe = subprocess.PIPE if forward_output else None

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=pipe,
                stderr=subprocess.STDOUT if forward_output else None,
                env=child_env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=child_preexec_fn(self.death_signal),
            )

        with self._signals_deferred():
            process = spawn()
            child = _Child(
                name=name,
                process=process,
                grace_period_s=self.grace_period_s if grace_period_s is None else grace_period_s,
                spawn=spawn,
                restart=restart,
            )
            self._units.append(child)
        self._start_reader(child)
        self.log(f"started {name} (pid {process.pid})")
        return process

    def attach(
        self,
        name: str,
        *,
        stop: Callable[[], None],
        is_alive: Callable[[], bool] | None = None,
        restart: Callable[[], object] | None = None,
    ) -> None:
        """Register something started elsewhere (an embedded server) for the shutdown sequence.

        Args:
            name: Label used in messages.
            stop: Called once during `shutdown`, in reverse registration order with the children.
                Must be safe to call when the thing never started.
            is_alive: Polled by `run`; when it returns ``False`` the service is restarted (or,
                without ``restart``, the whole stack is stopped). Only consulted once it has
                returned ``True`` (so attaching before starting works).
            restart: Starts it again (and waits until it is ready) after it died; it is retried
                with backoff like a child's restart, and an exception counts as a crash.
        """
        self._register_name(name)
        self._units.append(_Service(name=name, stop=stop, is_alive=is_alive, restart=restart))

    def call(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        cwd: Path | str | None = None,
        timeout_s: float | None = None,
    ) -> int:
        """Run a one-off command (e.g. migrations) to completion with its output forwarded.

        A signal meanwhile stops the command and raises `ShutdownRequested`.

        Returns:
            The command's exit code.

        Raises:
            subprocess.TimeoutExpired: It ran longer than ``timeout_s`` (it is stopped first).
        """
        process = self.start(name, argv, env=env, inherit_env=inherit_env, cwd=cwd, restart=False)
        child = next(u for u in self._units if isinstance(u, _Child) and u.process is process)
        try:
            code = process.wait(timeout=timeout_s)
        except BaseException:
            terminate_process_group(process, grace_period_s=child.grace_period_s)
            self._units.remove(child)
            raise
        # The leader is done; reap anything it left in its group, and the output.
        terminate_process_group(process, grace_period_s=0)
        if child.reader is not None:
            child.reader.join(timeout=2)
        self._units.remove(child)
        return code

    # ----------------------------------------------------------------------------- running

    def run(self) -> int:
        """Restart what dies until SIGINT/SIGTERM, `request_stop` or giving up; then shut down.

        Returns:
            0 after `request_stop`; 128 + the signal number after a signal; the exit code of the
            child given up on or started with ``restart=False`` (128 + N if it was killed by
            signal N); 1 if an attached service was given up on.
        """
        installed = self._install_signal_handlers()
        self._state = "running"
        try:
            code = self._wait_for_reason_to_stop()
        finally:
            self.shutdown()
            if installed:
                self._restore_signal_handlers()
        return code

    def request_stop(self) -> None:
        """Make `run` return and shut everything down. Safe from any thread."""
        self._stop_requested = True
        self._wake.set()

    def shutdown(self) -> None:
        """Stop all children and attached services in reverse order of registration. Idempotent.

        Each child's process group gets SIGTERM, then SIGKILL after its grace period (at once
        after a second signal that came `force_after_s` after the first).
        """
        if self._state == "stopped":
            return
        self._state = "stopping"
        try:
            for unit in reversed(self._units):
                if isinstance(unit, _Child):
                    self._stop_child(unit)
                elif not unit.stopped:
                    unit.stopped = True
                    self.log(f"stopping {unit.name}")
                    try:
                        unit.stop()
                    except Exception as error:
                        self.log(f"failed to stop {unit.name}: {error}")
        finally:
            self._state = "stopped"
            if self._ignored_signals:
                self.log(
                    f"ignored {self._ignored_signals} more signal(s) that came within "
                    f"{self.force_after_s:g} s of the first (not a request to force)"
                )

    def log(self, message: str) -> None:
        """Write one of our own messages, prefixed like the children's output."""
        self._write_line(self.name, message)

    def __enter__(self) -> Supervisor:
        self._install_signal_handlers()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.shutdown()
        finally:
            self._restore_signal_handlers()

    # ------------------------------------------------------------------------------ internals

    def _wait_for_reason_to_stop(self) -> int:
        next_service_check = 0.0
        while True:
            if self._stop_signal is not None:
                name = signal.Signals(self._stop_signal).name
                self.log(
                    f"received {name}, shutting down gracefully "
                    f"(a signal {self.force_after_s:g} s or more after this one forces it)"
                )
                return 128 + self._stop_signal
            if self._stop_requested:
                self.log("shutting down")
                return 0
            for unit in self._units:
                if isinstance(unit, _Child) and unit.restarts.restart_at == _NEVER:
                    code = unit.process.poll()
                    if code is None:
                        continue
                    if unit.reader is not None:
                        unit.reader.join(timeout=1)  # its last words first
                    exit_code = code if code >= 0 else 128 - code
                    if not unit.restart:
                        self.log(f"{unit.name} exited with code {code}; stopping the others")
                        return exit_code
                    if self._crashed(unit, f"exited with code {code}"):
                        return exit_code
            if time.monotonic() >= next_service_check:
                next_service_check = time.monotonic() + self.service_check_interval_s
                for unit in self._units:
                    if not isinstance(unit, _Service) or unit.is_alive is None:
                        continue
                    if unit.restarts.restart_at != _NEVER:
                        continue
                    if unit.is_alive():
                        unit.alive_once = True
                    elif unit.alive_once:
                        if unit.restart is None:
                            self.log(f"{unit.name} is no longer running; stopping the others")
                            return 1
                        if self._crashed(unit, "is no longer running"):
                            return 1
            if self._restart_due_units():
                return 1
            self._wake.wait(self._next_wake())
            self._wake.clear()

    def _crashed(self, unit: _Child | _Service, what: str) -> bool:
        """Schedule the restart of ``unit`` with backoff; ``True`` when giving up on it."""
        restarts = unit.restarts
        if time.monotonic() - restarts.started_at >= self.stable_after_s:
            restarts.fast_crashes = 0
        restarts.fast_crashes += 1
        if restarts.fast_crashes >= self.max_fast_crashes:
            self.log(
                f"{unit.name} {what}; it crashed {restarts.fast_crashes} times in a row, each within "
                f"{self.stable_after_s:g} s of starting. Giving up on it and stopping the others "
                "(its output above says why it fails)."
            )
            return True
        delay = min(self.restart_initial_delay_s * 2 ** (restarts.fast_crashes - 1), self.restart_max_delay_s)
        restarts.restart_at = time.monotonic() + delay
        self.log(f"{unit.name} {what}; restarting it in {delay:g} s (the rest of the stack stays up)")
        return False

    def _restart_due_units(self) -> bool:
        """Restart the units whose backoff has passed; ``True`` when giving up on one."""
        for unit in self._units:
            if unit.restarts.restart_at > time.monotonic():
                continue
            if self._stop_signal is not None or self._stop_requested:
                return False
            unit.restarts.restart_at = _NEVER
            unit.restarts.started_at = time.monotonic()
            if isinstance(unit, _Child):
                if unit.reader is not None:
                    unit.reader.join(timeout=2)
                # Whatever the dead leader left in its group goes before the new one starts.
                terminate_process_group(unit.process, grace_period_s=0)
                with self._signals_deferred():
                    unit.process = unit.spawn()
                self._start_reader(unit)
                self.log(f"restarted {unit.name} (pid {unit.process.pid})")
            elif unit.restart is not None:
                self.log(f"restarting {unit.name}")
                try:
                    unit.restart()
                except Exception as error:
                    if self._crashed(unit, f"failed to restart: {error}"):
                        return True
                else:
                    self.log(f"restarted {unit.name}")
        return False

    def _next_wake(self) -> float:
        due = min((unit.restarts.restart_at for unit in self._units), default=_NEVER)
        return max(0.0, min(self.poll_interval_s, due - time.monotonic()))

    def _start_reader(self, child: _Child) -> None:
        stdout = child.process.stdout
        if stdout is None:
            child.reader = None
            return
        child.reader = threading.Thread(
            target=self._forward_output,
            args=(child.name, stdout),
            name=f"output-{child.name}",
            daemon=True,
        )
        child.reader.start()

    def _stop_child(self, child: _Child) -> None:
        if child.process.poll() is None:
            self.log(f"stopping {child.name}")
        code = terminate_process_group(child.process, grace_period_s=child.grace_period_s, force=self._forced)
        if child.reader is not None:
            child.reader.join(timeout=2)
        self.log(f"{child.name} stopped (exit code {code})")

    def _forced(self) -> bool:
        return self._force

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between bytecodes: set flags only (no I/O, no locks).
        now = time.monotonic()
        if self._first_signal_at is not None:
            # Already stopping. A copy of the first signal (uv run forwarding the Ctrl-C the
            # terminal sent us too) must not turn a graceful drain into SIGKILLs.
            if now - self._first_signal_at >= self.force_after_s:
                self._force = True
            else:
                self._ignored_signals += 1
            return
        self._first_signal_at = now
        if self._state == "running":
            self._stop_signal = signum
            self._wake.set()
        elif self._state == "stopping":
            pass  # already draining gracefully (after request_stop or a child given up on)
        elif self._defer_signals:
            self._deferred_signal = signum
        else:
            self._stop_signal = signum
            raise ShutdownRequested(signum)

    @contextlib.contextmanager
    def _signals_deferred(self) -> Generator[None, None, None]:
        """Hold back ShutdownRequested while a child is between Popen and registration."""
        self._defer_signals += 1
        try:
            yield
        finally:
            self._defer_signals -= 1
        pending = self._deferred_signal
        if pending is not None and not self._defer_signals and self._state == "setup":
            self._deferred_signal = None
            self._stop_signal = pending
            raise ShutdownRequested(pending)

    def _install_signal_handlers(self) -> bool:
        if self._previous_handlers is not None:
            return False
        if threading.current_thread() is not threading.main_thread():
            return False
        previous: dict[int, _SignalHandler] = {}
        for signum in _HANDLED_SIGNALS:
            handler = signal.signal(signum, self._on_signal)
            # None means "installed from C code": the closest we can restore is the default.
            previous[signum] = signal.SIG_DFL if handler is None else handler
        self._previous_handlers = previous
        return True

    def _restore_signal_handlers(self) -> None:
        previous = self._previous_handlers
        if previous is None:
            return
        self._previous_handlers = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _register_name(self, name: str) -> None:
        if name not in self._names:
            self._names.append(name)

    def _prefix(self, name: str) -> str:
        width = max(len(n) for n in self._names) + 2
        label = f"[{name}]".ljust(width)
        if not self._color:
            return label
        color = _COLORS[self._names.index(name) % len(_COLORS)] if name in self._names else "0"
        return f"\x1b[{color}m{label}\x1b[0m"

    def _write_line(self, name: str, line: str) -> None:
        text = f"{self._prefix(name)} {line}\n"
        with self._write_lock, contextlib.suppress(OSError, ValueError):
            self._output.write(text)
            self._output.flush()

    def _forward_output(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self._write_line(name, raw.decode(errors="replace").rstrip("\r\n"))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
