"""The tenant-wide inbox of approvals and questions (``GET /v1/approvals``, ``GET /v1/questions``),
on a real worker, Temporal, Postgres and Redis: what waits for a human across all runs, newest
first, filtered, paged, and never another tenant's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from agent_runtime_core.settings import Settings

from .support import (
    TERMINAL_STATUSES,
    assert_problem,
    open_client,
    pending_approvals,
    stream_app,
    wait_for_status,
)

APPROVAL_VERSION = {"model": "builtin:scripted", "tools": [{"name": "calculator", "requires_approval": True}]}


@pytest.fixture
async def inbox_api(
    worker_settings: Settings, running_worker: object, tenant_id: str
) -> AsyncGenerator[httpx.AsyncClient]:
    """The API with a worker behind it; our tenant unless a request names another
    (``X-Test-Tenant``)."""
    app = stream_app(worker_settings, tenant_id)
    async for client in open_client(app):
        yield client


async def agent_of(api: httpx.AsyncClient, name: str, version: dict[str, Any], **headers: str) -> str:
    response = await api.post("/v1/agents", json={"name": name, "version": version}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def run_of(api: httpx.AsyncClient, agent_id: str, text: str, **headers: str) -> str:
    response = await api.post("/v1/runs", json={"agent_id": agent_id, "input": text}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def inbox(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_pending_approvals_of_every_run_newest_first_without_another_tenants(
    inbox_api: httpx.AsyncClient, other_tenant_id: str
) -> None:
    api = inbox_api
    first_agent = await agent_of(api, "first", APPROVAL_VERSION)
    second_agent = await agent_of(api, "second", APPROVAL_VERSION)
    first_run = await run_of(api, first_agent, "What is 6 * 7?")
    [first] = await pending_approvals(api, first_run, 1)
    second_run = await run_of(api, second_agent, "What is 2 + 3?")
    [second] = await pending_approvals(api, second_run, 1)
    # Another tenant's run waits for an approval too, at the same time.
    theirs = {"x-test-tenant": other_tenant_id}
    their_agent = await agent_of(api, "first", APPROVAL_VERSION, **theirs)
    their_run = await run_of(api, their_agent, "What is 1 + 1?", **theirs)
    deadline = time.monotonic() + 20
    while not (
        their_pending := (await api.get("/v1/approvals?status=pending", headers=theirs)).json()["data"]
    ):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert [a["run_id"] for a in their_pending] == [their_run]

    page = await inbox(api, "/v1/approvals", status="pending")
    assert [a["id"] for a in page["data"]] == [second["id"], first["id"]]
    assert page["next_cursor"] is None
    newest = page["data"][0]
    assert newest["run_id"] == second_run
    assert newest["agent_id"] == second_agent
    assert newest["tool"] == "calculator"
    assert newest["args"] == {"expression": "2 + 3"}
    assert newest["status"] == "pending"
    assert their_pending[0]["id"] not in {a["id"] for a in page["data"]}

    # Filters: by agent, by run; a filter naming the other tenant's run finds nothing.
    assert [a["id"] for a in (await inbox(api, "/v1/approvals", agent_id=first_agent))["data"]] == [
        first["id"]
    ]
    assert [a["id"] for a in (await inbox(api, "/v1/approvals", run_id=second_run))["data"]] == [second["id"]]
    assert (await inbox(api, "/v1/approvals", run_id=their_run))["data"] == []
    assert (await inbox(api, "/v1/approvals", status="approved"))["data"] == []

    # Pages of one, in the same order.
    one = await inbox(api, "/v1/approvals", status="pending", limit=1)
    assert [a["id"] for a in one["data"]] == [second["id"]]
    rest = await inbox(api, "/v1/approvals", status="pending", limit=1, cursor=one["next_cursor"])
    assert [a["id"] for a in rest["data"]] == [first["id"]]
    assert rest["next_cursor"] is None

    # An item carries what deciding it needs: the run's route.
    decided = await api.post(
        f"/v1/runs/{newest['run_id']}/approvals/{newest['id']}", json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    done = await wait_for_status(api, second_run, TERMINAL_STATUSES)
    assert done["status"] == "succeeded"
    assert [a["id"] for a in (await inbox(api, "/v1/approvals", status="pending"))["data"]] == [first["id"]]
    [approved] = (await inbox(api, "/v1/approvals", status="approved"))["data"]
    assert (approved["id"], approved["decided_by"], approved["agent_id"]) == (
        second["id"],
        "test",
        second_agent,
    )
    everything = await api.get("/v1/approvals", params=[("status", "approved"), ("status", "pending")])
    assert [a["id"] for a in everything.json()["data"]] == [second["id"], first["id"]]
    assert [a["id"] for a in (await inbox(api, "/v1/approvals"))["data"]] == [second["id"], first["id"]]

    # The other tenant still sees its own approval only, still pending.
    theirs_now = (await api.get("/v1/approvals", headers=theirs)).json()["data"]
    assert [(a["id"], a["status"]) for a in theirs_now] == [(their_pending[0]["id"], "pending")]
    for run_id, headers in ((first_run, {}), (their_run, theirs)):
        await api.post(f"/v1/runs/{run_id}/cancel", headers=headers)


async def test_pending_questions_across_runs_answered_on_the_run(inbox_api: httpx.AsyncClient) -> None:
    api = inbox_api
    agent_id = await agent_of(api, "asker", {"model": "builtin:scripted", "tools": [{"name": "ask_human"}]})
    run_id = await run_of(api, agent_id, "Plan my trip")
    deadline = time.monotonic() + 20
    while not (pending := (await inbox(api, "/v1/questions", status="pending"))["data"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    [question] = pending
    assert question["id"].startswith("inp_")
    assert (question["run_id"], question["agent_id"]) == (run_id, agent_id)
    assert "Plan my trip" in question["question"]

    answered = await api.post(
        f"/v1/runs/{question['run_id']}/input", json={"request_id": question["id"], "answer": "By train."}
    )
    assert answered.status_code == 200, answered.text
    assert (await wait_for_status(api, run_id, TERMINAL_STATUSES))["status"] == "succeeded"
    assert (await inbox(api, "/v1/questions", status="pending"))["data"] == []
    [done] = (await inbox(api, "/v1/questions", status="answered", agent_id=agent_id))["data"]
    assert (done["id"], done["answer"], done["decided_by"]) == (question["id"], "By train.", "test")
    # Approvals and questions are separate lists.
    assert (await inbox(api, "/v1/approvals", run_id=run_id))["data"] == []


async def test_invalid_inbox_filters_are_422_naming_the_parameter(api: httpx.AsyncClient) -> None:
    # `answered` is a question's status, not an approval's (and the other way round).
    wrong = assert_problem(await api.get("/v1/approvals?status=answered"), 422, "validation_error")
    assert wrong["errors"][0]["loc"] == ["query", "status", 0]
    wrong = assert_problem(await api.get("/v1/questions?status=approved"), 422, "validation_error")
    assert wrong["errors"][0]["loc"] == ["query", "status", 0]
    cursor = assert_problem(await api.get("/v1/approvals?cursor=nope"), 422, "invalid_cursor")
    assert cursor["errors"][0]["loc"] == ["query", "cursor"]
    limit = assert_problem(await api.get("/v1/questions?limit=0"), 422, "validation_error")
    assert limit["errors"][0]["loc"] == ["query", "limit"]
    long_id = assert_problem(await api.get(f"/v1/approvals?run_id={'r' * 41}"), 422, "validation_error")
    assert long_id["errors"][0]["loc"] == ["query", "run_id"]
    assert (await api.get("/v1/approvals?status=pending")).json() == {"data": [], "next_cursor": None}
