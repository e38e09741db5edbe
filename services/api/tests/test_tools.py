"""Registered tools (`/v1/tools`), the catalog, and versions that declare HTTP tools, reference
registered tools and name MCP servers: every bad definition is a 422 naming the field."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from sqlmodel import col, delete

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.ids import new_id
from agent_runtime_core.models import Agent, AgentVersion, CatalogTool, ToolSecret
from agent_runtime_core.temporal import AgentConfig

from .support import assert_problem, client_for, create_agent

SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


def definition(name: str = "lookup_order", **changes: Any) -> dict[str, Any]:
    """A valid registered tool body."""
    body: dict[str, Any] = {
        "name": name,
        "description": "Look up an order by number.",
        "parameters": SCHEMA,
        "http": {
            "method": "POST",
            "url": "https://orders.example.com/lookup",
            "headers": {"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"},
            "timeout_s": 10,
            "retry": {"max_attempts": 3, "retry_on_status": [503]},
        },
    }
    body.update(changes)
    return body


def inline_tool(name: str = "weather", **http: Any) -> dict[str, Any]:
    """A valid inline HTTP tool of a version."""
    return {
        "name": name,
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "http": {"method": "GET", "url": "https://weather.example.com/now", **http},
    }


def locs(problem: dict[str, Any]) -> list[list[str | int]]:
    return [error["loc"] for error in problem["errors"]]


async def add_secret(database: Database, tenant_id: str, name: str) -> None:
    """A secret of ``tenant_id`` (only its name matters to these checks)."""
    async with session_scope(database, tenant_id) as session:
        session.add(
            ToolSecret(id=new_id("sec"), tenant_id=tenant_id, name=name, ciphertext=b"sealed", key_id="test")
        )


@pytest.fixture
async def tools_api(database: Database, tenant_id: str, api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API of a tenant that has the secret ORDERS_TOKEN."""
    await add_secret(database, tenant_id, "ORDERS_TOKEN")
    return api


