"""Port helpers."""

from __future__ import annotations

import os
import socket

import pytest

from agent_runtime_cli.embedded.ports import (
    PortInUseError,
    PortReservations,
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


@pytest.mark.parametrize("reuse_address", [True, False])
def test_a_reserved_port_cannot_be_bound_by_anyone_until_released(reuse_address: bool) -> None:
    """What the dev command relies on: between its check and its server's start, no other
    process binds the port, even one asking for ``SO_REUSEADDR`` (which Linux lets share a port
    that is merely bound), and the port the kernel hands out for ``bind(0)`` is never it."""
    port = find_free_port()
    with PortReservations() as held:
        held.reserve("127.0.0.1", port, what="API", hint="use --api-port")
        with socket.socket() as other:
            if reuse_address:
                other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="in use"):
                other.bind(("127.0.0.1", port))
        with pytest.raises(PortInUseError, match="use --api-port"):
            ensure_port_free("127.0.0.1", port, what="API", hint="use --api-port")
        held.release("127.0.0.1", port)
        ensure_port_free("127.0.0.1", port, what="API", hint="")
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()


def test_reserving_a_taken_port_says_who_and_reserve_if_free_leaves_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with PortReservations() as held:
            with pytest.raises(PortInUseError, match=f"Port {port} \\(Postgres\\)"):
                held.reserve("127.0.0.1", port, what="Postgres", hint="")
            assert not held.reserve_if_free("127.0.0.1", port, what="Postgres")
            held.release("127.0.0.1", port)  # not held: nothing to do


def test_closing_the_reservations_lets_every_port_go() -> None:
    first, second = find_free_port(), find_free_port()
    with PortReservations() as held:
        assert held.reserve_if_free("127.0.0.1", first, what="a")
        held.reserve("127.0.0.1", second, what="b", hint="")
        held.reserve("127.0.0.1", 0, what="none", hint="")  # 0: nothing to hold
    ensure_port_free("127.0.0.1", first, what="a", hint="")
    ensure_port_free("127.0.0.1", second, what="b", hint="")
