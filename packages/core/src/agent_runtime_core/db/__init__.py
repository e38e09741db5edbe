"""Database engine, session scopes and the unit of work."""

from agent_runtime_core.db.session import (
    Database,
    after_commit,
    before_commit,
    session_scope,
    system_session_scope,
)
from agent_runtime_core.db.unit_of_work import UnitOfWork

__all__ = ["Database", "UnitOfWork", "after_commit", "before_commit", "session_scope", "system_session_scope"]
