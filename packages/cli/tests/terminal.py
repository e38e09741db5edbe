"""Running ``agent-runtime`` as users do: in a pseudo-terminal (``pexpect``), reading what the
screen shows, or as a plain process with pipes (what scripts and CI see)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Sequence

import pexpect

COMMAND = [sys.executable, "-m", "agent_runtime_cli"]
"""``agent-runtime``, from this environment."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def plain(text: str) -> str:
    """``text`` without terminal escape sequences and carriage returns."""
    return _ANSI.sub("", text).replace("\r", "")


class Terminal:
    """``agent-runtime ARGS`` in a 50x160 pseudo-terminal; ``screen`` is everything it showed."""

    def __init__(self, args: Sequence[str], env: dict[str, str], timeout_s: float = 30) -> None:
        self._log = io.StringIO()
        self.child = pexpect.spawn(
            COMMAND[0],
            [*COMMAND[1:], *args],
            env=env,
            encoding="utf-8",
            timeout=timeout_s,
            dimensions=(50, 160),
        )
        self.child.logfile_read = self._log

    @property
    def screen(self) -> str:
        """What the terminal showed so far, without escape sequences."""
        return plain(self._log.getvalue())

    def expect(self, pattern: str) -> None:
        """Wait until the output shows ``pattern`` (a regular expression; styles are escape
        sequences in it, so match within one styled piece of text)."""
        try:
            self.child.expect(pattern)
        except (pexpect.TIMEOUT, pexpect.EOF) as error:
            raise AssertionError(
                f"{pattern!r} not shown ({type(error).__name__}); screen:\n{self.screen}"
            ) from None

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self.child.sendline(line)

    def wait(self) -> int:
        """Wait for the command to exit; its exit code."""
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus is not None, f"killed by signal {self.child.signalstatus}: {self.screen}"
        return self.child.exitstatus


def run(
    args: Sequence[str],
    env: dict[str, str],
    *,
    stdin: str = "",
    timeout_s: float = 60,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``agent-runtime ARGS`` with pipes (no terminal), in ``cwd``; its output and exit code."""
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def start(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``agent-runtime ARGS`` with pipes, running on (read its ``stderr`` line by line)."""
    return subprocess.Popen(
        [*COMMAND, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
