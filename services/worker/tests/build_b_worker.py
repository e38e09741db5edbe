"""Build B of the worker, for ``test_deploy.py``: this checkout (build A) with ``http_get`` retired.

A real retirement is a code change in ``agent_runtime_core/catalog.py``: the tool's name moves from
``BUILTIN_TOOL_NAMES`` to ``RETIRED_TOOLS``. This script makes exactly that change in memory before
anything else imports the catalog, then runs ``agent-runtime`` with its arguments (``worker ...``).
"""

from __future__ import annotations

from agent_runtime_core import catalog

RETIRED_TOOL = "http_get"
RETIRED_BECAUSE = "build B replaced it with a fetch tool of the operator's own"


def retire() -> None:
    """Build B's change to the catalog (importing this module changes nothing)."""
    catalog.RETIRED_TOOLS[RETIRED_TOOL] = RETIRED_BECAUSE
    names = tuple(name for name in catalog.BUILTIN_TOOL_NAMES if name != RETIRED_TOOL)
    setattr(catalog, "BUILTIN_TOOL_NAMES", names)  # noqa: B010 - Final for product code; this is build B


if __name__ == "__main__":
    retire()
    from agent_runtime_cli.main import app

    app(prog_name="agent-runtime")
