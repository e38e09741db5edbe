"""Helpers every benchmark script shares: progress output, percentiles, the machine measured."""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import platform
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_DIR: Final = REPO_ROOT / "bench" / "results"


def log(message: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolation percentile (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def first_match(path: str, pattern: str) -> str | None:
    """The first group of ``pattern`` in the file at ``path`` (multi-line), if any."""
    with contextlib.suppress(OSError):
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
        if match:
            return match.group(1).strip()
    return None


def command_output(argv: Sequence[str]) -> str | None:
    """A command's stripped stdout, or ``None`` when it failed."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        completed = subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)
        if completed.returncode == 0:
            return completed.stdout.strip()
    return None


def git_status() -> str | None:
    """``git status --porcelain`` of the repository (empty when clean)."""
    return command_output(["git", "-C", str(REPO_ROOT), "status", "--porcelain"])


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[tuple[str, str | None]]:
    """A new, migrated database on the Postgres at ``server_url``, dropped on exit.

    Yields ``(database URL, server version)``.
    """
    import psycopg
    from psycopg import sql

    from agent_runtime_core.db.migrate import upgrade_to_head

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = admin.execute("SHOW server_version").fetchone()
    try:
        database_url = server_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(database_url)
        yield database_url, version[0] if version else None
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def machine_facts(packages: Sequence[str]) -> dict[str, Any]:
    """Date, CPU, memory, OS, Python, versions of ``packages`` and the commit measured."""
    memory_kib = first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    versions: dict[str, str] = {}
    for name in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(int(memory_kib) / 1024 / 1024, 1) if memory_kib else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": command_output(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"]),
    }


async def bench_auth_headers(database_url: str, tenant_id: str = "ten_default") -> dict[str, str]:
    """Headers carrying a fresh admin API key of ``tenant_id``: the API authenticates every call.

    The key is written straight to the database (as ``agent-runtime api-keys create`` does);
    each request then costs the API one indexed lookup of the key, as in production.
    """
    from agent_runtime_api.services.api_keys import ApiKeyService
    from agent_runtime_core.db import Database, session_scope

    database = Database(database_url, pool_size=1)
    try:
        async with session_scope(database, tenant_id) as session:
            _, token = await ApiKeyService(session, tenant_id).issue(
                name="bench", roles=["admin"], created_by="bench"
            )
    finally:
        await database.dispose()
    return {"Authorization": f"Bearer {token}"}
