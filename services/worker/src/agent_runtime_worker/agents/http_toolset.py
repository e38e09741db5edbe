"""The tenant's HTTP tools, offered to the model per run from the agent version's definitions.

The problem: the agent (and the activities pydantic-ai derives from its toolsets) is defined once,
at import, but HTTP tools are data: each agent version declares its own names, descriptions,
JSON Schemas and endpoints. :class:`HttpToolset` is one ``FunctionToolset`` (toolset id ``http``,
frozen: it names the activity ``agent__agent_runtime__toolset__http__call_tool``) whose tools
come from the run's deps instead of Python functions:

* ``get_tools`` runs in workflow code, with no I/O: the definitions travel in the workflow input
  (:class:`~agent_runtime_core.temporal.ToolConfig`, secrets only by name);
* arguments are validated against the declared JSON Schema there too, before any activity is
  scheduled; invalid ones go back to the model as a retry prompt naming each problem;
* each call is one activity (pydantic-ai rebuilds the tool from its definition with
  :meth:`HttpToolset.tool_for_tool_def`), in which the worker's activity side reads the tenant's
  secrets and signing keys, sends the signed request and records the call's events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, Protocol

import jsonschema
from pydantic_ai import FunctionToolset, RunContext
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import ToolsetTool
from pydantic_ai.toolsets.function import FunctionToolsetTool
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError, from_json

from agent_runtime_core.temporal import ToolConfig

HTTP_TOOLSET_ID: Final = "http"
HTTP_TOOL_KIND: Final = "http"
_MAX_RETRIES: Final = 2


class HttpToolDeps(Protocol):
    """What the toolset reads from the run's deps."""

    @property
    def http_tools(self) -> list[ToolConfig]:
        """The version's HTTP tools, in the order the model is offered them."""
        ...


HttpToolCaller = Callable[[ToolConfig, dict[str, Any], RunContext[Any]], Awaitable[Any]]
"""Sends one HTTP tool call (the worker's activity side): config, validated arguments, context."""


class JsonSchemaArgs:
    """Validates a tool call's arguments against the tool's JSON Schema (draft 2020-12).

    Quacks like pydantic-core's ``SchemaValidator`` (what pydantic-ai calls): returns the
    arguments as a dict or raises a ``ValidationError`` whose messages the model reads. Partial
    arguments (while a call streams in) are parsed, not judged.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        """Validate against ``schema`` (checked when the version was created)."""
        self.schema = schema
        self._validator = jsonschema.Draft202012Validator(schema)

    def validate_json(
        self,
        input: str | bytes | bytearray,
        *,
        allow_partial: bool | Literal["off", "on", "trailing-strings"] = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Parse and validate JSON arguments."""
        partial = allow_partial not in (False, "off")
        try:
            value = from_json(input or b"{}", allow_partial="trailing-strings" if partial else False)
        except ValueError as error:
            raise _invalid([((), f"The arguments are not valid JSON: {error}", input)]) from None
        return self.validate_python(value, allow_partial=allow_partial)

    def validate_python(
        self,
        input: Any,
        *,
        allow_partial: bool | Literal["off", "on", "trailing-strings"] = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Validate already-parsed arguments."""
        value: Any = {} if input is None else input
        if allow_partial not in (False, "off"):
            return dict(value) if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
        errors: list[jsonschema.ValidationError] = list(
            self._validator.iter_errors(value)  # pyright: ignore[reportUnknownMemberType]
        )
        errors.sort(key=lambda error: [str(part) for part in error.absolute_path])
        problems = [(tuple(error.absolute_path), error.message, error.instance) for error in errors]
        if not isinstance(value, dict) and not problems:
            problems.append(((), "The arguments must be a JSON object.", value))
        if problems:
            raise _invalid(problems)
        return dict(value)  # pyright: ignore[reportUnknownArgumentType]


def _invalid(problems: list[tuple[tuple[Any, ...], str, Any]]) -> ValidationError:
    details: list[InitErrorDetails] = [
        InitErrorDetails(
            type=PydanticCustomError("json_schema", "{message}", {"message": message}),
            loc=tuple(str(part) if not isinstance(part, int) else part for part in path),
            input=instance,
        )
        for path, message, instance in problems[:20]
    ]
    return ValidationError.from_exception_data("arguments", details)


class HttpToolset(FunctionToolset[Any]):
    """The run's HTTP tools (see the module docstring)."""

    def __init__(self, caller: Callable[[], HttpToolCaller], *, toolset_id: str = HTTP_TOOLSET_ID) -> None:
        """``caller`` returns, at call time (inside the activity), the function that sends a call."""
        super().__init__(id=toolset_id, max_retries=_MAX_RETRIES)
        self._caller = caller

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        """The version's HTTP tools, built from the run's deps (workflow code: no I/O)."""
        tools: dict[str, ToolsetTool[Any]] = {}
        for config in _http_tools(ctx):
            tool_def = ToolDefinition(
                name=config.name,
                description=config.description or None,
                parameters_json_schema=config.parameters or {"type": "object", "properties": {}},
                metadata={"kind": HTTP_TOOL_KIND},
            )
            tools[config.name] = self._tool(config, tool_def, ctx)
        return tools

    def tool_for_tool_def(
        self, tool_def: ToolDefinition, *, ctx: RunContext[Any], original_name: str | None = None
    ) -> FunctionToolsetTool[Any]:
        """Rebuild a tool inside its call's activity from the definition the workflow offered."""
        name = original_name or tool_def.name
        for config in _http_tools(ctx):
            if config.name == name:
                return self._tool(config, tool_def, ctx)
        raise KeyError(name)

    def _tool(
        self, config: ToolConfig, tool_def: ToolDefinition, ctx: RunContext[Any]
    ) -> FunctionToolsetTool[Any]:
        async def call(args: dict[str, Any], run_ctx: RunContext[Any]) -> Any:
            return await self._caller()(config, args, run_ctx)

        return FunctionToolsetTool(
            toolset=self,
            tool_def=tool_def,
            max_retries=self.max_retries if self.max_retries is not None else ctx.max_retries,
            args_validator=JsonSchemaArgs(tool_def.parameters_json_schema),
            call_func=call,
            is_async=True,
            original_name=config.name,
        )


def _http_tools(ctx: RunContext[Any]) -> list[ToolConfig]:
    deps: Any = ctx.deps
    tools: list[ToolConfig] = list(getattr(deps, "http_tools", None) or [])
    return [tool for tool in tools if tool.kind == HTTP_TOOL_KIND and tool.http is not None]
