"""A private Postgres cluster in a local directory, for ``agent-runtime dev`` and the tests.

We drive the server binaries (``initdb``, ``pg_ctl``, ``postgres``) directly. The system's
binaries are preferred; the ones bundled in the ``pgserver`` wheel are the fallback so that a fresh
machine with only ``uv sync`` done still works.

Postgres refuses to run as root. When we are root, every Postgres command runs as an unprivileged
OS user instead: the distribution's ``postgres`` user if it exists, otherwise a system user
``agent-runtime-pg`` that we create with ``useradd --system``. That user must be able to reach
the data directory; when the directory sits below a path it cannot traverse (``/root/...`` is
0700, so is pytest's ``/tmp/pytest-of-root``), we do not loosen the permissions of the user's
directories. The cluster is kept under ``/var/lib/agent-runtime/postgres/<name>-<hash>`` instead
and the requested data directory becomes a symlink to it, so the data still persists and is still
found through the path the user chose.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import logging
import math
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from agent_runtime_cli.embedded._process import (
    process_is_running,
    read_proc_cmdline,
    read_proc_cwd,
    tail_file,
)
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
    "postgres_reachable",
]

logger = logging.getLogger(__name__)

DEDICATED_OS_USER = "agent-runtime-pg"
"""System user created to run Postgres when we are root and no ``postgres`` user exists."""

DEFAULT_RELOCATION_ROOT = Path("/var/lib/agent-runtime")
"""Where clusters (and, if needed, a copy of pgserver's binaries) go when we run as root and the
requested directory is not reachable by the unprivileged Postgres user."""

_SYSTEM_BINDIR_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS Homebrew (Apple silicon)
    "/usr/local/opt/postgresql@*/bin",  # macOS Homebrew (Intel)
)
_REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_UNIX_SOCKET_PATH_MAX = 103  # sun_path is 108 bytes on Linux, 104 on macOS, NUL included
_LOG_ROTATE_BYTES = 10_000_000


class EmbeddedPostgresError(RuntimeError):
    """The embedded Postgres cluster could not be set up, started or stopped."""


@dataclass(frozen=True)
class PostgresBinaries:
    """A directory holding a Postgres server installation's programs."""

    bindir: Path
    version: str
    """Full version string, e.g. ``"15.20"``."""
    source: str
    """``"system"``, ``"pgserver"`` or ``"explicit"``."""

    @property
    def major_version(self) -> int:
        """Major version, e.g. ``15``; clusters only run with binaries of the same major."""
        return int(self.version.split(".", 1)[0])

    @property
    def initdb(self) -> Path:
        """Path of ``initdb``."""
        return self.bindir / "initdb"

    @property
    def pg_ctl(self) -> Path:
        """Path of ``pg_ctl``."""
        return self.bindir / "pg_ctl"

    @property
    def postgres(self) -> Path:
        """Path of the ``postgres`` server."""
        return self.bindir / "postgres"

    @classmethod
    def from_bindir(cls, bindir: Path, *, source: str = "explicit") -> PostgresBinaries:
        """Inspect ``bindir`` and return its binaries.

        Raises:
            EmbeddedPostgresError: A program is missing or ``postgres --version`` fails.
        """
        missing = [name for name in _REQUIRED_PROGRAMS if not _is_executable(bindir / name)]
        if missing:
            raise EmbeddedPostgresError(f"{bindir} lacks {', '.join(missing)}")
        version = _postgres_version(bindir / "postgres")
        if version is None:
            raise EmbeddedPostgresError(f"Could not run {bindir / 'postgres'} --version")
        return cls(bindir=bindir, version=version, source=source)


def pgserver_bindir() -> Path | None:
    """Return ``pgserver/pginstall/bin`` of the installed ``pgserver`` wheel, if any.

    Found through the import system without importing ``pgserver`` (importing it has side effects
    we do not want, such as creating directories).
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        bindir = Path(location) / "pginstall" / "bin"
        if bindir.is_dir():
            return bindir
    return None


def find_postgres_binaries(
    *,
    major_version: int | None = None,
    allow_system: bool = True,
    allow_pgserver: bool = True,
) -> PostgresBinaries:
    """Find Postgres server binaries, preferring the system's over pgserver's bundled ones.

    Looks at, in order: ``pg_ctl`` on ``PATH`` (symlinks resolved), ``pg_config --bindir``, the
    distributions' versioned directories (highest version first), then the ``pgserver`` wheel.

    Args:
        major_version: Only accept this major version (an existing cluster needs it).
        allow_system: Consider binaries installed on the system.
        allow_pgserver: Consider the binaries bundled in the ``pgserver`` package.

    Raises:
        EmbeddedPostgresError: No suitable binaries were found.
    """
    seen: list[PostgresBinaries] = []
    for bindir, source in _candidate_bindirs(allow_system=allow_system, allow_pgserver=allow_pgserver):
        try:
            binaries = PostgresBinaries.from_bindir(bindir, source=source)
        except EmbeddedPostgresError:
            continue
        if major_version is None or binaries.major_version == major_version:
            return binaries
        seen.append(binaries)
    if major_version is not None:
        found = ", ".join(f"{b.version} in {b.bindir}" for b in seen) or "none"
        raise EmbeddedPostgresError(
            f"The data directory needs PostgreSQL {major_version} binaries (found: {found}). "
            f"Install PostgreSQL {major_version}, or delete the data directory to start afresh."
        )
    raise EmbeddedPostgresError(
        "No PostgreSQL server binaries found (looked for pg_ctl on PATH, pg_config --bindir, "
        "/usr/lib/postgresql/*/bin and the `pgserver` package). Install PostgreSQL or the PyPI "
        "package `pgserver`."
    )


def _candidate_bindirs(*, allow_system: bool, allow_pgserver: bool) -> list[tuple[Path, str]]:
    candidates: list[tuple[Path, str]] = []
    if allow_system:
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl is not None:
            candidates.append((Path(pg_ctl).resolve().parent, "system"))
        pg_config = shutil.which("pg_config")
        if pg_config is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                bindir = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
                ).stdout.strip()
                if bindir:
                    candidates.append((Path(bindir), "system"))
        for pattern in _SYSTEM_BINDIR_GLOBS:
            matches = [Path(p) for p in glob.glob(pattern)]
            matches.sort(key=_version_sort_key, reverse=True)
            candidates.extend((path, "system") for path in matches)
    if allow_pgserver:
        bindir = pgserver_bindir()
        if bindir is not None:
            candidates.append((bindir, "pgserver"))
    unique: dict[Path, tuple[Path, str]] = {}
    for path, source in candidates:
        unique.setdefault(path.resolve(), (path, source))
    return list(unique.values())


def _version_sort_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(path)))


def _postgres_version(postgres: Path) -> str | None:
    try:
        output = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)", output)
    return match.group(1) if match else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


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


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


@dataclass(frozen=True)
class _PostmasterInfo:
    pid: int
    port: int | None


class EmbeddedPostgres:
    """A private Postgres cluster living in ``data_dir``, listening on ``host:port`` only.

    The cluster is created on first `start` (``initdb --auth=trust -U postgres``: trust is fine
    because only loopback connections and a socket inside the data directory are accepted) and
    keeps its data across `stop`/`start`. The server runs detached (``pg_ctl start``), so it
    survives the death of our process; the next `start` adopts it, and a ``postmaster.pid`` left
    by an unclean shutdown is detected and cleared.

    Example::

        with EmbeddedPostgres(Path(".dev/postgres"), port=5433) as postgres:
            engine = create_engine(postgres.url)
    """

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
            stop_timeout_s: How long a fast shutdown may take before we shut down immediately.
            port_hint: Appended to the error when ``port`` is taken.
        """
        self.data_dir = Path(os.path.abspath(data_dir))
        self.host = host
        self.database = database
        self.superuser = superuser
        self.relocation_root = Path(relocation_root)
        self.settings = dict(settings or {})
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port_hint = port_hint
        self._port = port
        self._binaries = binaries
        self._os_user_name = os_user

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
        running = self._running_postmaster()
        if running is None:
            # Before the slow parts, so a taken port fails fast.
            ensure_port_free(self.host, self._port, what="Postgres", hint=self.port_hint)
        user = self._os_user()
        self._prepare_data_dir(user)
        binaries = self._resolve_binaries(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(binaries, user)

        if running is not None:
            if running.port is not None and running.port != self._port:
                logger.warning(
                    "Postgres in %s is already running on port %d (not %d); using it",
                    self.pgdata,
                    running.port,
                    self._port,
                )
                self._port = running.port
            else:
                logger.info("Postgres in %s is already running (pid %d)", self.pgdata, running.pid)
        else:
            self._clear_stale_lock_files()
            self._pg_ctl_start(binaries, user)

        self._wait_until_accepting_connections()
        if ensure_database(self.admin_url, self.database):
            logger.info("Created database %s", self.database)
        return self.url

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) if it is running; data is kept.

        Falls back to an immediate shutdown (crash-safe, recovered on next start) when the fast
        one does not finish within ``stop_timeout_s``.
        """
        if self._running_postmaster() is None:
            return
        user = self._os_user()
        binaries = self._resolve_binaries(user)
        args = ["-D", str(self.pgdata), "-w", "-t", str(math.ceil(self.stop_timeout_s)), "-s"]
        try:
            self._run_as([str(binaries.pg_ctl), "stop", "-m", "fast", *args], user)
        except EmbeddedPostgresError:
            if self._running_postmaster() is None:
                return
            logger.warning("Fast shutdown of Postgres timed out; shutting down immediately")
            self._run_as([str(binaries.pg_ctl), "stop", "-m", "immediate", *args], user)

    def is_running(self) -> bool:
        """Return whether this cluster's postmaster is running."""
        return self._running_postmaster() is not None

    def delete_data(self) -> None:
        """Stop the server and delete the cluster (and the symlink, if it was relocated)."""
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)
        if self.data_dir.is_symlink():
            self.data_dir.unlink()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ internals

    def _os_user(self) -> _OsUser | None:
        """The unprivileged user to run Postgres as, or ``None`` to run as ourselves."""
        if os.name != "posix" or os.geteuid() != 0:
            return None
        names = [self._os_user_name] if self._os_user_name else ["postgres", DEDICATED_OS_USER]
        for name in names:
            with contextlib.suppress(KeyError):
                return _os_user_entry(pwd.getpwnam(name))
        if self._os_user_name:
            raise EmbeddedPostgresError(f"OS user {self._os_user_name!r} does not exist")
        return _os_user_entry(_create_system_user(DEDICATED_OS_USER))

    def _prepare_data_dir(self, user: _OsUser | None) -> None:
        if user is not None and not self.data_dir.is_symlink():
            parent = self.data_dir.parent
            parent.mkdir(parents=True, exist_ok=True)
            if not _user_can_access(user, parent, "-x"):
                self._relocate(user)
        pgdata = self.pgdata
        pgdata.mkdir(parents=True, exist_ok=True)
        if user is not None and pgdata.stat().st_uid != user.uid:
            _chown_tree(pgdata, user)
        # Postgres insists on 0700 (or 0750) for its data directory.
        pgdata.chmod(0o700)

    def _relocate(self, user: _OsUser) -> None:
        data_dir = self.data_dir
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        target = self.relocation_root / "postgres" / f"{data_dir.name}-{digest}"
        if data_dir.exists():
            if data_dir.is_dir() and not any(data_dir.iterdir()):
                data_dir.rmdir()
            else:
                raise EmbeddedPostgresError(
                    f"OS user {user.name!r} (Postgres refuses to run as root) cannot reach "
                    f"{data_dir}: a parent directory is not searchable by it. Move the data "
                    f"directory to a reachable place, or grant search permission on the parents "
                    f"(e.g. `setfacl -m u:{user.name}:x <dir>` or `chmod o+x <dir>`)."
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _user_can_access(user, target.parent, "-x"):
            raise EmbeddedPostgresError(
                f"OS user {user.name!r} cannot reach {target.parent} either; pass another relocation_root."
            )
        target.mkdir(exist_ok=True)
        data_dir.symlink_to(target, target_is_directory=True)
        logger.warning(
            "Postgres runs as OS user %r, which cannot traverse the parents of %s; the cluster "
            "lives in %s instead (%s is a symlink to it).",
            user.name,
            data_dir,
            target,
            data_dir,
        )

    def _resolve_binaries(self, user: _OsUser | None) -> PostgresBinaries:
        if self._binaries is None:
            cluster_version = _read_cluster_major_version(self.pgdata)
            self._binaries = find_postgres_binaries(major_version=cluster_version)
        if user is not None and not _user_can_access(user, self._binaries.postgres, "-x"):
            self._binaries = self._accessible_copy(self._binaries, user)
        return self._binaries

    def _accessible_copy(self, binaries: PostgresBinaries, user: _OsUser) -> PostgresBinaries:
        """Copy pgserver's binaries where ``user`` can run them (e.g. the venv is in /root)."""
        if binaries.source != "pgserver":
            raise EmbeddedPostgresError(
                f"OS user {user.name!r} cannot execute {binaries.postgres}; make it reachable."
            )
        # Layout kept as in site-packages: the binaries find their libpq through the RPATH
        # $ORIGIN/../../../pgserver.libs and their share/ and lib/ relative to bin/.
        package_dir = binaries.bindir.parent.parent
        site_packages = package_dir.parent
        destination = self.relocation_root / f"pgserver-{binaries.version}"
        if not (destination / "pgserver" / "pginstall" / "bin" / "postgres").exists():
            self.relocation_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".pgserver-", dir=self.relocation_root))
            shutil.copytree(package_dir / "pginstall", staging / "pgserver" / "pginstall", True)
            libs = site_packages / "pgserver.libs"
            if libs.is_dir():
                shutil.copytree(libs, staging / "pgserver.libs", True)
            for path in [staging, *staging.rglob("*")]:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
            try:
                staging.rename(destination)
            except OSError:
                # Another process won the race; use its copy.
                shutil.rmtree(staging, ignore_errors=True)
            logger.warning(
                "Copied pgserver's Postgres binaries to %s so that OS user %r can run them",
                destination,
                user.name,
            )
        return PostgresBinaries.from_bindir(destination / "pgserver" / "pginstall" / "bin", source="pgserver")

    def _initdb(self, binaries: PostgresBinaries, user: _OsUser | None) -> None:
        if any(self.pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.pgdata} is not empty but holds no Postgres cluster (no PG_VERSION). "
                "Delete it to let a new cluster be created there."
            )
        logger.info("Creating a Postgres %s cluster in %s", binaries.version, self.pgdata)
        self._run_as(
            [
                str(binaries.initdb),
                "-D",
                str(self.pgdata),
                "--auth=trust",
                "-U",
                self.superuser,
                "--encoding=UTF8",
                "--locale=C",
            ],
            user,
        )

    def _pg_ctl_start(self, binaries: PostgresBinaries, user: _OsUser | None) -> None:
        socket_dir = str(self.pgdata)
        if len(f"{socket_dir}/.s.PGSQL.{self._port}.lock") > _UNIX_SOCKET_PATH_MAX:
            # Too long for a unix socket path; TCP on loopback is all we need.
            socket_dir = ""
        server_options: list[str] = ["-p", str(self._port), "-h", self.host, "-k", socket_dir]
        for key, value in self.settings.items():
            server_options += ["-c", f"{key}={value}"]
        _rotate_log(self.log_path)
        try:
            self._run_as(
                [
                    str(binaries.pg_ctl),
                    "start",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_path),
                    "-w",
                    "-t",
                    str(math.ceil(self.start_timeout_s)),
                    "-s",
                    # pg_ctl hands -o to a shell: quote each word.
                    "-o",
                    " ".join(shlex.quote(option) for option in server_options),
                ],
                user,
            )
        except EmbeddedPostgresError as error:
            raise EmbeddedPostgresError(
                f"{error}\nLast lines of {self.log_path}:\n{tail_file(self.log_path)}"
            ) from error

    def _wait_until_accepting_connections(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not postgres_reachable(self.admin_url, timeout_s=2):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"Postgres did not accept connections on {self.host}:{self._port} within "
                    f"{self.start_timeout_s:g}s. Last lines of {self.log_path}:\n"
                    f"{tail_file(self.log_path)}"
                )
            time.sleep(0.1)

    def _read_pid_file(self) -> _PostmasterInfo | None:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        try:
            pid = int(lines[0])
        except (IndexError, ValueError):
            return None
        port: int | None = None
        with contextlib.suppress(IndexError, ValueError):
            port = int(lines[3])
        return _PostmasterInfo(pid=pid, port=port)

    def _running_postmaster(self) -> _PostmasterInfo | None:
        info = self._read_pid_file()
        if info is None or not self._is_our_postmaster(info.pid):
            return None
        return info

    def _is_our_postmaster(self, pid: int) -> bool:
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

    def _clear_stale_lock_files(self) -> None:
        """Remove ``postmaster.pid`` and socket locks left by a postmaster that is gone."""
        info = self._read_pid_file()
        if info is None:
            return
        logger.warning(
            "Postgres in %s was not shut down cleanly (pid %d is gone); removing its stale "
            "postmaster.pid. Postgres will recover from its write-ahead log.",
            self.pgdata,
            info.pid,
        )
        self._wait_for_orphaned_backends()
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
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

    def _run_as(self, argv: Sequence[str], user: _OsUser | None) -> str:
        """Run a Postgres program (as ``user`` when we are root) and return its output."""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": user.home if user else os.environ.get("HOME", "/"),
        }
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        # A temporary file rather than a pipe: pg_ctl's server child could inherit a pipe and
        # keep us waiting for EOF forever.
        with tempfile.TemporaryFile() as output:
            try:
                completed = subprocess.run(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.pgdata,
                    timeout=max(self.start_timeout_s, self.stop_timeout_s) + 30,
                    check=False,
                    user=user.uid if user else None,
                    group=user.gid if user else None,
                    extra_groups=list(user.groups) if user else None,
                )
            except subprocess.TimeoutExpired as error:
                raise EmbeddedPostgresError(f"{shlex.join(argv)} timed out") from error
            output.seek(0)
            text = output.read().decode(errors="replace").strip()
        if completed.returncode != 0:
            raise EmbeddedPostgresError(
                f"{shlex.join(argv)} failed with exit code {completed.returncode}: {text}"
            )
        return text