@pytest.fixture
async def other_api(database_url: str, other_tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """Another tenant's API."""
    async for client in client_for(database_url, other_tenant_id):
        yield client


async def register(api: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await api.post("/v1/tools", json=definition(**changes))
    assert response.status_code == 201, response.text
    return response.json()


async def new_version(api: httpx.AsyncClient, agent_id: str, **version: Any) -> httpx.Response:
    return await api.post(f"/v1/agents/{agent_id}/versions", json={"model": "builtin:scripted", **version})


# ------------------------------------------------------------------------------------ CRUD


async def test_register_update_and_read_revisions(tools_api: httpx.AsyncClient) -> None:
    api = tools_api
    response = await api.post("/v1/tools", json=definition())
    assert response.status_code == 201, response.text
    tool = response.json()
    assert tool["id"].startswith("tool_")
    assert response.headers["location"] == f"/v1/tools/{tool['id']}"
    assert tool["latest_revision"] == 1
    assert tool["kind"] == "http"
    assert tool["http"]["headers"] == {"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"}
    assert tool["http"]["retry"]["max_attempts"] == 3
    assert tool["parameters"] == SCHEMA

    changed = definition("find_order", description="Find an order.")
    updated = await api.put(f"/v1/tools/{tool['id']}", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["latest_revision"] == 2
    assert updated.json()["name"] == "find_order"
    assert (await api.get(f"/v1/tools/{tool['id']}")).json()["description"] == "Find an order."

    first = (await api.get(f"/v1/tools/{tool['id']}/revisions/1")).json()
    assert first["description"] == "Look up an order by number."  # revisions never change
    assert first["created_by"] == "test"
    listed = (await api.get(f"/v1/tools/{tool['id']}/revisions", params={"limit": 1})).json()
    assert [r["revision"] for r in listed["data"]] == [2]
    rest = (
        await api.get(f"/v1/tools/{tool['id']}/revisions", params={"cursor": listed["next_cursor"]})
    ).json()
    assert [r["revision"] for r in rest["data"]] == [1]
    assert_problem(await api.get(f"/v1/tools/{tool['id']}/revisions/3"), 404, "tool_revision_not_found")

    by_name = (await api.get("/v1/tools", params={"name": "find_order"})).json()["data"]
    assert [t["id"] for t in by_name] == [tool["id"]]
    assert (await api.get("/v1/tools", params={"name": "lookup_order"})).json()["data"] == []


async def test_duplicate_live_name_is_409_and_free_after_delete(tools_api: httpx.AsyncClient) -> None:
    tool = await register(tools_api)
    assert_problem(await tools_api.post("/v1/tools", json=definition()), 409, "tool_name_taken")
    other = await register(tools_api, name="other")
    assert_problem(await tools_api.put(f"/v1/tools/{other['id']}", json=definition()), 409, "tool_name_taken")
    assert (await tools_api.delete(f"/v1/tools/{tool['id']}")).status_code == 204
    assert_problem(await tools_api.get(f"/v1/tools/{tool['id']}"), 404, "tool_not_found")
    await register(tools_api)  # the name is free again


async def test_catalog_route_is_not_a_tool_id(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/tools/catalog")
    assert response.status_code == 200, response.text
    names = [tool["name"] for tool in response.json()["data"]]
    assert {"calculator", "current_time", "http_get", "ask_human"} <= set(names)


# ---------------------------------------------------------------------- invalid definitions


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"parameters": {"type": "object", "properties": {"a": {"type": "nope"}}}}, ["body", "parameters", "properties", "a", "type"]),
        ({"parameters": {"type": "array"}}, ["body", "parameters", "type"]),
        ({"name": "9lives"}, ["body", "name"]),
        ({"http": {"url": "ftp://x.example.com"}}, ["body", "http", "url"]),
        ({"http": {"url": "https://user:pw@x.example.com"}}, ["body", "http", "url"]),
        ({"http": {"url": "https://x.example.com", "headers": {"Bad Name": "v"}}}, ["body", "http", "headers", "Bad Name"]),
        ({"http": {"url": "https://x.example.com", "headers": {"X-A": "a\r\nb"}}}, ["body", "http", "headers", "X-A"]),
        ({"http": {"url": "https://x.example.com", "headers": {"Host": "evil"}}}, ["body", "http", "headers", "Host"]),
        ({"http": {"url": "https://x.example.com", "timeout_s": 0}}, ["body", "http", "timeout_s"]),
        ({"http": {"url": "https://x.example.com", "retry": {"max_attempts": 11}}}, ["body", "http", "retry", "max_attempts"]),
        ({"http": {"url": "https://x.example.com", "retry": {"retry_on_status": [200]}}}, ["body", "http", "retry", "retry_on_status"]),
    ],
)  # fmt: skip
async def test_invalid_definition_is_422_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], loc: list[str | int]
) -> None:
    problem = assert_problem(await api.post("/v1/tools", json=definition(**changes)), 422, "validation_error")
    assert loc in locs(problem), problem
    assert (await api.get("/v1/tools")).json()["data"] == []


async def test_deployment_rules_are_422_naming_the_field(database_url: str, tenant_id: str) -> None:
    async for api in client_for(database_url, tenant_id, tools_max_timeout_s=5):
        body = definition(http={"url": "http://10.0.0.7/lookup", "timeout_s": 10})
        problem = assert_problem(await api.post("/v1/tools", json=body), 422, "validation_error")
        errors = {(tuple(e["loc"]), e["type"]) for e in problem["errors"]}
        assert errors == {
            (("body", "http", "url"), "insecure_url"),
            (("body", "http", "url"), "private_address"),
            (("body", "http", "timeout_s"), "timeout_too_long"),
        }
    async for api in client_for(database_url, tenant_id, tools_require_https=False):
        response = await api.post("/v1/tools", json=definition(http={"url": "http://orders.example.com"}))
        assert response.status_code == 201, response.text


async def test_unknown_secret_is_422_naming_the_header(api: httpx.AsyncClient) -> None:
    problem = assert_problem(await api.post("/v1/tools", json=definition()), 422, "unknown_secret")
    assert locs(problem) == [["body", "http", "headers", "Authorization"]]
    assert "ORDERS_TOKEN" in problem["errors"][0]["msg"]


async def test_name_of_a_catalog_tool_is_422(tools_api: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await tools_api.post("/v1/tools", json=definition("calculator")), 422, "validation_error"
    )
    assert locs(problem) == [["body", "name"]]


