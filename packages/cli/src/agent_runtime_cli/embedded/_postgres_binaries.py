"""Finding Postgres server binaries: the system's first, else the ones in the ``pgserver`` wheel.

A fresh machine with only ``uv sync`` done has no system Postgres; pgserver's bundled binaries make
``agent-runtime dev`` work there. An existing cluster needs binaries of its own major version.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent_runtime_cli.embedded._os_user import OsUser
from agent_runtime_cli.embedded._postgres_errors import EmbeddedPostgresError

__all__ = [
    "PostgresBinaries",
    "copy_for_user",
    "find_postgres_binaries",
    "pgserver_bindir",
    "read_cluster_major_version",
]

logger = logging.getLogger(__name__)

_SYSTEM_BINDIR_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # RHEL, Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS Homebrew (Apple silicon)
    "/usr/local/opt/postgresql@*/bin",  # macOS Homebrew (Intel)
)
_REQUIRED_PROGRAMS = ("initdb", "postgres")


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


def copy_for_user(binaries: PostgresBinaries, user: OsUser, relocation_root: Path) -> PostgresBinaries:
    """Copy pgserver's binaries where ``user`` can run them (e.g. the venv is in /root).

    Raises:
        EmbeddedPostgresError: They are not pgserver's (we do not copy a system installation).
    """
    if binaries.source != "pgserver":
        raise EmbeddedPostgresError(
            f"OS user {user.name!r} cannot execute {binaries.postgres}; make it reachable."
        )
    # Layout kept as in site-packages: the binaries find their libpq through the RPATH
    # $ORIGIN/../../../pgserver.libs and their share/ and lib/ relative to bin/.
    package_dir = binaries.bindir.parent.parent
    site_packages = package_dir.parent
    destination = relocation_root / f"pgserver-{binaries.version}"
    if not (destination / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        relocation_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pgserver-", dir=relocation_root))
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


def read_cluster_major_version(pgdata: Path) -> int | None:
    """The major version of the cluster in ``pgdata`` (its ``PG_VERSION``), if there is one."""
    with contextlib.suppress(OSError, ValueError):
        return int((pgdata / "PG_VERSION").read_text().strip().split(".", 1)[0])
    return None
