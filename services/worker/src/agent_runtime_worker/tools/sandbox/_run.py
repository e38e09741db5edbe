"""`run_python`: run model-written Python in the sandbox and report what happened."""

from __future__ import annotations

from functools import cache

from ._policy import RunPythonResult, SandboxPolicy
from ._runtime import SandboxRuntime

__all__ = ["default_runtime", "run_python"]


@cache
def default_runtime() -> SandboxRuntime:
    """The process's sandbox runtime (the interpreter is compiled once per process, on first use)."""
    return SandboxRuntime()


async def run_python(
    code: str,
    policy: SandboxPolicy | None = None,
    *,
    runtime: SandboxRuntime | None = None,
) -> RunPythonResult:
    """Run `code` with CPython 3.12 in a fresh WebAssembly sandbox and return what it printed.

    The code sees no files, network, environment variables or state of any earlier call; limits
    come from `policy`. Failures of the code itself (an exception, a limit reached) are reported
    in the result, not raised.

    Args:
        code: Python source, run as the `__main__` module.
        policy: The operator's limits; `SandboxPolicy()` defaults when omitted.
        runtime: The sandbox runtime; the process-wide `default_runtime()` when omitted.

    Returns:
        Stdout, stderr, the repr of a final expression, and the error kind if the code failed.
    """
    return await (runtime or default_runtime()).run(code, policy or SandboxPolicy())
