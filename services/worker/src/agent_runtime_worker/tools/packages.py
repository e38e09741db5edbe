"""Tool packages: Python distributions installed into the worker's image that add tools.

The contract (also in ``docs/tool-packages.md``):

* A package declares one or more entry points in the group ``agent_runtime.tools``
  (:data:`ENTRY_POINT_GROUP`), e.g. in its ``pyproject.toml``::

      [project.entry-points."agent_runtime.tools"]
      example = "agent_runtime_example_tools:TOOLS"

* The object an entry point loads is one of:

  - a list (or tuple) of plain functions, sync or async (``pydantic_ai.Tool`` objects may be
    mixed in): each function is one tool, named after the function;
  - a ``pydantic_ai.FunctionToolset``: its tools, by their names (toolset-wide options such as
    ``timeout`` or ``instructions`` are not carried over; set them per tool);
  - a callable taking no arguments that returns either of the above (called once, at start-up);
    a single function must therefore be wrapped in a list.

* A tool's name must match :data:`TOOL_NAME_PATTERN` (``^[A-Za-z][A-Za-z0-9_]{0,63}$``) and must
  not be a built-in tool's (``agent_runtime_core.catalog``) nor another package's. Its docstring
  is the description the model reads and its type hints the JSON schema its arguments are
  validated against (before any activity runs). Schemas must not depend on anything that changes
  while the worker runs: the agent is defined once, at import.

* A tool receives only its arguments: no ``RunContext`` (a tool that takes one is refused), no
  access to the worker's internals, its database or its settings. It runs inside its own
  Temporal activity, between ``tool.call.started`` and ``tool.call.finished`` events, and may be
  run again after a worker crash: a tool with side effects reads
  ``agent_runtime_worker.agents.activities.current_tool_idempotency_key`` (``<run_id>:<call_id>``,
  the same on every retry) and passes it on. An error the model should correct is raised as
  ``pydantic_ai.ModelRetry``; any other exception fails the attempt and Temporal retries it.
  Approval is the agent version's decision (``tools[].requires_approval``), so a tool that
  requires approval by itself is refused.

* A package that breaks the contract (its entry point fails to load, returns something else, a
  name is invalid or taken) is reported by distribution and entry point, and left out entirely;
  the worker then refuses to start (``build_worker`` raises), listing every problem. Why not start
  without it: workers of one task queue must offer the same tools, or a run that called a tool on
  one worker stops replaying on another, and a version naming the tool would run without it. An
  operator whose image is broken wants the rollout to stop at the first worker, with the old
  workers still serving.

* An uninstalled package leaves histories that called its tools: :class:`PackageToolset` answers
  names the version enables that no toolset serves with a stand-in tool (any arguments, a tool
  error when called), so those histories still replay and a new call reads "not installed".

Discovery reads installed distributions' metadata and imports the packages; it runs once, when
the agent definition is imported (in the worker's host process, never inside a workflow).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import Distribution, entry_points
from typing import Any, Final, NoReturn, Protocol, cast

from pydantic_ai import FunctionToolset, ModelRetry, RunContext, Tool
from pydantic_ai.tools import AgentDepsT, ToolDefinition
from pydantic_ai.toolsets import ToolsetTool
from pydantic_ai.toolsets.function import FunctionToolsetTool

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "agent_runtime.tools"
"""The entry point group tool packages register their tools in."""

TOOL_NAME_PATTERN: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""What a package tool may be called (the catalog's names are at most 64 characters)."""

ANY_ARGUMENTS: Final[dict[str, Any]] = {"type": "object", "additionalProperties": True}


class EntryPointLike(Protocol):
    """What discovery reads of an entry point (``importlib.metadata.EntryPoint`` has it; its
    ``dist``, the distribution declaring it, is read when present)."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> Any: ...


@dataclass(frozen=True)
class PackageTool:
    """One tool an installed package provides."""

    tool: Tool[Any]
    distribution: str
    version: str
    entry_point: str
    """``<name> = <object reference>``, as declared."""

    @property
    def name(self) -> str:
        """The tool's name (what versions enable and the model calls)."""
        return self.tool.name

    @property
    def source(self) -> str:
        """``package:<distribution> <version>``, the catalog's ``source``."""
        return f"package:{self.distribution} {self.version}"


