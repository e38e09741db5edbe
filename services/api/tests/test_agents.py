"""Agents and versions over HTTP, on the real database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent_runtime_core.repositories import encode_cursor

from .support import VERSION, assert_problem, build_app, create_agent, open_client


async def test_create_agent_with_first_version_returns_201_and_location(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/agents", json={"name": "calc", "version": VERSION})
    assert response.status_code == 201
    agent = response.json()
    assert agent["id"].startswith("agt_")
    assert agent["latest_version"] == 1
    assert response.headers["location"] == f"/v1/agents/{agent['id']}"
    version = (await api.get(f"/v1/agents/{agent['id']}/versions/1")).json()
    assert version["model"] == "builtin:scripted"
    # A catalog tool: the HTTP-only fields (description, parameters, http, ref) are null.
    assert version["tools"] == [
        {
            "name": "calculator",
            "kind": "catalog",
            "requires_approval": False,
            "settings": {},
            "description": None,
            "parameters": None,
            "http": None,
            "ref": None,
            "available": True,
        }
    ]
    assert version["mcp_servers"] == []
    assert version["limits"]["max_requests"] == 50


async def test_agent_without_version_has_null_latest_version(api: httpx.AsyncClient) -> None:
    agent = await create_agent(api)
    assert agent["latest_version"] is None
    fetched = (await api.get(f"/v1/agents/{agent['id']}")).json()
    assert fetched == agent


async def test_duplicate_agent_name_is_409(api: httpx.AsyncClient) -> None:
    await create_agent(api, "dup")
    assert_problem(await api.post("/v1/agents", json={"name": "dup"}), 409, "agent_name_taken")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": ""}, ["body", "name"]),
        ({"name": "has/slash"}, ["body", "name"]),
        ({"name": "ok", "colour": "blue"}, ["body", "colour"]),
        ({"name": "ok", "version": {"model": "gpt-4o"}}, ["body", "version", "model"]),
        ({"name": "ok", "version": {"model": "acme:x"}}, ["body", "version", "model"]),
        ({"name": "ok", "version": {"model": "builtin:nope"}}, ["body", "version", "model"]),
        (
            {"name": "ok", "version": {"model": "builtin:scripted", "tools": [{"name": "rm_rf"}]}},
            ["body", "version", "tools", 0, "name"],
        ),
        (
            {"name": "ok", "version": {"model": "builtin:scripted", "limits": {"max_requests": 0}}},
            ["body", "version", "limits", "max_requests"],
        ),
        (
            {"name": "ok", "version": {"model": "builtin:scripted", "model_settings": {"temperature": 9}}},
            ["body", "version", "model_settings", "temperature"],
        ),
    ],
)
async def test_invalid_agent_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], loc: list[str | int]
) -> None:
    problem = assert_problem(await api.post("/v1/agents", json=body), 422, "validation_error")
    assert loc in [error["loc"] for error in problem["errors"]]
    assert (await api.get("/v1/agents")).json()["data"] == []  # nothing was written


async def test_malformed_json_is_422_not_500(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/agents", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")


async def test_duplicate_tools_are_rejected(api: httpx.AsyncClient) -> None:
    body = {"name": "x", "version": {"model": "builtin:scripted", "tools": [{"name": "calculator"}] * 2}}
    problem = assert_problem(await api.post("/v1/agents", json=body), 422, "validation_error")
    assert "calculator" in problem["detail"]


async def test_list_agents_paginates_newest_first_without_overlap(api: httpx.AsyncClient) -> None:
    ids = [(await create_agent(api, f"agent-{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/agents", params=params)).json()
        seen += [agent["id"] for agent in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


async def test_malformed_cursor_is_422_naming_cursor(api: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await api.get("/v1/agents", params={"cursor": "garbage!"}), 422, "invalid_cursor"
    )
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/v1/agents", "garbage!"),
        ("/v1/agents/{agent_id}/versions", "garbage!"),
        # Well-formed, but not a version number: it used to mean "from the start" here.
        ("/v1/agents/{agent_id}/versions", encode_cursor("agt_x")),
        ("/v1/runs", "garbage!"),
        ("/v1/runs/run_x/events", encode_cursor("run_x")),
        ("/v1/api-keys", "garbage!"),
        ("/v1/audit-log", "garbage!"),
    ],
)
async def test_every_list_answers_a_malformed_cursor_with_the_same_422(
    api: httpx.AsyncClient, path: str, cursor: str
) -> None:
    agent = await create_agent(api, "cursor-check", version=VERSION)
    response = await api.get(path.format(agent_id=agent["id"]), params={"cursor": cursor})
    problem = assert_problem(response, 422, "invalid_cursor")
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_limit_out_of_range_is_422(api: httpx.AsyncClient) -> None:
    problem = assert_problem(await api.get("/v1/agents", params={"limit": 0}), 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["query", "limit"]


async def test_update_renames_and_rejects_taken_name(api: httpx.AsyncClient) -> None:
    first = await create_agent(api, "first")
    await create_agent(api, "second")
    renamed = await api.patch(f"/v1/agents/{first['id']}", json={"name": "renamed", "description": "d"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "renamed"
    assert renamed.json()["description"] == "d"
    conflict = await api.patch(f"/v1/agents/{first['id']}", json={"name": "second"})
    assert_problem(conflict, 409, "agent_name_taken")


async def test_delete_agent_hides_it_and_frees_the_name(api: httpx.AsyncClient) -> None:
    agent = await create_agent(api, "short-lived")
    assert (await api.delete(f"/v1/agents/{agent['id']}")).status_code == 204
    assert_problem(await api.get(f"/v1/agents/{agent['id']}"), 404, "agent_not_found")
    assert_problem(await api.delete(f"/v1/agents/{agent['id']}"), 404, "agent_not_found")
    await create_agent(api, "short-lived")


async def test_versions_are_numbered_and_listed_newest_first(api: httpx.AsyncClient) -> None:
    agent = await create_agent(api, "versioned", version=VERSION)
    second = await api.post(
        f"/v1/agents/{agent['id']}/versions", json={**VERSION, "instructions": "Be verbose."}
    )
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.headers["location"] == f"/v1/agents/{agent['id']}/versions/2"
    listed = (await api.get(f"/v1/agents/{agent['id']}/versions")).json()
    assert [v["version"] for v in listed["data"]] == [2, 1]
    assert (await api.get(f"/v1/agents/{agent['id']}")).json()["latest_version"] == 2
    assert_problem(await api.get(f"/v1/agents/{agent['id']}/versions/3"), 404, "agent_version_not_found")


async def test_unknown_agent_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/agents/agt_nope"), 404, "agent_not_found")
    assert_problem(await api.post("/v1/agents/agt_nope/versions", json=VERSION), 404, "agent_not_found")


async def test_another_tenants_agent_is_invisible(api: httpx.AsyncClient, database_url: str) -> None:
    agent = await create_agent(api, "mine", version=VERSION)
    other_app = build_app(database_url, "ten_someone_else", temporal_address="127.0.0.1:1")
    async for other in open_client(other_app):
        assert_problem(await other.get(f"/v1/agents/{agent['id']}"), 404, "agent_not_found")
        assert (await other.get("/v1/agents")).json()["data"] == []
        assert_problem(
            await other.patch(f"/v1/agents/{agent['id']}", json={"name": "x"}), 404, "agent_not_found"
        )
        assert_problem(await other.delete(f"/v1/agents/{agent['id']}"), 404, "agent_not_found")
        # The same name is free in another tenant.
        assert (await other.post("/v1/agents", json={"name": "mine"})).status_code == 201


async def test_unknown_route_is_problem_json(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/nothing-here"), 404, "not_found")


async def test_request_id_is_echoed(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/agents", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
