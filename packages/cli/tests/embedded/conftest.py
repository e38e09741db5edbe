"""Fixtures for the embedded-server tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tmp_dir() -> Iterator[Path]:
    """A temporary directory any user can traverse.

    pytest's ``tmp_path`` lives below ``/tmp/pytest-of-<user>`` (0700); as root, Postgres runs as
    another user that could not reach it (that case has its own test).
    """
    path = Path(tempfile.mkdtemp(prefix="agent-runtime-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def relocation_root(open_tmp_dir: Path) -> Path:
    """Where clusters unreachable by the Postgres OS user are kept, instead of /var/lib."""
    return open_tmp_dir / "relocated"
