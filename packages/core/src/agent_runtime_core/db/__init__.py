"""Database engine, session scopes and the unit of work."""

from agent_runtime_core.db.session import Database, session_scope, system_session_scope
from agent_runtime_core.db.unit_of_work import UnitOfWork

__all__ = ["Database", "UnitOfWork", "session_scope", "system_session_scope"]