# ------------------------------------------------------------------------------ cross-tenant


async def test_another_tenants_tool_and_secret_do_not_exist(
    tools_api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    tool = await register(tools_api)
    assert_problem(await other_api.get(f"/v1/tools/{tool['id']}"), 404, "tool_not_found")
    assert_problem(await other_api.put(f"/v1/tools/{tool['id']}", json=definition()), 404, "tool_not_found")
    assert_problem(await other_api.delete(f"/v1/tools/{tool['id']}"), 404, "tool_not_found")
    assert_problem(await other_api.get(f"/v1/tools/{tool['id']}/revisions/1"), 404, "tool_not_found")
    assert (await other_api.get("/v1/tools")).json()["data"] == []
    # The other tenant has no secret ORDERS_TOKEN: naming it is the same 422 as any unknown secret.
    assert_problem(await other_api.post("/v1/tools", json=definition()), 422, "unknown_secret")

    agent = await create_agent(other_api, "borrower")
    theirs = await new_version(other_api, agent["id"], tools=[{"tool": {"name": "lookup_order"}}])
    missing = await new_version(other_api, agent["id"], tools=[{"tool": {"name": "no_such_tool"}}])
    for response in (theirs, missing):
        problem = assert_problem(response, 422, "unknown_tool")
        assert locs(problem) == [["body", "tools", 0, "tool", "name"]]
    assert theirs.json()["detail"].replace("lookup_order", "X") == missing.json()["detail"].replace(
        "no_such_tool", "X"
    )
    assert (await tools_api.get(f"/v1/tools/{tool['id']}")).json()["latest_revision"] == 1


# ------------------------------------------------------------------------- versions and tools


async def test_version_pins_the_revision_and_an_update_does_not_change_it(
    tools_api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    api = tools_api
    tool = await register(api)
    agent = await create_agent(api, "orders-bot")
    response = await new_version(
        api, agent["id"], tools=[{"tool": {"name": "lookup_order"}, "requires_approval": True}]
    )
    assert response.status_code == 201, response.text
    stored = response.json()["tools"][0]
    assert stored["kind"] == "http"
    assert stored["name"] == "lookup_order"
    assert stored["ref"] == {"tool_id": tool["id"], "name": "lookup_order", "revision": 1}
    assert stored["description"] == "Look up an order by number."
    assert stored["http"]["url"] == "https://orders.example.com/lookup"
    assert stored["requires_approval"] is True

    await api.put(
        f"/v1/tools/{tool['id']}",
        json=definition(description="Changed.", http={"url": "https://v2.example.com"}),
    )
    again = (await api.get(f"/v1/agents/{agent['id']}/versions/1")).json()["tools"][0]
    assert again["description"] == "Look up an order by number."
    assert again["http"]["url"] == "https://orders.example.com/lookup"

    # A later version naming no revision gets the latest; one naming revision 1 gets that one.
    both = await new_version(
        api,
        agent["id"],
        tools=[
            {"tool": {"name": "lookup_order"}},
            {"name": "old_lookup", "tool": {"name": "lookup_order", "revision": 1}},
        ],
    )
    assert both.status_code == 201, both.text
    latest, pinned = both.json()["tools"]
    assert (latest["ref"]["revision"], latest["description"]) == (2, "Changed.")
    assert (pinned["name"], pinned["ref"]["revision"], pinned["description"]) == (
        "old_lookup",
        1,
        "Look up an order by number.",
    )
    problem = assert_problem(
        await new_version(api, agent["id"], tools=[{"tool": {"name": "lookup_order", "revision": 9}}]),
        422,
        "unknown_tool",
    )
    assert locs(problem) == [["body", "tools", 0, "tool", "revision"]]

    # What the workflow receives: the stored dicts read as the durable contract.
    async with system_session_scope(database) as session:
        row = await session.get(AgentVersion, (agent["id"], 1))
        agent_row = await session.get(Agent, agent["id"])
        assert row is not None and agent_row is not None
        config = AgentConfig.from_version(agent_row, row)
    (tool_config,) = config.tools
    assert tool_config.kind == "http"
    assert tool_config.ref is not None and tool_config.ref.tool_id == tool["id"]
    assert tool_config.http is not None
    assert tool_config.http.headers == {"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"}
    assert tool_config.http.retry is not None and tool_config.http.retry.retry_on_status == [503]
    assert tool_config.parameters == SCHEMA
    assert tenant_id == row.tenant_id


async def test_delete_in_use_is_409_naming_the_agent_until_the_agent_is_deleted(
    tools_api: httpx.AsyncClient,
) -> None:
    api = tools_api
    tool = await register(api)
    agent = await create_agent(
        api, "uses-it", version={"model": "builtin:scripted", "tools": [{"tool": {"name": "lookup_order"}}]}
    )
    problem = assert_problem(await api.delete(f"/v1/tools/{tool['id']}"), 409, "tool_in_use")
    assert "uses-it" in problem["detail"] and agent["id"] in problem["detail"]
    assert (await api.delete(f"/v1/agents/{agent['id']}")).status_code == 204
    assert (await api.delete(f"/v1/tools/{tool['id']}")).status_code == 204


async def test_inline_http_tool_and_mcp_server_round_trip(
    tools_api: httpx.AsyncClient, database: Database
) -> None:
    api = tools_api
    agent = await create_agent(api, "inline")
    server = {
        "name": "crm",
        "url": "https://mcp.example.com/mcp",
        "headers": {"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"},
        "tools": ["find_customer"],
        "list_ttl_s": 60,
    }
    response = await new_version(
        api,
        agent["id"],
        tools=[inline_tool(headers={"X-Key": "{{secrets.ORDERS_TOKEN}}"}), {"name": "calculator"}],
        mcp_servers=[server],
    )
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["tools"][0]["kind"] == "http" and version["tools"][0]["ref"] is None
    assert version["tools"][0]["http"]["headers"] == {"X-Key": "{{secrets.ORDERS_TOKEN}}"}
    assert version["tools"][1]["kind"] == "catalog"
    assert version["mcp_servers"][0]["name"] == "crm"
    assert version["mcp_servers"][0]["transport"] == "streamable-http"

    async with system_session_scope(database) as session:
        row = await session.get(AgentVersion, (agent["id"], 1))
        agent_row = await session.get(Agent, agent["id"])
        assert row is not None and agent_row is not None
        config = AgentConfig.from_version(agent_row, row)
    weather, calculator = config.tools
    assert weather.kind == "http" and weather.http is not None
    assert weather.http.method == "GET" and weather.http.url == "https://weather.example.com/now"
    assert weather.description == "Weather for a city."
    assert calculator.kind == "catalog" and calculator.http is None
    (mcp,) = config.mcp_servers
    assert mcp.name == "crm" and mcp.url == "https://mcp.example.com/mcp"
    assert mcp.tools == ["find_customer"] and mcp.list_ttl_s == 60
    assert mcp.headers == {"Authorization": "Bearer {{secrets.ORDERS_TOKEN}}"}


@pytest.mark.parametrize(
    ("version", "loc", "code"),
    [
        ({"tools": [{"name": "fax_machine"}]}, ["body", "version", "tools", 0, "name"], "validation_error"),
        ({"tools": [inline_tool(url="http://weather.example.com")]}, ["body", "version", "tools", 0, "http", "url"], "validation_error"),
        ({"tools": [inline_tool(headers={"X-Key": "{{secrets.NOPE}}"})]}, ["body", "version", "tools", 0, "http", "headers", "X-Key"], "unknown_secret"),
        ({"tools": [inline_tool(), inline_tool()]}, ["body", "version", "tools", 1, "name"], "validation_error"),
        ({"tools": [inline_tool("calculator")]}, ["body", "version", "tools", 0, "name"], "validation_error"),
        ({"tools": [inline_tool("crm")], "mcp_servers": [{"name": "crm", "url": "https://m.example.com"}]}, ["body", "version", "mcp_servers", 0, "name"], "validation_error"),
        ({"tools": [{"name": "w", "http": {"url": "https://w.example.com"}}]}, ["body", "version", "tools", 0, "description"], "validation_error"),
        ({"tools": [{"name": "w", "description": "d", "parameters": {"type": "object", "properties": {"a": {"type": "nope"}}}, "http": {"url": "https://w.example.com"}}]}, ["body", "version", "tools", 0, "parameters", "properties", "a", "type"], "validation_error"),
        ({"tools": [{"tool": {"name": "nothing_here"}}]}, ["body", "version", "tools", 0, "tool", "name"], "unknown_tool"),
        ({"mcp_servers": [{"name": "files", "transport": "stdio", "command": "files"}]}, ["body", "version", "mcp_servers", 0, "command"], "unknown_mcp_server"),
        ({"mcp_servers": [{"name": "files", "transport": "stdio"}]}, ["body", "version", "mcp_servers", 0, "command"], "validation_error"),
        ({"mcp_servers": [{"name": "crm"}]}, ["body", "version", "mcp_servers", 0, "url"], "validation_error"),
        ({"mcp_servers": [{"name": "crm", "url": "http://m.example.com"}]}, ["body", "version", "mcp_servers", 0, "url"], "validation_error"),
        ({"mcp_servers": [{"name": "crm", "url": "https://m.example.com", "headers": {"A": "{{secrets.NOPE}}"}}]}, ["body", "version", "mcp_servers", 0, "headers", "A"], "unknown_secret"),
        ({"mcp_servers": [{"name": "crm", "url": "https://m.example.com", "list_ttl_s": 86401}]}, ["body", "version", "mcp_servers", 0, "list_ttl_s"], "validation_error"),
    ],
)  # fmt: skip
async def test_invalid_version_tool_is_422_naming_the_field(
    api: httpx.AsyncClient, version: dict[str, Any], loc: list[str | int], code: str
) -> None:
    body = {"name": "bad", "version": {"model": "builtin:scripted", **version}}
    problem = assert_problem(await api.post("/v1/agents", json=body), 422, code)
    assert loc in locs(problem), problem
    assert (await api.get("/v1/agents")).json()["data"] == []  # nothing was written


async def test_configured_stdio_server_is_accepted(database_url: str, tenant_id: str) -> None:
    async for api in client_for(database_url, tenant_id, mcp_stdio_servers={"files": "mcp-files /srv"}):
        server = {"name": "files", "transport": "stdio", "command": "files", "tools": ["read_file"]}
        response = await api.post(
            "/v1/agents",
            json={"name": "stdio", "version": {"model": "builtin:scripted", "mcp_servers": [server]}},
        )
        assert response.status_code == 201, response.text
        version = (await api.get(f"/v1/agents/{response.json()['id']}/versions/1")).json()
        assert version["mcp_servers"][0]["command"] == "files"
        assert version["mcp_servers"][0]["url"] is None


async def test_a_tool_a_worker_registers_in_the_catalog_becomes_valid(
    api: httpx.AsyncClient, database: Database
) -> None:
    name = f"pkg_tool_{uuid.uuid4().hex[:8]}"
    agent = await create_agent(api, "catalog-user")
    problem = assert_problem(
        await new_version(api, agent["id"], tools=[{"name": name}]), 422, "validation_error"
    )
    assert locs(problem) == [["body", "tools", 0, "name"]]
    async with system_session_scope(database) as session:
        session.add(
            CatalogTool(
                name=name, description="From a package.", parameters=SCHEMA, source="package:acme-tools 1.0"
            )
        )
    try:
        response = await new_version(api, agent["id"], tools=[{"name": name}])
        assert response.status_code == 201, response.text
        assert response.json()["tools"][0]["available"] is True
        listed = {tool["name"]: tool for tool in (await api.get("/v1/tools/catalog")).json()["data"]}
        assert listed[name]["source"] == "package:acme-tools 1.0"
        assert listed[name]["parameters"] == SCHEMA
        assert listed[name]["last_seen_at"] is not None
        # A registered or inline tool may not take a catalog tool's name.
        clash = await new_version(api, agent["id"], tools=[inline_tool(name)])
        assert locs(assert_problem(clash, 422, "validation_error")) == [["body", "tools", 0, "name"]]
    finally:
        async with system_session_scope(database) as session:
            await session.exec(delete(CatalogTool).where(col(CatalogTool.name) == name))
    # Gone from the catalog: the stored version shows it unavailable (runs get a tool error).
    shown = (await api.get(f"/v1/agents/{agent['id']}/versions/1")).json()
    assert shown["tools"][0]["available"] is False
