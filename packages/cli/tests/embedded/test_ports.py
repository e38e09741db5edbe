"""Port helpers."""

from __future__ import annotations

import os
import socket

import pytest

from agent_runtime_cli.embedded.ports import (
    PortInUseError,
    ensure_port_free,
    find_free_port,
)

HINT = (
    "Stop the process using it or choose another port with --temporal-port / AGENT_RUNTIME_DEV_TEMPORAL_PORT."
)


def test_port_in_use_error_names_port_purpose_and_hint() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(PortInUseError) as caught:
            ensure_port_free("127.0.0.1", port, what="Temporal frontend", hint=HINT)

    message = str(caught.value)
    assert message.startswith(f"Port {port} (Temporal frontend) on 127.0.0.1 is already in use")
    assert message.endswith(HINT)
    assert caught.value.port == port


def test_port_in_use_error_names_the_owner_when_visible() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            ensure_port_free("127.0.0.1", port, what="Postgres", hint="")

    if caught.value.owner is not None:  # needs /proc (Linux)
        assert f"pid {os.getpid()} " in caught.value.owner


def test_listener_on_wildcard_address_counts_as_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUseError):
            ensure_port_free("127.0.0.1", port, what="API", hint="")


def test_free_port_passes_and_can_be_bound() -> None:
    port = find_free_port()
    ensure_port_free("127.0.0.1", port, what="API", hint="")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_waiting_for_a_port_a_stopping_server_still_holds() -> None:
    """A leftover server just killed may hold its port a moment longer (its threads still exit):
    with ``wait_s`` the check gives it that moment; without, it refuses at once."""
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    with pytest.raises(PortInUseError):
        ensure_port_free("127.0.0.1", port, what="test", hint="")
    closer = threading.Timer(0.3, listener.close)
    closer.start()
    started = time.monotonic()
    ensure_port_free("127.0.0.1", port, what="test", hint="", wait_s=10)
    assert 0.2 < time.monotonic() - started < 5
    closer.join()
