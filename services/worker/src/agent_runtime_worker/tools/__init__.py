"""Built-in tools every agent can be given: a calculator, the current time, HTTP GET and sandboxed Python.

The tools' docstrings are what the model reads as tool descriptions, and their type hints become
the JSON schemas pydantic-ai validates arguments against (invalid arguments, like a `ModelRetry`
raised by a tool, go back to the model as a retry prompt).

Tool names and the toolset id are part of the durable contract: pydantic-ai's Temporal
integration derives activity names from the toolset id and records tool names in workflow
histories, so treat both as frozen once released.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import Field
from pydantic_ai import CallDeferred, FunctionToolset

from agent_runtime_worker.tools.calculator import CalculatorResult, calculator
from agent_runtime_worker.tools.current_time import current_time
from agent_runtime_worker.tools.http_get import (
    HttpGetPolicy,
    HttpGetResult,
    http_get,
    is_public_address,
)
from agent_runtime_worker.tools.sandbox import RunPythonResult, SandboxPolicy, run_python

__all__ = [
    "CalculatorResult",
    "HttpGetPolicy",
    "HttpGetResult",
    "RunPythonResult",
    "SandboxPolicy",
    "build_builtin_toolset",
    "calculator",
    "current_time",
    "http_get",
    "is_public_address",
    "run_python",
]

MAX_URL_LENGTH: Final = 2048
MAX_CODE_LENGTH: Final = 100_000


def build_builtin_toolset(
    policy: HttpGetPolicy | Callable[[], HttpGetPolicy],
    *,
    sandbox_policy: SandboxPolicy | Callable[[], SandboxPolicy] = SandboxPolicy,
    toolset_id: str = "builtin",
    toolset_factory: Callable[[str], FunctionToolset[Any]] | None = None,
) -> FunctionToolset[Any]:
    """Build the toolset holding every built-in tool.

    Args:
        policy: The limits `http_get` enforces, or a function returning them at call time (the
            worker reads them from its settings). The model never sees or chooses them.
        sandbox_policy: The limits `run_python` enforces (time, memory, output), or a function
            returning them at call time; `SandboxPolicy`'s defaults unless given.
        toolset_id: The toolset id; durable execution names the toolset's activities after it,
            so it must be unique within an agent and stable across releases.
        toolset_factory: Builds the (empty) toolset from its id, e.g. a subclass that records
            tool-call events; a plain `FunctionToolset` by default.

    Returns:
        A toolset with exactly the tools named in `agent_runtime_core.catalog.BUILTIN_TOOL_NAMES`
        (the worker checks this at start-up), in the order the model is offered them.
    """

    async def fetch_url(
        url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)],
    ) -> HttpGetResult:
        """Fetch a public web page or HTTP API with a GET request and return its text.

        Only public http:// and https:// URLs can be fetched; private, local and internal
        network addresses are refused. Redirects are followed a limited number of times.
        Error statuses (404, 500, ...) are returned in `status_code` rather than failing.
        Long bodies are cut off, which `truncated` reports.

        Args:
            url: The absolute http:// or https:// URL to fetch, e.g. `https://example.com/page`.

        Returns:
            The final URL after redirects, the HTTP status code, the content type, the body text
            and whether the body was truncated.
        """
        return await http_get(url, policy if isinstance(policy, HttpGetPolicy) else policy())

    async def run_python_code(
        code: Annotated[str, Field(min_length=1, max_length=MAX_CODE_LENGTH)],
    ) -> RunPythonResult:
        """Run Python 3.12 code in an isolated sandbox and return what it printed.

        Use it to compute, parse or transform data exactly rather than by guessing. The standard
        library works (math, json, re, datetime, decimal, statistics, itertools, ...), but there
        is no network, no file system (not even a temporary one), no subprocesses or threads, and
        no third-party packages. Each call starts from scratch: nothing defined in an earlier call
        exists. The time, CPU and memory are limited, and long output is cut off.

        Args:
            code: The complete program. Print what you need to see; if the last line is an
                expression, its value is returned in `result` (like a notebook cell).

        Returns:
            `stdout`, `stderr` (with the traceback if the code raised), `result` (the repr of the
            last expression), and `error` (`exception`, `exit`, `timeout`, `cpu_time`, `memory`,
            `crash`) with `error_message` when the code did not finish normally.
        """
        limits = sandbox_policy if isinstance(sandbox_policy, SandboxPolicy) else sandbox_policy()
        return await run_python(code, limits)

    def ask_human(
        question: Annotated[str, Field(min_length=1, max_length=10_000)],
    ) -> str:
        """Ask a human a question and wait for their answer.

        Use this when you need information or a decision only a person can give. The run
        pauses until someone answers (or the wait times out).

        Args:
            question: The question, phrased so that a person can answer it without more context.

        Returns:
            The human's answer.
        """
        # Agent Runtime marks this tool as external, so the run waits for the answer instead of
        # calling it; outside a run, deferring is still the right behaviour.
        raise CallDeferred(kind="question")

    toolset = (toolset_factory or _plain_toolset)(toolset_id)
    toolset.add_function(calculator, takes_ctx=False, name="calculator")
    toolset.add_function(current_time, takes_ctx=False, name="current_time")
    toolset.add_function(fetch_url, takes_ctx=False, name="http_get")
    toolset.add_function(ask_human, takes_ctx=False, name="ask_human")
    toolset.add_function(run_python_code, takes_ctx=False, name="run_python")
    return toolset


def _plain_toolset(toolset_id: str) -> FunctionToolset[Any]:
    return FunctionToolset[Any](id=toolset_id)
