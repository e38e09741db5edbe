"""Row-level security: a tenant session sees and writes only its tenant's rows, whatever the query."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlmodel import select

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.db.rls import APP_ROLE, tenant_tables_sql
from agent_runtime_core.ids import new_agent_id, new_api_key_id, new_audit_id, new_run_id
from agent_runtime_core.models import (
    Agent,
    AgentVersion,
    ApiKey,
    AuditLogEntry,
    HumanRequest,
    HumanRequestKind,
    Run,
    RunEvent,
    RunStatus,
)
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import RunRepository

EXPECTED_TENANT_TABLES = {
    "agents",
    "agent_versions",
    "runs",
    "run_events",
    "human_requests",
    "audit_log",
    "api_keys",
}


async def seed(database: Database, tenant_id: str) -> dict[str, str]:
    """One row in every tenant table, written through the tenant's own session."""
    agent_id, run_id = new_agent_id(), new_run_id()
    async with session_scope(database, tenant_id) as session:
        session.add(Agent(id=agent_id, tenant_id=tenant_id, name=agent_id, latest_version=1))
        await session.flush()
        session.add(AgentVersion(agent_id=agent_id, version=1, tenant_id=tenant_id, model="builtin:scripted"))
        session.add(
            Run(
                id=run_id,
                tenant_id=tenant_id,
                agent_id=agent_id,
                agent_version=1,
                status=RunStatus.QUEUED,
                input="x",
                workflow_id=f"run-{run_id}",
            )
        )
        await session.flush()
        session.add(RunEvent(run_id=run_id, seq=1, tenant_id=tenant_id, type="run.queued", dedupe_key="q"))
        session.add(
            HumanRequest(
                id=f"apr_{run_id[4:]}",
                tenant_id=tenant_id,
                run_id=run_id,
                kind=HumanRequestKind.APPROVAL,
                tool_call_id="c1",
                tool="calculator",
                requested_at=utcnow(),
                expires_at=utcnow(),
            )
        )
        session.add(audit_entry(tenant_id))
        session.add(
            ApiKey(
                id=new_api_key_id(),
                tenant_id=tenant_id,
                name="rls",
                prefix=new_api_key_id()[-16:].lower(),
                secret_hash="0" * 64,
                roles=["viewer"],
                created_by="test",
            )
        )
    return {"agent_id": agent_id, "run_id": run_id}


def audit_entry(tenant_id: str) -> AuditLogEntry:
    return AuditLogEntry(
        id=new_audit_id(),
        tenant_id=tenant_id,
        actor="someone",
        auth_method="test",
        action="agents.create",
        resource_type="agent",
        method="POST",
        path="/v1/agents",
        status_code=201,
        outcome="success",
    )


async def tenant_tables(database: Database) -> list[str]:
    async with system_session_scope(database) as session:
        return [row[0] for row in (await session.execute(text(tenant_tables_sql()))).all()]


async def test_every_table_with_a_tenant_id_has_rls_forced_by_a_policy(database: Database) -> None:
    async with system_session_scope(database) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, count(p.polname) FROM pg_class c "
                    "LEFT JOIN pg_policy p ON p.polrelid = c.oid "
                    "WHERE c.relname = ANY(:tables) GROUP BY c.relname, c.relrowsecurity"
                ),
                {"tables": await tenant_tables(database)},
            )
        ).all()
    assert {row[0] for row in rows} >= EXPECTED_TENANT_TABLES
    assert all(row[1] and row[2] >= 1 for row in rows), rows


