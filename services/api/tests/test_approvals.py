"""Humans in the loop, through the public API on real Temporal and Postgres."""

from __future__ import annotations

import asyncio
import time

import httpx
from temporalio.client import Client

from .support import (
    TERMINAL_STATUSES,
    assert_problem,
    events_of,
    make_agent,
    pending_approvals,
    start_run,
    wait_for_status,
)


async def test_approved_tool_runs_and_the_decision_is_recorded(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "What is 6 * 7?")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    assert approval["id"].startswith("apr_")
    assert approval["tool"] == "calculator"
    assert approval["args"] == {"expression": "6 * 7"}
    assert approval["expires_at"] > approval["requested_at"]
    assert (await runtime_api.get(f"/v1/runs/{run_id}")).json()["status"] == "waiting"

    decided = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "approved"
    assert body["decided_by"] == "test"
    assert body["decided_at"] is not None

    done = await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    assert done["status"] == "succeeded", done
    assert "calculator: 42" in done["output"]
    types = [e["type"] for e in await events_of(runtime_api, run_id)]
    for expected in (
        "approval.requested",
        "run.waiting",
        "approval.decided",
        "run.resumed",
        "tool.call.finished",
    ):
        assert expected in types
    assert types.index("approval.decided") < types.index("run.resumed") < types.index("tool.call.started")


async def test_rejected_tool_is_not_run_and_the_model_hears_why(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "What is 6 * 7?")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    response = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "reject", "reason": "too risky"}
    )
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "too risky"
    done = await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    assert done["status"] == "succeeded"
    assert "calculator was not run: Rejected by test: too risky" in done["output"]
    assert "tool.call.started" not in [e["type"] for e in await events_of(runtime_api, run_id)]


async def test_parallel_approvals_are_decided_independently_in_any_order(
    runtime_api: httpx.AsyncClient, temporal_client: Client
) -> None:
    agent_id = await make_agent(
        runtime_api,
        tools=[
            {"name": "calculator", "requires_approval": True},
            {"name": "current_time", "requires_approval": True},
        ],
    )
    run_id = await start_run(runtime_api, agent_id, "What is 2 + 2 in Asia/Tokyo?")
    approvals = await pending_approvals(runtime_api, run_id, 2)
    by_tool = {a["tool"]: a for a in approvals}
    # Decide the second first; the run keeps waiting for the other one.
    first = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{by_tool['current_time']['id']}", json={"decision": "reject"}
    )
    assert first.status_code == 200
    assert (await runtime_api.get(f"/v1/runs/{run_id}")).json()["status"] == "waiting"
    second = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{by_tool['calculator']['id']}", json={"decision": "approve"}
    )
    assert second.status_code == 200
    done = await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    assert "calculator: 4" in done["output"]
    assert "current_time was not run" in done["output"]

    # A second decision is refused: 409, and the validator kept it out of the history.
    again = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{by_tool['calculator']['id']}", json={"decision": "reject"}
    )
    assert_problem(again, 409, "approval_already_decided")
    history = await temporal_client.get_workflow_handle(f"run-{run_id}").fetch_history()
    accepted = [
        e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 2


async def test_racing_decisions_are_refused_by_the_workflow_validator(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "1 + 1")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    url = f"/v1/runs/{run_id}/approvals/{approval['id']}"
    responses = await asyncio.gather(
        *[runtime_api.post(url, json={"decision": d}) for d in ("approve", "reject", "approve", "reject")]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()["status"]
    assert (await runtime_api.get(url)).json()["status"] == winner


async def test_unknown_approval_and_bad_decision_are_client_errors(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "1 + 1")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    assert_problem(
        await runtime_api.post(f"/v1/runs/{run_id}/approvals/apr_nope", json={"decision": "approve"}),
        404,
        "approval_not_found",
    )
    assert_problem(
        await runtime_api.post(f"/v1/runs/run_nope/approvals/{approval['id']}", json={"decision": "approve"}),
        404,
        "run_not_found",
    )
    bad = await runtime_api.post(f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "maybe"})
    assert assert_problem(bad, 422, "validation_error")["errors"][0]["loc"] == ["body", "decision"]
    # Nothing was decided by the mistakes.
    assert (await runtime_api.get(f"/v1/runs/{run_id}/approvals/{approval['id']}")).json()[
        "status"
    ] == "pending"
    await runtime_api.post(f"/v1/runs/{run_id}/cancel")
    done = await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    assert done["status"] == "cancelled"
    # The run ended while waiting: its approval is void, and deciding it now is a conflict.
    assert (await runtime_api.get(f"/v1/runs/{run_id}/approvals/{approval['id']}")).json()[
        "status"
    ] == "cancelled"
    late = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"}
    )
    assert_problem(late, 409, "approval_already_decided")


async def test_ask_human_waits_for_an_answer_and_uses_it(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "ask_human"}])
    run_id = await start_run(runtime_api, agent_id, "Plan my trip")
    deadline = time.monotonic() + 20
    while not (questions := (await runtime_api.get(f"/v1/runs/{run_id}/input")).json()["data"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    [question] = questions
    assert question["id"].startswith("inp_")
    assert "Plan my trip" in question["question"]
    assert (await runtime_api.get(f"/v1/runs/{run_id}")).json()["status"] == "waiting"

    assert_problem(
        await runtime_api.post(f"/v1/runs/{run_id}/input", json={"answer": ""}), 422, "validation_error"
    )
    answered = await runtime_api.post(f"/v1/runs/{run_id}/input", json={"answer": "I travel by train."})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered"
    assert answered.json()["answer"] == "I travel by train."
    done = await wait_for_status(runtime_api, run_id, TERMINAL_STATUSES)
    assert "ask_human: I travel by train." in done["output"]
    again = await runtime_api.post(
        f"/v1/runs/{run_id}/input", json={"request_id": question["id"], "answer": "x"}
    )
    assert_problem(again, 409, "input_already_answered")
    none_pending = await runtime_api.post(f"/v1/runs/{run_id}/input", json={"answer": "x"})
    assert_problem(none_pending, 422, "no_pending_input")


async def test_decision_for_a_workflow_that_is_gone_is_409(
    runtime_api: httpx.AsyncClient, temporal_client: Client
) -> None:
    """The database still shows the approval pending, but the workflow has ended (terminated by an
    operator here): Temporal answers NOT_FOUND, recognised by its status code, not its message."""
    agent_id = await make_agent(runtime_api, tools=[{"name": "calculator", "requires_approval": True}])
    run_id = await start_run(runtime_api, agent_id, "What is 6 * 7?")
    [approval] = await pending_approvals(runtime_api, run_id, 1)
    await temporal_client.get_workflow_handle(f"run-{run_id}").terminate(reason="test")

    response = await runtime_api.post(
        f"/v1/runs/{run_id}/approvals/{approval['id']}", json={"decision": "approve"}
    )
    assert_problem(response, 409, "run_already_finished")
