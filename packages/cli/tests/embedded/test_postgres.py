"""The embedded Postgres cluster: real servers in temporary directories."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import LiteralString

import psycopg
import pytest

from agent_runtime_cli.embedded.ports import PortInUseError, find_free_port
from agent_runtime_cli.embedded.postgres import (
    EmbeddedPostgres,
    ensure_database,
    find_postgres_binaries,
    libpq_url,
    pgserver_bindir,
    postgres_reachable,
    remove_orphaned_clusters,
)

from ..support import process_is_alive, run_python_until_line, wait_until  # noqa: TID252 - tests are no installed package

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def postgres(open_tmp_dir: Path, relocation_root: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(
        open_tmp_dir / "postgres", port=find_free_port(), relocation_root=relocation_root
    )
    yield server
    server.delete_data()


def _execute(url: str, statement: LiteralString) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])


def test_data_survives_stop_and_start(postgres: EmbeddedPostgres) -> None:
    url = postgres.start()
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/agent_runtime"
    _execute(url, "CREATE TABLE notes (body text)")
    _execute(url, "INSERT INTO notes VALUES ('kept')")

    postgres.stop()
    assert not postgres.is_running()
    assert not postgres_reachable(url)

    assert postgres.start() == url
    assert _execute(url, "SELECT body FROM notes") == [("kept",)]


def test_listens_on_loopback_with_socket_in_data_dir(postgres: EmbeddedPostgres) -> None:
    url = postgres.start()
    assert _execute(url, "SHOW listen_addresses") == [("127.0.0.1",)]
    assert (postgres.pgdata / f".s.PGSQL.{postgres.port}").is_socket()


def test_start_recovers_after_postmaster_was_killed(postgres: EmbeddedPostgres) -> None:
    url = postgres.start()
    _execute(url, "CREATE TABLE notes (body text)")
    _execute(url, "INSERT INTO notes VALUES ('committed before the crash')")
    pid = _postmaster_pid(postgres)

    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while postgres.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not postgres.is_running()
    assert (postgres.pgdata / "postmaster.pid").exists()  # stale

    postgres.start()
    assert _postmaster_pid(postgres) != pid
    assert _execute(url, "SELECT body FROM notes") == [("committed before the crash",)]


def test_start_ignores_pid_file_naming_an_unrelated_live_process(
    postgres: EmbeddedPostgres,
) -> None:
    postgres.start()
    postgres.stop()
    # After a reboot the old postmaster's pid may belong to any process, e.g. this one.
    (postgres.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{postgres.pgdata}\n")
    assert not postgres.is_running()

    postgres.start()
    assert postgres.is_running()


def test_second_instance_adopts_the_running_cluster(
    postgres: EmbeddedPostgres, relocation_root: Path
) -> None:
    url = postgres.start()
    pid = _postmaster_pid(postgres)

    same_dir = EmbeddedPostgres(postgres.data_dir, port=postgres.port, relocation_root=relocation_root)
    assert same_dir.is_running()
    assert same_dir.start() == url
    assert _postmaster_pid(same_dir) == pid


def test_start_fails_with_hint_when_port_is_taken(open_tmp_dir: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = EmbeddedPostgres(
            open_tmp_dir / "postgres",
            port=port,
            port_hint="Choose another port with --postgres-port.",
        )
        with pytest.raises(PortInUseError, match=r"\(Postgres\).*--postgres-port"):
            server.start()
    server.delete_data()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs Postgres as another user")
def test_cluster_below_unreachable_dir_is_relocated_and_symlinked(
    tmp_path: Path, relocation_root: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    server = EmbeddedPostgres(private / "postgres", port=find_free_port(), relocation_root=relocation_root)
    try:
        url = server.start()
        assert server.data_dir.is_symlink()
        assert server.pgdata.is_relative_to(relocation_root)
        assert server.pgdata.stat().st_uid != 0
        _execute(url, "CREATE TABLE t (x int)")
        server.stop()
        # The symlink leads the next start back to the same cluster.
        again = EmbeddedPostgres(server.data_dir, port=server.port, relocation_root=relocation_root)
        again.start()
        assert _execute(url, "SELECT count(*) FROM t") == [(0,)]
    finally:
        server.delete_data()
    assert not server.data_dir.exists()
    assert private.stat().st_mode & 0o777 == 0o700  # we did not loosen permissions


@pytest.mark.skipif(pgserver_bindir() is None, reason="pgserver is not installed")
def test_pgserver_binaries_run_a_cluster_when_system_ones_are_absent(
    open_tmp_dir: Path, relocation_root: Path
) -> None:
    binaries = find_postgres_binaries(allow_system=False)
    assert binaries.source == "pgserver"
    server = EmbeddedPostgres(
        open_tmp_dir / "postgres",
        port=find_free_port(),
        binaries=binaries,
        relocation_root=relocation_root,
    )
    try:
        url = server.start()
        version = _execute(url, "SHOW server_version")[0][0]
        assert str(version).startswith(f"{binaries.major_version}.")
    finally:
        server.delete_data()


def test_existing_cluster_picks_binaries_of_its_major_version(tmp_path: Path) -> None:
    any_binaries = find_postgres_binaries()
    assert (
        find_postgres_binaries(major_version=any_binaries.major_version).major_version
        == any_binaries.major_version
    )
    with pytest.raises(RuntimeError, match="PostgreSQL 9"):
        find_postgres_binaries(major_version=9)


def test_ensure_database_tolerates_concurrent_creators(postgres: EmbeddedPostgres) -> None:
    postgres.start()
    name = f"race_{uuid.uuid4().hex[:8]}"
    results: list[bool] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            results.append(ensure_database(postgres.admin_url, name))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results.count(True) <= 1
    assert ensure_database(postgres.admin_url, name) is False
    assert postgres_reachable(postgres.url.rsplit("/", 1)[0] + f"/{name}")


def test_unreachable_url_reports_false() -> None:
    assert not postgres_reachable(f"postgresql+psycopg://postgres@127.0.0.1:{find_free_port()}/x")


def _owner_script(data_dir: Path, port: int, relocation_root: Path, *, from_thread: bool) -> str:
    """A process that starts the cluster, prints the postmaster's pid, and waits to be killed."""
    start = (
        f"EmbeddedPostgres({str(data_dir)!r}, port={port}, relocation_root={str(relocation_root)!r}).start()"
    )
    if from_thread:
        # Started from a thread, the parent-death signal cannot be armed (it would fire when the
        # thread ends): the server outlives its owner, like one an old version left behind.
        start = f"t = threading.Thread(target=lambda: {start}); t.start(); t.join()"
    return textwrap.dedent(
        f"""
        import threading, time
        from pathlib import Path
        from agent_runtime_cli.embedded.postgres import EmbeddedPostgres
        {start}
        pid = int((Path({str(data_dir)!r}).resolve() / "postmaster.pid").read_text().split()[0])
        print("postmaster", pid, flush=True)
        time.sleep(120)
        """
    )


