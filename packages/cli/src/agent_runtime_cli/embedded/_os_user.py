"""Running the embedded Postgres when we are root (internal).

Postgres refuses to run as root. When we are root it runs as an unprivileged OS user instead: the
distribution's ``postgres`` user if it exists, otherwise a system user ``agent-runtime-pg`` that we
create with ``useradd --system``. That user must be able to reach the data directory; when the
directory sits below a path it cannot traverse (``/root/...`` is 0700, so are ``mkdtemp``
directories and pytest's ``/tmp/pytest-of-root``), we do not loosen the permissions of the user's
directories. The cluster is *relocated* to ``<root>/postgres/<name>-<hash>`` instead and the
requested data directory becomes a symlink to it, so the data persists and is found through the
path the user chose.

A relocated cluster outlives its symlink when the requested directory is deleted (every test run
and clean-clone dev start uses a temporary one). So each relocation records where it came from in
``<name>-<hash>.origin`` next to the cluster, and `remove_orphaned_clusters` (run on every start and
stop of an embedded Postgres as root) stops and deletes clusters whose origin no longer leads to
them. A cluster without an ``.origin`` (relocated by an older version) is never deleted: we cannot
know whether its origin still exists; starting it once records the origin.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from agent_runtime_cli.embedded._postgres_errors import EmbeddedPostgresError
from agent_runtime_cli.embedded._process import process_is_running, read_proc_cwd

__all__ = [
    "DEDICATED_OS_USER",
    "DEFAULT_RELOCATION_ROOT",
    "OsUser",
    "chown_tree",
    "record_origin",
    "relocate",
    "remove_orphaned_clusters",
    "unprivileged_user",
    "user_can_access",
]

logger = logging.getLogger(__name__)

DEDICATED_OS_USER = "agent-runtime-pg"
"""System user created to run Postgres when we are root and no ``postgres`` user exists."""

DEFAULT_RELOCATION_ROOT = Path("/var/lib/agent-runtime")
"""Where clusters (and, if needed, a copy of pgserver's binaries) go when we run as root and the
requested directory is not reachable by the unprivileged Postgres user."""

_ORIGIN_SUFFIX = ".origin"


@dataclass(frozen=True)
class OsUser:
    """An unprivileged OS user to run Postgres programs as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def from_entry(cls, entry: pwd.struct_passwd) -> OsUser:
        """Build from a password database entry."""
        return cls(
            name=entry.pw_name,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            groups=tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)),
            home=entry.pw_dir or "/",
        )


def unprivileged_user(name: str | None) -> OsUser | None:
    """The user to run Postgres as, or ``None`` to run as ourselves (we are not root).

    Args:
        name: A user to insist on; by default ``postgres`` if it exists, else `DEDICATED_OS_USER`,
            created on demand.

    Raises:
        EmbeddedPostgresError: ``name`` does not exist, or the dedicated user cannot be created.
    """
    if os.name != "posix" or os.geteuid() != 0:
        return None
    for candidate in [name] if name else ["postgres", DEDICATED_OS_USER]:
        with contextlib.suppress(KeyError):
            return OsUser.from_entry(pwd.getpwnam(candidate))
    if name:
        raise EmbeddedPostgresError(f"OS user {name!r} does not exist")
    return OsUser.from_entry(_create_system_user(DEDICATED_OS_USER))


def _create_system_user(name: str) -> pwd.struct_passwd:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedPostgresError(
            f"Postgres cannot run as root and there is no `postgres` user; create a system user "
            f"named {name!r} (useradd is not available here)."
        )
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    logger.warning("Creating system user %r to run the embedded Postgres as", name)
    argv = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    completed = subprocess.run(
        [*argv, "--shell", shell, name],
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


def user_can_access(user: OsUser, path: Path, test_flag: str) -> bool:
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


def chown_tree(root: Path, user: OsUser) -> None:
    """Give ``root`` and everything below it to ``user``."""
    os.chown(root, user.uid, user.gid)
    for path in root.rglob("*"):
        os.chown(path, user.uid, user.gid, follow_symlinks=False)


def relocate(data_dir: Path, user: OsUser, relocation_root: Path) -> Path:
    """Keep the cluster of ``data_dir`` under ``relocation_root``; ``data_dir`` becomes a symlink.

    Returns:
        The relocated cluster directory.

    Raises:
        EmbeddedPostgresError: ``data_dir`` holds files already, or ``user`` cannot reach the
            relocation root either.
    """
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    target = relocation_root / "postgres" / f"{data_dir.name}-{digest}"
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
    if not user_can_access(user, target.parent, "-x"):
        raise EmbeddedPostgresError(
            f"OS user {user.name!r} cannot reach {target.parent} either; pass another relocation_root."
        )
    target.mkdir(exist_ok=True)
    data_dir.symlink_to(target, target_is_directory=True)
    # After the symlink: a concurrent sweep must never see an origin that does not lead here yet.
    record_origin(data_dir, target)
    logger.warning(
        "Postgres runs as OS user %r, which cannot traverse the parents of %s; the cluster "
        "lives in %s instead (%s is a symlink to it).",
        user.name,
        data_dir,
        target,
        data_dir,
    )
    return target


def record_origin(data_dir: Path, target: Path) -> None:
    """Note that the relocated cluster ``target`` belongs to ``data_dir`` (idempotent)."""
    origin = target.with_name(target.name + _ORIGIN_SUFFIX)
    if not origin.exists():
        origin.write_text(f"{data_dir}\n")


def remove_orphaned_clusters(relocation_root: Path, *, grace_period_s: float = 10.0) -> list[Path]:
    """Stop and delete the relocated clusters whose requested data directory is gone.

    Safe while other processes use other clusters under the same root: a cluster is only removed
    when its recorded origin is no longer a symlink to it.

    Returns:
        The cluster directories removed.
    """
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        origins = sorted((relocation_root / "postgres").glob(f"*{_ORIGIN_SUFFIX}"))
        for origin_file in origins:
            target = origin_file.with_name(origin_file.name.removesuffix(_ORIGIN_SUFFIX))
            try:
                origin = Path(origin_file.read_text().strip())
            except OSError:
                continue
            if _leads_to(origin, target):
                continue
            _stop_postmaster_in(target, grace_period_s)
            shutil.rmtree(target, ignore_errors=True)
            origin_file.unlink(missing_ok=True)
            logger.warning("Removed the Postgres cluster %s: its data directory %s is gone", target, origin)
            removed.append(target)
    return removed


def _leads_to(origin: Path, target: Path) -> bool:
    try:
        return origin.is_symlink() and origin.resolve() == target.resolve()
    except OSError:
        return False


def _stop_postmaster_in(pgdata: Path, grace_period_s: float) -> None:
    """Fast shutdown of the postmaster running in ``pgdata`` (if any), SIGKILL after the grace."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if not process_is_running(pid) or read_proc_cwd(pid) != pgdata.resolve():
        return
    logger.warning("Stopping the Postgres of a deleted data directory (pid %d)", pid)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + grace_period_s
    while process_is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
