"""The OpenTofu files are in the canonical format (``tofu fmt``), so a review shows changes, not
realignment. Needs only the CLI (no provider); skipped, saying why, where there is none."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[1]
CLI = shutil.which("tofu") or shutil.which("terraform")


@pytest.mark.skipif(CLI is None, reason="no tofu or terraform CLI on PATH")
def test_the_configuration_is_formatted() -> None:
    assert CLI is not None
    checked = subprocess.run(
        [CLI, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, f"run `{Path(CLI).name} fmt -recursive infra`:\n{checked.stdout}"
