"""A private Postgres cluster in a local directory, for ``agent-runtime dev`` and the tests.

We run the ``postgres`` server ourselves as a child process, with the lifecycle every embedded
server shares (`EmbeddedServer`): it dies with its owner (its parent-death signal, SIGINT, is a
fast shutdown, armed after the switch to the unprivileged OS user so that it survives it), and a
server of this data directory found on start (``postmaster.pid``) is reused. Parts, by concern:

- ``_postgres_binaries``: which ``initdb``/``postgres`` to run (the system's, else pgserver's);
- ``_os_user``: running as root (an unprivileged user, clusters relocated where it can reach them,
  and relocated clusters removed when their data directory is gone);
- this module: the cluster (initdb, start, readiness, the application database, stop).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from agent_runtime_cli.embedded._os_user import (
    DEDICATED_OS_USER,
    DEFAULT_RELOCATION_ROOT,
    OsUser,
    chown_tree,
    record_origin,
    relocate,
    remove_orphaned_clusters,
    unprivileged_user,
    user_can_access,
)
from agent_runtime_cli.embedded._postgres_binaries import (
    PostgresBinaries,
    copy_for_user,
    find_postgres_binaries,
    pgserver_bindir,
    read_cluster_major_version,
)
from agent_runtime_cli.embedded._postgres_errors import EmbeddedPostgresError
from agent_runtime_cli.embedded._process import process_is_running, read_proc_cmdline, read_proc_cwd
from agent_runtime_cli.embedded._server import LEFTOVER_PORT_WAIT_S, EmbeddedServer, RunAs
from agent_runtime_cli.embedded.ports import ensure_port_free, url_host

__all__ = [
    "DEDICATED_OS_USER",
    "DEFAULT_RELOCATION_ROOT",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "PostgresBinaries",
    "ensure_database",
    "find_postgres_binaries",
    "libpq_url",
    "pgserver_bindir",
    "postgres_reachable",
    "remove_orphaned_clusters",
]

logger = logging.getLogger(__name__)

_UNIX_SOCKET_PATH_MAX = 103  # sun_path is 108 bytes on Linux, 104 on macOS, NUL included


def libpq_url(url: str) -> str:
    """Turn a SQLAlchemy URL (``postgresql+psycopg://...``) into one libpq/psycopg accepts."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


def postgres_reachable(url: str, timeout_s: float = 2) -> bool:
    """Return whether a connection to ``url`` (SQLAlchemy or libpq form) succeeds.

    Args:
        url: Database URL, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/agent_runtime``.
        timeout_s: Connection timeout (libpq rounds it up to whole seconds, minimum 2).
    """
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=max(1, math.ceil(timeout_s))):
            return True
    except psycopg.Error:
        return False


def ensure_database(admin_url: str, dbname: str) -> bool:
    """Create the database ``dbname`` unless it exists.

    Safe to call from several processes at once: losing the race to create it is not an error.

    Args:
        admin_url: URL of a role allowed to create databases, connected to an existing database
            (usually ``postgres``).
        dbname: Database to create.

    Returns:
        Whether this call created the database.
    """
    with psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists is not None:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
            # Another process created it between our check and our CREATE. (A concurrent
            # CREATE can surface as a unique violation on pg_database's name index.)
            return False
        return True


