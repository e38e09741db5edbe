"""TCP port helpers: fail early and clearly when a port is taken, find free ports, wait for one."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

__all__ = [
    "PortInUseError",
    "PortReservations",
    "ensure_port_free",
    "find_free_port",
    "find_free_ports",
]

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
    _bind(host, port, what=what, hint=hint).close()


def _bind(host: str, port: int, *, what: str, hint: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port, what=what, hint=hint, owner=describe_port_owner(port)) from error
        raise
    return sock


class PortReservations:
    """Ports a process checked at start-up and will listen on later, held until then.

    The problem: a command that starts several servers checks its ports first (to fail before
    anything starts) but binds some of them a minute later. A port that is merely free in
    between is free for anyone: the kernel hands it out to the next ``bind(0)`` (another
    server's internal ports, a parallel test), and a health probe then talks to a stranger.
    Holding each port with a listening socket (which no other bind can share, ``SO_REUSEADDR``
    or not) closes that window down to the moment `release` hands it to its server.
    """

    def __init__(self) -> None:
        """Hold nothing yet."""
        self._sockets: dict[tuple[str, int], socket.socket] = {}

    def reserve(self, host: str, port: int, *, what: str, hint: str) -> None:
        """Hold ``host:port``; raise `PortInUseError` (as `ensure_port_free`) when it is taken."""
        if port == 0 or (host, port) in self._sockets:
            return
        sock = _bind(host, port, what=what, hint=hint)
        sock.listen(1)
        self._sockets[(host, port)] = sock

    def reserve_if_free(self, host: str, port: int, *, what: str) -> bool:
        """Hold ``host:port`` if it is free; leave a taken one to its server's own start.

        For servers whose start finds (and stops or reuses) a leftover of their own on the port.
        """
        try:
            self.reserve(host, port, what=what, hint="")
        except PortInUseError:
            return False
        return True

    def release(self, host: str, port: int) -> None:
        """Let go of ``host:port`` just before its server binds it (a no-op when not held)."""
        sock = self._sockets.pop((host, port), None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Let go of every port still held."""
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    def __enter__(self) -> PortReservations:
        """Used as a context manager: every port is let go at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Let go of every port still held."""
        self.close()


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
