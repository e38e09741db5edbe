"""Sandboxed execution of model-written Python (CPython on WebAssembly, run by wasmtime).

See `docs/sandbox.md` for the threat model.
"""

from ._policy import RunPythonResult, SandboxErrorKind, SandboxPolicy
from ._run import default_runtime, run_python
from ._runtime import SandboxRuntime, SandboxUnavailableError

__all__ = [
    "RunPythonResult",
    "SandboxErrorKind",
    "SandboxPolicy",
    "SandboxRuntime",
    "SandboxUnavailableError",
    "default_runtime",
    "run_python",
]
