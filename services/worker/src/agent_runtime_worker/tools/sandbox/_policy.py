"""What a `run_python` call may use (the operator's policy) and what it gives back."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RunPythonResult", "SandboxErrorKind", "SandboxPolicy"]

SandboxErrorKind: TypeAlias = Literal[
    "exception", "exit", "timeout", "cpu_time", "memory", "crash", "cancelled"
]
"""Why a run did not end normally.

* `exception`: the code raised (traceback in `stderr`); `memory` when that was a `MemoryError`.
* `exit`: the code called `sys.exit()` with a non-zero status.
* `timeout` / `cpu_time`: the wall-clock or CPU-time limit stopped the code.
* `memory`: the code needed more memory than the limit allows.
* `crash`: the interpreter itself failed (e.g. C stack exhausted).
* `cancelled`: the caller gave up on the call (e.g. the run was cancelled).
"""


class SandboxPolicy(BaseModel):
    """Limits applied to every `run_python` call; set by the operator, never by the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Wall-clock limit of one call, from interpreter start to exit (sleeping counts)."""
    cpu_time_s: float = Field(default=10.0, gt=0, le=600)
    """CPU-time limit of one call (the time the guest's thread spends computing)."""
    memory_bytes: int = Field(default=256 * 1024 * 1024, ge=32 * 1024 * 1024, le=4 * 1024**3)
    """Largest linear memory of the interpreter, in bytes; above it allocations fail (`MemoryError`)."""
    max_output_bytes: int = Field(default=64_000, ge=1_000, le=10_000_000)
    """Most bytes kept of each of stdout, stderr and the result's repr; the rest is dropped."""


class RunPythonResult(BaseModel):
    """What a `run_python` call printed and returned."""

    stdout: str
    """What the code printed to standard output (at most `max_output_bytes`)."""
    stderr: str
    """What it printed to standard error, including the traceback of an uncaught exception."""
    result: str | None
    """`repr()` of the value of the code's last line when that line is an expression (and not None)."""
    error: SandboxErrorKind | None
    """None when the code ran to the end; otherwise why it did not."""
    error_message: str | None
    """A one-line explanation of `error`, e.g. `ZeroDivisionError: division by zero`."""
    exit_code: int
    """The interpreter's exit status: 0 on success, 1 after an exception, the `sys.exit()` value."""
    stdout_truncated: bool
    """True when stdout was longer than `max_output_bytes` and the rest was dropped."""
    stderr_truncated: bool
    """True when stderr was longer than `max_output_bytes` and the rest was dropped."""
    result_truncated: bool
    """True when the repr of the result was cut to `max_output_bytes`."""
    duration_ms: float
    """Time from the start of the sandbox to the end of the code, in milliseconds."""