async def test_unfiltered_select_over_every_tenant_table_returns_only_the_sessions_tenant(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    await seed(database, tenant_id)
    await seed(database, other_tenant_id)
    for table in await tenant_tables(database):
        async with session_scope(database, tenant_id) as session:
            tenants = {
                row[0] for row in (await session.execute(text(f'SELECT tenant_id FROM "{table}"'))).all()
            }
        if table in EXPECTED_TENANT_TABLES:  # seeded above for both tenants
            assert tenants == {tenant_id}, table
        else:  # never another tenant's rows (NULL: rows shared by all, e.g. global prices)
            assert tenants <= {tenant_id, None}, table


async def test_session_runs_as_the_app_role_with_the_tenant_and_resets_after_the_transaction(
    database: Database, tenant_id: str
) -> None:
    async with session_scope(database, tenant_id) as session:
        row = (
            await session.execute(text("SELECT current_user, current_setting('app.tenant_id', true)"))
        ).one()
    assert tuple(row) == (APP_ROLE, tenant_id)
    # The same pooled connection, next transaction: nothing of the tenant's settings is left.
    async with system_session_scope(database) as session:
        row = (
            await session.execute(text("SELECT current_user, current_setting('app.tenant_id', true)"))
        ).one()
    assert row[0] != APP_ROLE
    assert row[1] in (None, "")


async def test_a_repository_without_its_tenant_filter_still_cannot_leak(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    theirs = await seed(database, other_tenant_id)
    async with session_scope(database, tenant_id) as session:
        # What a repository with a forgotten tenant filter would run:
        by_id = (await session.exec(select(Run).where(Run.id == theirs["run_id"]))).all()
        everything = (await session.exec(select(Run))).all()
        # A repository bound to the wrong tenant (a bug passing the other tenant's id):
        wrong = await RunRepository(session, other_tenant_id).get(theirs["run_id"])
        updated = await session.execute(text("UPDATE runs SET input = 'hijacked' WHERE id = :run_id"), theirs)
        deleted = await session.execute(text("DELETE FROM run_events WHERE run_id = :run_id"), theirs)
    assert by_id == []
    assert all(run.tenant_id == tenant_id for run in everything)
    assert wrong is None
    assert updated.rowcount == 0  # pyright: ignore[reportAttributeAccessIssue]
    assert deleted.rowcount == 0  # pyright: ignore[reportAttributeAccessIssue]
    async with system_session_scope(database) as session:
        run = await session.get(Run, theirs["run_id"])
    assert run is not None and run.input == "x"


@pytest.mark.parametrize("table", ["agents", "audit_log"])
async def test_inserting_a_row_for_another_tenant_is_refused(
    database: Database, tenant_id: str, other_tenant_id: str, table: str
) -> None:
    row: Any = (
        Agent(id=new_agent_id(), tenant_id=other_tenant_id, name="intruder")
        if table == "agents"
        else audit_entry(other_tenant_id)
    )
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with session_scope(database, tenant_id) as session:
            session.add(row)


async def test_moving_a_row_to_another_tenant_is_refused(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    mine = await seed(database, tenant_id)
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with session_scope(database, tenant_id) as session:
            await session.execute(
                text("UPDATE agents SET tenant_id = :other WHERE id = :id"),
                {"other": other_tenant_id, "id": mine["agent_id"]},
            )


async def test_a_session_without_a_tenant_sees_nothing(database: Database, tenant_id: str) -> None:
    await seed(database, tenant_id)
    async with database.session() as session:  # no scope: fail closed
        count = (await session.execute(text("SELECT count(*) FROM runs"))).scalar_one()
        role = (await session.execute(text("SELECT current_user"))).scalar_one()
    assert (count, role) == (0, APP_ROLE)
    with pytest.raises(ValueError, match="tenant"):
        async with session_scope(database, ""):
            pass


async def test_audit_entries_cannot_be_changed_or_deleted(database: Database, tenant_id: str) -> None:
    entry = audit_entry(tenant_id)
    async with session_scope(database, tenant_id) as session:
        session.add(entry)
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
    ):
        # The app role has no UPDATE/DELETE privilege...
        with pytest.raises(ProgrammingError, match="permission denied"):
            async with session_scope(database, tenant_id) as session:
                await session.execute(text(statement), {"id": entry.id})
        # ...and the trigger refuses even the owner.
        with pytest.raises(DBAPIError, match="cannot be changed"):
            async with system_session_scope(database) as session:
                await session.execute(text(statement), {"id": entry.id})