def test_postgres_stops_when_its_owner_is_killed_hard(open_tmp_dir: Path, relocation_root: Path) -> None:
    # As root the server runs as the `postgres` user: the parent-death signal must survive that.
    port = find_free_port()
    owner, line = run_python_until_line(
        _owner_script(open_tmp_dir / "pg", port, relocation_root, from_thread=False), "postmaster"
    )
    postmaster = int(line.split()[1])
    assert process_is_alive(postmaster)
    try:
        owner.kill()
        owner.wait()
        wait_until(
            lambda: not process_is_alive(postmaster), timeout_s=20, message="(postmaster outlived its owner)"
        )
        assert not postgres_reachable(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    finally:
        if process_is_alive(postmaster):
            os.kill(postmaster, signal.SIGKILL)
        EmbeddedPostgres(open_tmp_dir / "pg", port=port, relocation_root=relocation_root).delete_data()


def test_postgres_left_running_by_a_dead_owner_is_found_from_its_data_dir(
    open_tmp_dir: Path, relocation_root: Path
) -> None:
    port = find_free_port()
    owner, line = run_python_until_line(
        _owner_script(open_tmp_dir / "pg", port, relocation_root, from_thread=True), "postmaster"
    )
    postmaster = int(line.split()[1])
    owner.kill()
    owner.wait()
    assert process_is_alive(postmaster)  # an orphan holding the port

    server = EmbeddedPostgres(open_tmp_dir / "pg", port=port, relocation_root=relocation_root)
    try:
        url = server.start()  # reused, not a "port in use" error
        assert _postmaster_pid(server) == postmaster
        assert _execute(url, "SELECT 1") == [(1,)]
        server.stop()  # and the next owner can stop it
        assert not process_is_alive(postmaster)
    finally:
        if process_is_alive(postmaster):
            os.kill(postmaster, signal.SIGKILL)
        server.delete_data()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root relocates clusters")
def test_relocated_cluster_is_removed_once_its_temporary_data_dir_is_deleted(
    tmp_path: Path, open_tmp_dir: Path, relocation_root: Path
) -> None:
    private = Path(tempfile.mkdtemp(prefix="ar-test-private-"))  # 0700, like every temp dir
    server = EmbeddedPostgres(private / "pg", port=find_free_port(), relocation_root=relocation_root)
    server.start()
    relocated = server.pgdata
    assert relocated.is_relative_to(relocation_root)
    postmaster = _postmaster_pid(server)
    # The owner dies without stopping anything, and its temporary directory is deleted.
    shutil.rmtree(private)
    assert relocated.exists()

    other = EmbeddedPostgres(open_tmp_dir / "other", port=find_free_port(), relocation_root=relocation_root)
    try:
        other.start()  # any start as root sweeps the relocation root
        assert not relocated.exists()
        assert not Path(f"{relocated}.origin").exists()
        assert not process_is_alive(postmaster)
        assert [p.name for p in (relocation_root / "postgres").iterdir()] == []
    finally:
        other.delete_data()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root relocates clusters")
def test_relocated_cluster_in_use_is_left_alone_by_the_sweep(tmp_path: Path, relocation_root: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", port=find_free_port(), relocation_root=relocation_root)
    try:
        url = server.start()
        assert remove_orphaned_clusters(relocation_root) == []
        assert _execute(url, "SELECT 1") == [(1,)]
    finally:
        server.delete_data()
    assert not (relocation_root / "postgres").exists() or not any((relocation_root / "postgres").iterdir())
