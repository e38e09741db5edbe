"""TenantRepository: one tenant's rows, soft delete where the model has `deleted_at`, id pages."""

from __future__ import annotations

import pytest

from agent_runtime_core.db import Database, UnitOfWork
from agent_runtime_core.ids import new_agent_id, new_api_key_id
from agent_runtime_core.models import Agent, ApiKey
from agent_runtime_core.repositories import AgentRepository, ApiKeyRepository


async def add_agents(database: Database, tenant_id: str, count: int) -> list[str]:
    ids = [new_agent_id() for _ in range(count)]
    async with UnitOfWork(database, tenant_id).begin() as session:
        for agent_id in ids:
            await AgentRepository(session, tenant_id).add(
                Agent(id=agent_id, tenant_id=tenant_id, name=agent_id)
            )
    return ids


async def test_get_for_tenant_never_returns_another_tenants_row(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    [mine] = await add_agents(database, tenant_id, 1)
    async with UnitOfWork(database, other_tenant_id).begin() as session:
        assert await AgentRepository(session, other_tenant_id).get_for_tenant(mine) is None
    async with UnitOfWork(database, tenant_id).begin() as session:
        found = await AgentRepository(session, tenant_id).get_for_tenant(mine)
        assert found is not None and found.id == mine


async def test_add_refuses_a_row_of_another_tenant(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    async with UnitOfWork(database, tenant_id).begin() as session:
        with pytest.raises(ValueError, match="tenant"):
            await AgentRepository(session, tenant_id).add(
                Agent(id=new_agent_id(), tenant_id=other_tenant_id, name="elsewhere")
            )


async def test_soft_deleted_rows_are_hidden_unless_asked_for(database: Database, tenant_id: str) -> None:
    first, second = await add_agents(database, tenant_id, 2)
    async with UnitOfWork(database, tenant_id).begin() as session:
        agents = AgentRepository(session, tenant_id)
        row = await agents.get_for_tenant(first)
        assert row is not None
        await agents.soft_delete(row)
        assert row.deleted_at is not None and row.updated_at == row.deleted_at
    async with UnitOfWork(database, tenant_id).begin() as session:
        agents = AgentRepository(session, tenant_id)
        assert await agents.get_for_tenant(first) is None
        assert await agents.get_for_tenant(first, include_deleted=True) is not None
        assert [agent.id for agent in await agents.list(limit=10)] == [second]


async def test_models_without_deleted_at_cannot_be_soft_deleted(database: Database, tenant_id: str) -> None:
    key = ApiKey(
        id=new_api_key_id(),
        tenant_id=tenant_id,
        name="k",
        prefix=new_api_key_id()[-16:],
        secret_hash="x",
        created_by="t",
    )
    async with UnitOfWork(database, tenant_id).begin() as session:
        keys = ApiKeyRepository(session, tenant_id)
        await keys.add(key)
        with pytest.raises(TypeError, match="deleted_at"):
            await keys.soft_delete(key)


async def test_pages_follow_the_id_order_in_both_directions(database: Database, tenant_id: str) -> None:
    ids = await add_agents(database, tenant_id, 5)
    async with UnitOfWork(database, tenant_id).begin() as session:
        agents = AgentRepository(session, tenant_id)
        newest_first = [a.id for a in await agents.page(agents.scoped(), limit=10)]
        assert newest_first == sorted(ids, reverse=True)
        older = [a.id for a in await agents.page(agents.scoped(), limit=2, cursor_id=newest_first[1])]
        assert older == newest_first[2:4]
        oldest_first = await agents.page(agents.scoped(), limit=2, cursor_id=min(ids), order="oldest_first")
        assert [a.id for a in oldest_first] == sorted(ids)[1:3]


async def test_unit_of_work_rolls_back_when_the_block_raises(database: Database, tenant_id: str) -> None:
    agent_id = new_agent_id()

    async def add_then_fail() -> None:
        async with UnitOfWork(database, tenant_id).begin() as session:
            await AgentRepository(session, tenant_id).add(
                Agent(id=agent_id, tenant_id=tenant_id, name="gone")
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with UnitOfWork(database, tenant_id).begin() as session:
        assert await AgentRepository(session, tenant_id).get_for_tenant(agent_id) is None
