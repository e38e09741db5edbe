"""TCP port helpers: fail early and clearly when a port is taken, find free ports, wait for one."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

__all__ = ["PortInUseError", "ensure_port_free", "find_free_port", "find_free_ports"]

_TCP_LISTEN_STATE = "0A"


class PortInUseError(RuntimeError):
    """A port we need to listen on is already taken by another process."""

    def __init__(self, host: str, port: int, *, what: str, hint: str, owner: str | None = None):
        """Build the message the user sees.

        Args:
            host: Address we wanted to bind.
            port: The port that is taken.
            what: What the port is for, e.g. ``"Temporal frontend"``.
            hint: What the user can do about it, appended verbatim.
            owner: Description of the process holding the port, when known.
        """
        self.host = host
        self.port = port
        self.what = what
        self.hint = hint
        self.owner = owner
        held_by = f" (held by {owner})" if owner else ""
        message = f"Port {port} ({what}) on {host} is already in use{held_by}."
        if hint:
            message = f"{message} {hint}"
        super().__init__(message)


def ensure_port_free(host: str, port: int, *, what: str, hint: str, wait_s: float = 0) -> None:
    """Raise `PortInUseError` if nothing can listen on ``host:port`` right now.

    We try to bind the port the way servers do (``SO_REUSEADDR``, so connections lingering in
    TIME_WAIT after a previous run do not count as "in use"). Linux refuses that bind when any
    socket listens on the port, including one bound to the wildcard address.

    Args:
        host: Address the server will bind, e.g. ``"127.0.0.1"``.
        port: TCP port the server will listen on.
        what: What the port is for, shown in the error (``"Temporal frontend"``).
        hint: How to resolve the conflict, appended to the error message
            (``"Stop the process using it or choose another port with --temporal-port."``).

        wait_s: Keep trying this long before refusing: a server just stopped (a leftover we
            killed) may hold its sockets a moment longer than its process shows it alive (a
            multi-threaded process is a zombie while its other threads still exit).

    Raises:
        PortInUseError: Something already listens on the port.
        OSError: The port cannot be bound for another reason (e.g. unknown address).
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            _bind_once(host, port, what=what, hint=hint)
            return
        except PortInUseError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _bind_once(host: str, port: int, *, what: str, hint: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    host, port, what=what, hint=hint, owner=describe_port_owner(port)
                ) from error
            raise


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free at the time of the call.

    The port is not reserved: another process may grab it before ours binds it. That is fine for
    tests and local development, where collisions are rare and fail loudly.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def find_free_ports(host: str, count: int) -> list[int]:
    """Return ``count`` distinct TCP ports on ``host`` that are free at the time of the call.

    All sockets stay bound until every port is chosen, so the kernel cannot hand out one twice.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def describe_port_owner(port: int) -> str | None:
    """Best-effort ``"pid 123 (postgres)"`` for the process listening on ``port`` (Linux only).

    Returns ``None`` when unknown: not Linux, or the owner belongs to a user we cannot inspect.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN_STATE:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        name = (entry / "comm").read_text().strip()
                        return f"pid {entry.name} ({name})"
    return None


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: IPv6 addresses in brackets (``[::1]``)."""
    return f"[{host}]" if ":" in host else host
