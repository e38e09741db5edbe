"""Stored versions are read leniently: a tool retired from the catalog since, or a setting this
build does not know, is shown (never a 500); new versions are still checked against the catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent_runtime_core import catalog
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.ids import new_run_id
from agent_runtime_core.models import Agent, AgentVersion, Run, RunStatus
from agent_runtime_core.schemas import agent as agent_schemas

from .support import VERSION, assert_problem, create_agent


async def store_version(database: Database, tenant_id: str, agent_id: str, **columns: Any) -> None:
    """Write version 2 of ``agent_id`` straight into the table, as an older or newer build would."""
    async with system_session_scope(database) as session:
        session.add(
            AgentVersion(
                agent_id=agent_id,
                version=2,
                tenant_id=tenant_id,
                model="builtin:scripted",
                tools=columns["tools"],
                model_settings=columns.get("model_settings", {}),
                limits=columns.get("limits", {"max_requests": 5}),
            )
        )
        agent = await session.get(Agent, agent_id)
        assert agent is not None
        agent.latest_version = 2
        session.add(agent)


RETIRED = [
    {"name": "calculator", "requires_approval": False, "settings": {}},
    {"name": "fax_machine", "requires_approval": True, "settings": {"number": "+1"}, "added_later": 1},
]


async def test_version_naming_a_retired_tool_is_shown_with_available_false(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent = await create_agent(api, "old-tools", version=VERSION)
    await store_version(
        database,
        tenant_id,
        agent["id"],
        tools=RETIRED,
        model_settings={"temperature": 0.5, "top_k": 3},
        limits={"max_requests": 5, "added_by_a_newer_api": True},
    )

    response = await api.get(f"/v1/agents/{agent['id']}/versions/2")
    assert response.status_code == 200, response.text
    version = response.json()
    # Rows written before tools had a kind read as catalog tools; HTTP-only fields are null.
    http_only = {"kind": "catalog", "description": None, "parameters": None, "http": None, "ref": None}
    assert version["tools"] == [
        {"name": "calculator", "requires_approval": False, "settings": {}, "available": True, **http_only},
        {
            "name": "fax_machine",
            "requires_approval": True,
            "settings": {"number": "+1"},
            "available": False,
            **http_only,
        },
    ]
    assert version["model_settings"] == {"temperature": 0.5, "max_tokens": None}
    assert version["limits"]["max_requests"] == 5
    assert "added_by_a_newer_api" not in version["limits"]

    listed = await api.get(f"/v1/agents/{agent['id']}/versions")
    assert listed.status_code == 200, listed.text
    assert [v["version"] for v in listed.json()["data"]] == [2, 1]
    assert listed.json()["data"][0]["tools"][1]["available"] is False

    fetched = await api.get(f"/v1/agents/{agent['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["latest_version"] == 2


async def test_new_version_with_an_unknown_tool_is_still_422(api: httpx.AsyncClient) -> None:
    agent = await create_agent(api, "new-tools")
    problem = assert_problem(
        await api.post(
            f"/v1/agents/{agent['id']}/versions", json={**VERSION, "tools": [{"name": "fax_machine"}]}
        ),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["loc"] == ["body", "tools", 0, "name"]


async def test_new_version_naming_a_retired_tool_is_422_saying_why(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What build B of the deploy test does: http_get moves from the catalog to RETIRED_TOOLS.
    monkeypatch.setitem(catalog.RETIRED_TOOLS, "http_get", "use the fetch tool instead")
    monkeypatch.setattr(
        agent_schemas, "BUILTIN_TOOL_NAMES", tuple(n for n in catalog.BUILTIN_TOOL_NAMES if n != "http_get")
    )
    agent = await create_agent(api, "retired-tools")
    problem = assert_problem(
        await api.post(
            f"/v1/agents/{agent['id']}/versions", json={**VERSION, "tools": [{"name": "http_get"}]}
        ),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["loc"] == ["body", "tools", 0, "name"]
    assert "tool 'http_get' was retired: use the fetch tool instead" in problem["errors"][0]["msg"]


def test_openapi_documents_available_on_version_tools(api: httpx.AsyncClient) -> None:
    del api
    from agent_runtime_api.main import create_app
    from agent_runtime_core.settings import Settings

    schemas = create_app(Settings()).openapi()["components"]["schemas"]
    tool = schemas["ToolPublic"]
    assert "available" in tool["properties"]
    assert "retired" in tool["properties"]["available"]["description"]
    assert schemas["AgentVersionPublic"]["properties"]["tools"]["items"]["$ref"].endswith("ToolPublic")


async def test_run_whose_stored_error_lacks_fields_is_still_readable(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agent = await create_agent(api, "old-errors", version=VERSION)
    run_id = new_run_id()
    async with system_session_scope(database) as session:
        session.add(
            Run(
                id=run_id,
                tenant_id=tenant_id,
                agent_id=agent["id"],
                agent_version=1,
                status=RunStatus.FAILED,
                input="hi",
                workflow_id=f"run-{run_id}",
                error={"kind": "written by another build"},
            )
        )

    response = await api.get(f"/v1/runs/{run_id}")
    assert response.status_code == 200, response.text
    assert response.json()["error"] == {"code": "error", "message": ""}
