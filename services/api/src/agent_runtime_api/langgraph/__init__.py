"""The LangGraph Platform API as a thin adapter over the ``/v1`` services.

Enough of LangGraph's HTTP API for the official ``langgraph-sdk`` client (and UIs built on it)
to talk to Agent Runtime unmodified: ``GET /info``, assistants (an assistant is an agent, its
versions the agent's versions), threads (our threads, their ``values`` the conversation as
LangChain messages), thread runs (create, ``stream``, ``wait``, ``join``, ``cancel``, rejoin with
``Last-Event-ID``), interrupts (our pending approvals and questions) resumed with
``command.resume``, and store items. Mapping and limits: docs/decisions.md, "LangGraph API".

Every call goes through the same services, authentication (``X-Api-Key: ar_…`` or Bearer), RBAC
and row-level security as ``/v1``. What is not supported answers a 4xx problem, never a 500.
"""

from agent_runtime_api.langgraph.router import router

__all__ = ["router"]