@dataclass(frozen=True)
class PackageProblem:
    """Why an installed package's entry point was left out."""

    distribution: str
    entry_point: str
    reason: str

    def __str__(self) -> str:
        """One line naming the package, its entry point and the reason."""
        return f"tool package {self.distribution} (entry point {self.entry_point!r}): {self.reason}"


class ToolPackageError(RuntimeError):
    """Installed tool packages break the contract; the worker does not start."""


@dataclass(frozen=True)
class InstalledToolPackages:
    """What discovery found: the tools to serve and the entry points left out."""

    tools: tuple[PackageTool, ...] = ()
    problems: tuple[PackageProblem, ...] = ()

    def check(self) -> None:
        """Raise :class:`ToolPackageError` listing every problem, if any."""
        if self.problems:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            raise ToolPackageError(
                f"{len(self.problems)} tool package entry point(s) in group {ENTRY_POINT_GROUP!r} "
                f"cannot be served; fix or uninstall them:\n{lines}"
            )


class _Refused(Exception):
    """An entry point breaks the contract (the message says how)."""


def discover_tool_packages(
    installed: Iterable[EntryPointLike] | None = None, *, reserved_names: Collection[str] = ()
) -> InstalledToolPackages:
    """Load every tool package entry point and check its tools against the contract.

    Args:
        installed: The entry points to load; default: the group's, from the installed
            distributions' metadata.
        reserved_names: Names packages may not use (the built-in and retired tools).

    Returns:
        The tools of the entry points that loaded and passed, in a stable order (distribution,
        then entry point), and a problem for each entry point left out. Each problem is also
        logged as an error.
    """
    points = list(entry_points(group=ENTRY_POINT_GROUP) if installed is None else installed)
    points.sort(key=lambda point: (_distribution(point)[0], point.name))
    taken: dict[str, str] = dict.fromkeys(reserved_names, "a built-in tool")
    tools: list[PackageTool] = []
    problems: list[PackageProblem] = []
    for point in points:
        distribution, version = _distribution(point)
        declared = f"{point.name} = {point.value}"
        try:
            package_tools = _tools_of(point)
            _check_names(package_tools, taken)
        except _Refused as refused:
            problem = PackageProblem(distribution, declared, str(refused))
            logger.error("%s", problem)
            problems.append(problem)
            continue
        for tool in package_tools:
            taken[tool.name] = f"package {distribution}"
            tools.append(PackageTool(tool, distribution, version, declared))
    return InstalledToolPackages(tuple(tools), tuple(problems))


def _distribution(point: EntryPointLike) -> tuple[str, str]:
    dist: object = getattr(point, "dist", None)
    if not isinstance(dist, Distribution):
        return "<unknown distribution>", "0"
    return dist.name, dist.version


