"""Port helpers."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from agent_runtime_cli.embedded.ports import (
    PortInUseError,
    ensure_port_free,
    find_free_port,
    wait_for_port,
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


def test_wait_for_port_returns_once_something_listens() -> None:
    port = find_free_port()
    listener = socket.socket()

    def listen_later() -> None:
        time.sleep(0.3)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    thread = threading.Thread(target=listen_later)
    thread.start()
    try:
        wait_for_port("127.0.0.1", port, timeout_s=5)
    finally:
        thread.join()
        listener.close()


def test_wait_for_port_times_out() -> None:
    port = find_free_port()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=str(port)):
        wait_for_port("127.0.0.1", port, timeout_s=0.3)
    assert time.monotonic() - started < 2