def _os_user_entry(entry: pwd.struct_passwd) -> _OsUser:
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _OsUser(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=groups,
        home=entry.pw_dir or "/",
    )


def _create_system_user(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedPostgresError(
            f"Postgres cannot run as root and there is no `postgres` user; create a system user "
            f"named {name!r} (useradd is not available here)."
        )
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    logger.warning("Creating system user %r to run the embedded Postgres as", name)
    completed = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            shell,
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedPostgresError(
            f"Could not create system user {name!r}: {completed.stderr.strip()}"
        ) from None


def _user_can_access(user: _OsUser, path: Path, test_flag: str) -> bool:
    """Check ``test <flag> path`` as ``user``: the kernel's own verdict, ACLs included."""
    completed = subprocess.run(
        ["/bin/sh", "-c", f'test {test_flag} "$1"', "sh", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd="/",
        check=False,
        env={"PATH": os.defpath},
        timeout=30,
        user=user.uid,
        group=user.gid,
        extra_groups=list(user.groups),
    )
    return completed.returncode == 0


def _chown_tree(root: Path, user: _OsUser) -> None:
    os.chown(root, user.uid, user.gid)
    for path in root.rglob("*"):
        os.chown(path, user.uid, user.gid, follow_symlinks=False)


def _read_cluster_major_version(pgdata: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((pgdata / "PG_VERSION").read_text().strip().split(".", 1)[0])
    return None


def _rotate_log(log_path: Path) -> None:
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > _LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_name(log_path.name + ".1"))


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
