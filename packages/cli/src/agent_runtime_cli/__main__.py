"""``python -m agent_runtime_cli`` is the ``agent-runtime`` command."""

from agent_runtime_cli.entry import main

main()
