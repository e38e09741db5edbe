"""Built-in tools every agent can be given: a calculator, the current time and HTTP GET.

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

__all__ = [
    "CalculatorResult",
    "HttpGetPolicy",
    "HttpGetResult",
    "build_builtin_toolset",
    "calculator",
    "current_time",
    "http_get",
    "is_public_address",
]

MAX_URL_LENGTH: Final = 2048


def build_builtin_toolset(
    policy: HttpGetPolicy | Callable[[], HttpGetPolicy],
    *,
    toolset_id: str = "builtin",
    toolset_factory: Callable[[str], FunctionToolset[Any]] | None = None,
) -> FunctionToolset[Any]:
    """Build the toolset holding every built-in tool.

    Args:
        policy: The limits `http_get` enforces, or a function returning them at call time (the
            worker reads them from its settings). The model never sees or chooses them.
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
    return toolset


def _plain_toolset(toolset_id: str) -> FunctionToolset[Any]:
    return FunctionToolset[Any](id=toolset_id)
