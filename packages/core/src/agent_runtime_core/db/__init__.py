"""Database engine and session scope."""

from agent_runtime_core.db.session import Database, session_scope, system_session_scope

__all__ = ["Database", "session_scope", "system_session_scope"]