def _tools_of(point: EntryPointLike) -> list[Tool[Any]]:
    try:
        loaded: Any = point.load()
    except Exception as exc:
        raise _Refused(f"loading {point.value!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, FunctionToolset | list | tuple) and callable(loaded):
        try:
            loaded = loaded()
        except Exception as exc:
            raise _Refused(f"calling {point.value!r}() failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(loaded, FunctionToolset):
        toolset = cast(FunctionToolset[Any], loaded)
        tools = list(toolset.tools.values())
    elif isinstance(loaded, list | tuple):
        items = cast(Sequence[Any], loaded)
        tools = [_as_tool(item) for item in items]
    else:
        raise _Refused(
            f"{point.value!r} is a {type(loaded).__name__}; expected a pydantic_ai.FunctionToolset, a "
            "list of functions, or a callable returning either"
        )
    if not tools:
        raise _Refused(f"{point.value!r} provides no tools")
    for tool in tools:
        if tool.takes_ctx:
            raise _Refused(
                f"tool {tool.name!r} takes a RunContext; package tools receive only their arguments"
            )
        if tool.requires_approval:
            raise _Refused(
                f"tool {tool.name!r} requires approval by itself; approval is set per agent version "
                "(tools[].requires_approval)"
            )
    return tools


def _as_tool(item: Any) -> Tool[Any]:
    if isinstance(item, Tool):
        return item  # pyright: ignore[reportUnknownVariableType]
    if not callable(item):
        raise _Refused(f"{item!r} is not a function")
    function: Callable[..., Any] = item
    try:
        return Tool(function, takes_ctx=False)
    except Exception as exc:  # pydantic-ai cannot build a schema from the signature
        name = getattr(function, "__name__", repr(function))
        raise _Refused(f"tool {name!r} has no usable schema: {type(exc).__name__}: {exc}") from exc


def _check_names(tools: list[Tool[Any]], taken: dict[str, str]) -> None:
    seen: set[str] = set()
    for tool in tools:
        if not TOOL_NAME_PATTERN.fullmatch(tool.name):
            raise _Refused(f"tool name {tool.name!r} does not match {TOOL_NAME_PATTERN.pattern}")
        if tool.name in taken:
            raise _Refused(f"tool name {tool.name!r} is already taken by {taken[tool.name]}")
        if tool.name in seen:
            raise _Refused(f"tool name {tool.name!r} is defined twice")
        seen.add(tool.name)


class PackageToolset(FunctionToolset[AgentDepsT]):
    """The installed packages' tools, plus a stand-in for each enabled tool nobody serves.

    A run that called a package tool must replay after the package is uninstalled (or on a worker
    without it): the model's call is in the history, and the replayed workflow must schedule the
    same tool-call activity, which it does only if some toolset offers the name. So for every name
    ``absent_tools`` returns that this toolset does not hold, it offers a stand-in accepting any
    arguments; calling it is a tool error the model reads ("not installed"), like a retired tool.
    """

    def __init__(
        self,
        tools: Sequence[Tool[AgentDepsT]] = (),
        *,
        id: str,
        absent_tools: Callable[[RunContext[AgentDepsT]], Iterable[str]] | None = None,
    ) -> None:
        """Serve ``tools`` under the toolset id ``id`` (frozen: activity names derive from it).

        Args:
            tools: The package tools this worker has.
            id: The toolset id.
            absent_tools: The names a run may call that no other toolset serves (e.g. the version's
                enabled names minus the built-in ones); the ones this toolset does not hold get a
                stand-in. Called in workflow code: no I/O.
        """
        super().__init__(list(tools), id=id)
        self._absent_tools = absent_tools

    async def get_tools(self, ctx: RunContext[AgentDepsT]) -> dict[str, ToolsetTool[AgentDepsT]]:
        """The installed tools, then the stand-ins for absent names."""
        tools = await super().get_tools(ctx)
        if self._absent_tools is not None:
            for name in self._absent_tools(ctx):
                if name not in tools and name not in self.tools and TOOL_NAME_PATTERN.fullmatch(name):
                    tools[name] = self._stand_in(name, ctx, None)
        return tools

    def tool_for_tool_def(
        self, tool_def: ToolDefinition, *, ctx: RunContext[AgentDepsT], original_name: str | None = None
    ) -> FunctionToolsetTool[AgentDepsT]:
        """The tool a tool-call activity runs: a stand-in when this worker lacks the package."""
        name = original_name if original_name is not None else tool_def.name
        if name in self.tools:
            return super().tool_for_tool_def(tool_def, ctx=ctx, original_name=original_name)
        return self._stand_in(name, ctx, tool_def)

    def _stand_in(
        self, name: str, ctx: RunContext[AgentDepsT], tool_def: ToolDefinition | None
    ) -> FunctionToolsetTool[AgentDepsT]:
        async def not_installed(**_arguments: Any) -> NoReturn:
            raise ModelRetry(
                f"The tool '{name}' is not installed on this worker. It was not run; do not call it again."
            )

        tool = Tool[AgentDepsT].from_schema(
            not_installed,
            name=name,
            description=(
                f"NOT INSTALLED on this worker, do not call: the tool package providing '{name}' is missing."
            ),
            json_schema=ANY_ARGUMENTS,
        )
        max_retries = self.max_retries if self.max_retries is not None else ctx.max_retries
        return FunctionToolsetTool(
            toolset=self,
            tool_def=tool_def or tool.tool_def,
            max_retries=max_retries,
            args_validator=tool.function_schema.validator,
            args_validator_func=tool.args_validator,
            call_func=tool.function_schema.call,
            is_async=True,
            original_name=name,
        )