class EmbeddedPostgres(EmbeddedServer):
    """A private Postgres cluster living in ``data_dir``, listening on ``host:port`` only.

    The cluster is created on first `start` (``initdb --auth=trust -U postgres``: trust is fine
    because only loopback connections and a socket inside the data directory are accepted) and
    keeps its data across `stop`/`start`. A server of this cluster that is already running (another
    instance's, or one whose owner could not arm the parent-death signal) is reused, and a
    ``postmaster.pid`` left by an unclean shutdown is detected and cleared.

    Example::

        with EmbeddedPostgres(Path(".dev/postgres"), port=5433) as postgres:
            engine = create_engine(postgres.url)
    """

    display_name = "Postgres"
    error_type = EmbeddedPostgresError
    # SIGINT is the postmaster's fast shutdown (SIGTERM waits for every client to disconnect).
    stop_signal = signal.SIGINT
    # Signalling the backends behind the postmaster's back would look like a crash to it.
    signal_group_on_stop = False
    reuse_leftover = True

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 5432,
        host: str = "127.0.0.1",
        database: str = "agent_runtime",
        superuser: str = "postgres",
        binaries: PostgresBinaries | None = None,
        os_user: str | None = None,
        relocation_root: Path | str = DEFAULT_RELOCATION_ROOT,
        settings: Mapping[str, str] | None = None,
        start_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        port_hint: str = "Stop the process using it or choose another port.",
    ) -> None:
        """Describe the cluster; nothing happens on disk until `start`.

        Args:
            data_dir: The cluster directory (PGDATA), e.g. ``.dev/postgres``.
            port: TCP port to listen on.
            host: Address to listen on; keep it a loopback address (auth is ``trust``).
            database: Application database created by `start`.
            superuser: Superuser name given to ``initdb``.
            binaries: Binaries to use; found with `find_postgres_binaries` by default.
            os_user: When root, the OS user to run Postgres as (default ``postgres`` if it
                exists, else `DEDICATED_OS_USER`, created on demand).
            relocation_root: When root, where to keep the cluster if the unprivileged user cannot
                reach ``data_dir``.
            settings: Extra server settings passed as ``-c key=value`` on each start.
            start_timeout_s: How long to wait for the server to accept connections.
            stop_timeout_s: How long a fast shutdown may take before the server is killed
                (crash-safe: it recovers from its write-ahead log on the next start).
            port_hint: Appended to the error when ``port`` is taken.
        """
        super().__init__(Path(os.path.abspath(data_dir)), grace_period_s=stop_timeout_s)
        self.host = host
        self.database = database
        self.superuser = superuser
        self.relocation_root = Path(relocation_root)
        self.settings = dict(settings or {})
        self.start_timeout_s = start_timeout_s
        self.port_hint = port_hint
        self._port = port
        self._binaries = binaries
        self._os_user_name = os_user
        self._user: OsUser | None = None
        self._user_resolved = False

    # ----------------------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        """Port the server listens on (the running server's, if it was already running)."""
        return self._port

    @property
    def pgdata(self) -> Path:
        """The real cluster directory (``data_dir`` with symlinks resolved)."""
        return self.data_dir.resolve()

    @property
    def log_path(self) -> Path:
        """Server log file."""
        return self.pgdata / "postgres.log"

    @property
    def pid_path(self) -> Path:
        """Postgres's own ``postmaster.pid``."""
        return self.pgdata / "postmaster.pid"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database."""
        return self._url_for(self.database)

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` maintenance database."""
        return self._url_for("postgres")

    def _url_for(self, dbname: str) -> str:
        host = url_host(self.host)
        return f"postgresql+psycopg://{self.superuser}@{host}:{self._port}/{dbname}"

    # -------------------------------------------------------------------------------- lifecycle

    def start(self) -> str:
        """Create the cluster if needed, start it unless running, create the app database.

        Returns:
            The SQLAlchemy URL of the application database.

        Raises:
            PortInUseError: The port is taken by something other than this cluster.
            EmbeddedPostgresError: Setting up or starting the cluster failed.
        """
        self._forget_orphaned_clusters()
        self.start_process()
        if self._adopted_pid is not None:
            running_port = self._running_port()
            if running_port is not None and running_port != self._port:
                logger.warning(
                    "Postgres in %s is already running on port %d (not %d); using it",
                    self.pgdata,
                    running_port,
                    self._port,
                )
                self._port = running_port
        try:
            self.wait_ready(self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        if ensure_database(self.admin_url, self.database):
            logger.info("Created database %s", self.database)
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown; killed after ``stop_timeout_s``) if it runs; data is kept.

        Also stops a server of this cluster that another instance started.
        """
        if self._process is None and self._adopted_pid is None:
            self._adopted_pid = self.leftover_pid()
        super().stop()
        self._forget_orphaned_clusters()

    def is_running(self) -> bool:
        """Return whether this cluster's postmaster is running (whoever started it)."""
        return super().is_running() or self.leftover_pid() is not None

    def delete_data(self) -> None:
        """Stop the server and delete the cluster (and the symlink, if it was relocated)."""
        self.stop()
        relocated = self.data_dir.is_symlink()
        shutil.rmtree(self.pgdata, ignore_errors=True)
        if relocated:
            self.data_dir.unlink()
            self._forget_orphaned_clusters()

    # ---------------------------------------------------------------------- EmbeddedServer hooks

    def prepare(self) -> None:
        """Check the port, get the directory ready for the OS user, initdb, clear stale locks."""
        # Before the slow parts, so a taken port fails fast.
        ensure_port_free(
            self.host,
            self._port,
            what="Postgres",
            hint=self.port_hint,
            wait_s=LEFTOVER_PORT_WAIT_S if self.stopped_leftover else 0,
        )
        user = self._os_user()
        self._prepare_data_dir(user)
        binaries = self._resolve_binaries(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(binaries, user)
        self._clear_stale_lock_files()

    def command(self) -> list[str]:
        """The ``postgres`` command line."""
        binaries = self._resolve_binaries(self._os_user())
        socket_dir = str(self.pgdata)
        if len(f"{socket_dir}/.s.PGSQL.{self._port}.lock") > _UNIX_SOCKET_PATH_MAX:
            # Too long for a unix socket path; TCP on loopback is all we need.
            socket_dir = ""
        argv = [str(binaries.postgres), "-D", str(self.pgdata), "-p", str(self._port)]
        argv += ["-h", self.host, "-k", socket_dir]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def check_ready(self) -> bool:
        """Whether the maintenance database accepts a connection."""
        return postgres_reachable(self.admin_url, timeout_s=2)

    def is_own_server(self, pid: int) -> bool:
        """Whether ``pid`` is a live postmaster of this cluster, not a reused pid."""
        if not process_is_running(pid):
            return False
        # The postmaster chdirs into its data directory.
        cwd = read_proc_cwd(pid)
        if cwd is not None:
            return cwd == self.pgdata
        cmdline = read_proc_cmdline(pid)
        if cmdline is not None:
            return bool(cmdline) and Path(cmdline[0]).name in ("postgres", "postmaster")
        return True

    def write_pid_file(self, pid: int) -> None:
        """Nothing: the postmaster writes ``postmaster.pid`` itself."""

    def run_as(self) -> RunAs | None:
        """The unprivileged user when we are root."""
        return self._os_user()

    def environment(self) -> dict[str, str]:
        """A minimal environment: a C locale, the user's home."""
        user = self._os_user()
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": user.home if user else os.environ.get("HOME", "/"),
        }
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        return env

    # ------------------------------------------------------------------------------ internals

    def _os_user(self) -> OsUser | None:
        if not self._user_resolved:
            self._user = unprivileged_user(self._os_user_name)
            self._user_resolved = True
        return self._user

    def _forget_orphaned_clusters(self) -> None:
        if self._os_user() is not None:
            remove_orphaned_clusters(self.relocation_root)

    def _prepare_data_dir(self, user: OsUser | None) -> None:
        if user is not None and not self.data_dir.is_symlink():
            parent = self.data_dir.parent
            parent.mkdir(parents=True, exist_ok=True)
            if not user_can_access(user, parent, "-x"):
                relocate(self.data_dir, user, self.relocation_root)
        elif self.data_dir.is_symlink() and self.pgdata.is_relative_to(self.relocation_root):
            # Relocated by a version that did not record origins: record it now.
            record_origin(self.data_dir, self.pgdata)
        pgdata = self.pgdata
        pgdata.mkdir(parents=True, exist_ok=True)
        if user is not None and pgdata.stat().st_uid != user.uid:
            chown_tree(pgdata, user)
        # Postgres insists on 0700 (or 0750) for its data directory.
        pgdata.chmod(0o700)

    def _resolve_binaries(self, user: OsUser | None) -> PostgresBinaries:
        if self._binaries is None:
            cluster_version = read_cluster_major_version(self.pgdata)
            self._binaries = find_postgres_binaries(major_version=cluster_version)
        if user is not None and not user_can_access(user, self._binaries.postgres, "-x"):
            self._binaries = copy_for_user(self._binaries, user, self.relocation_root)
        return self._binaries

    def _initdb(self, binaries: PostgresBinaries, user: OsUser | None) -> None:
        if any(self.pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.pgdata} is not empty but holds no Postgres cluster (no PG_VERSION). "
                "Delete it to let a new cluster be created there."
            )
        logger.info("Creating a Postgres %s cluster in %s", binaries.version, self.pgdata)
        argv = [str(binaries.initdb), "-D", str(self.pgdata), "--auth=trust", "-U", self.superuser]
        # A temporary file rather than a pipe, so nothing can keep us waiting for EOF.
        with tempfile.TemporaryFile() as output:
            try:
                completed = subprocess.run(
                    [*argv, "--encoding=UTF8", "--locale=C"],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=self.environment(),
                    cwd=self.pgdata,
                    timeout=300,
                    check=False,
                    user=user.uid if user else None,
                    group=user.gid if user else None,
                    extra_groups=list(user.groups) if user else None,
                )
            except subprocess.TimeoutExpired as error:
                raise EmbeddedPostgresError("initdb timed out") from error
            output.seek(0)
            text = output.read().decode(errors="replace").strip()
        if completed.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed with exit code {completed.returncode}: {text}")

    def _running_port(self) -> int | None:
        with contextlib.suppress(OSError, IndexError, ValueError):
            return int(self.pid_path.read_text().splitlines()[3])
        return None

    def _clear_stale_lock_files(self) -> None:
        """Remove ``postmaster.pid`` and socket locks left by a postmaster that is gone."""
        pid = self.read_pid_file()
        if pid is None:
            return
        logger.warning(
            "Postgres in %s was not shut down cleanly (pid %d is gone); removing its stale "
            "postmaster.pid. Postgres will recover from its write-ahead log.",
            self.pgdata,
            pid,
        )
        self._wait_for_orphaned_backends()
        self.pid_path.unlink(missing_ok=True)
        for lock in self.pgdata.glob(".s.PGSQL.*"):
            lock.unlink(missing_ok=True)

    def _wait_for_orphaned_backends(self, timeout_s: float = 10.0) -> None:
        """Wait for the dead postmaster's children to exit, then kill stragglers.

        They exit by themselves once they notice the postmaster died; while they live they hold
        the shared memory and a new postmaster would refuse to start.
        """
        deadline = time.monotonic() + timeout_s
        while pids := _pids_with_cwd(self.pgdata):
            if time.monotonic() > deadline:
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.2)
                return
            time.sleep(0.1)


def _pids_with_cwd(directory: Path) -> list[int]:
    """Processes whose working directory is ``directory`` (Linux; empty elsewhere)."""
    pids: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if entry.name.isdigit() and read_proc_cwd(int(entry.name)) == directory:
            pids.append(int(entry.name))
    return pids
