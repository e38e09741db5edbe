"""Every resource of the SDK against the real API: lists that follow cursors, CRUD of agents,
versions, threads, store items, tools, secrets and API keys, usage and limits, and errors as typed
exceptions carrying the problem."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agent_runtime_client import (
    AgentRuntime,
    AgentRuntimeError,
    APIConnectionError,
    APIError,
    AsyncAgentRuntime,
    AuthenticationError,
    ConflictError,
    HttpEndpointParams,
    NotFoundError,
    Page,
    RetryPolicy,
    RunStatus,
    Thread,
    ThreadStatus,
    ValidationError,
)

from .conftest import Stack
from .support import QUESTION

pytestmark = pytest.mark.timeout(60)


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


# ----------------------------------------------------------------------------- pagination


async def test_async_lists_follow_cursors_across_pages(aclient: AsyncAgentRuntime) -> None:
    batch = {"batch": _suffix()}
    created = [await aclient.threads.create(metadata={**batch, "n": n}) for n in range(5)]

    threads = [thread async for thread in aclient.threads.list(metadata=batch, limit=2)]
    pages = [page async for page in aclient.threads.list(metadata=batch, limit=2).pages()]
    first = await aclient.threads.list(metadata=batch, limit=2).page()
    second = await aclient.threads.list(metadata=batch, limit=2).page(first.next_cursor)

    assert [t.id for t in threads] == [t.id for t in reversed(created)]  # newest first, all five
    assert [len(page.data) for page in pages] == [2, 2, 1] and pages[-1].next_cursor is None
    assert isinstance(first, Page) and first.has_more and first.data == threads[:2]
    assert second.data == threads[2:4]


async def test_sync_lists_follow_cursors_across_pages(client: AgentRuntime) -> None:
    prefix = f"sdk-page-{_suffix()}"

    def scenario() -> tuple[list[str], list[str], int]:
        made = [client.agents.create(f"{prefix}-{n}").id for n in range(3)]
        listed = [a.id for a in client.agents.list(limit=2) if a.name.startswith(prefix)]
        page_count = sum(1 for _ in client.agents.list(limit=1).pages())
        return made, listed, page_count

    made, listed, page_count = await asyncio.to_thread(scenario)

    assert listed == list(reversed(made))
    assert page_count >= 3


# --------------------------------------------------------------------------------- errors


async def test_errors_are_typed_and_carry_the_problem(
    aclient: AsyncAgentRuntime, calculator_agent: str, stack: Stack
) -> None:
    with pytest.raises(NotFoundError) as missing:
        await aclient.runs.get("run_does_not_exist")
    error = missing.value
    assert (error.status, error.code, error.title) == (404, "run_not_found", "Not found")
    assert "run_does_not_exist" in error.detail and error.request_id
    assert error.problem["code"] == "run_not_found" and error.problem["request_id"] == error.request_id
    assert isinstance(error, APIError) and isinstance(error, AgentRuntimeError)

    with pytest.raises(ValidationError) as invalid:
        await aclient.agents.create("!no", version={"model": "acme:unknown"})
    assert invalid.value.status == 422 and invalid.value.code == "validation_error"
    locations = [tuple(e.loc) for e in invalid.value.errors]
    assert ("body", "name") in locations and ("body", "version", "model") in locations

    name = f"sdk-dup-{_suffix()}"
    await aclient.agents.create(name)
    with pytest.raises(ConflictError) as taken:
        await aclient.agents.create(name)
    assert taken.value.status == 409 and taken.value.code == "agent_name_taken"

    # Another run's approval, and an approval of no run at all: 404s.
    handle = await aclient.runs.create(calculator_agent, QUESTION)
    with pytest.raises(NotFoundError):
        await aclient.approvals.get(handle.id, "apr_does_not_exist")
    await handle.wait(timeout=30)

    async with AsyncAgentRuntime(stack.url, "ar_wrong_key") as stranger:
        with pytest.raises(AuthenticationError) as refused:
            await stranger.agents.list().page()
    assert refused.value.status == 401 and refused.value.headers.get("www-authenticate")


async def test_an_unreachable_api_is_retried_then_a_connection_error(stack: Stack) -> None:
    from agent_runtime_cli.embedded.ports import find_free_port

    retry = RetryPolicy(max_attempts=3, initial_delay_s=0.01)
    async with AsyncAgentRuntime(f"http://127.0.0.1:{find_free_port()}", "ar_x", retry=retry) as client:
        with pytest.raises(APIConnectionError):
            await client.agents.get("agt_x")


# ---------------------------------------------------------------------- agents and versions


async def test_agents_and_versions(aclient: AsyncAgentRuntime) -> None:
    agent = await aclient.agents.create(f"sdk-agent-{_suffix()}", description="first")
    assert agent.latest_version is None

    version = await aclient.agents.versions.create(
        agent.id,
        model="builtin:scripted",
        instructions="Be brief.",
        tools=[{"name": "calculator", "requires_approval": True}],
        limits={"max_requests": 5},
        model_settings={"temperature": 0.1},
    )
    assert (version.version, version.model, version.limits.max_requests) == (1, "builtin:scripted", 5)
    assert version.tools[0].name == "calculator" and version.tools[0].requires_approval
    second = await aclient.agents.versions.create(agent.id, model="builtin:scripted")
    assert [v.version async for v in aclient.agents.versions.list(agent.id)] == [2, 1]
    assert await aclient.agents.versions.get(agent.id, 1) == version

    renamed = await aclient.agents.update(agent.id, description="second")
    assert renamed.description == "second" and renamed.latest_version == second.version
    assert (await aclient.agents.get(agent.id)).description == "second"
    assert (await aclient.agents.status(agent.id)).status == "idle"

    await aclient.agents.delete(agent.id)
    with pytest.raises(NotFoundError):
        await aclient.agents.get(agent.id)


# -------------------------------------------------------------------------------- threads


async def test_threads_and_their_messages(aclient: AsyncAgentRuntime, calculator_agent: str) -> None:
    thread = await aclient.threads.create(metadata={"user": "u_sdk"})
    assert isinstance(thread, Thread) and thread.status == ThreadStatus.IDLE

    run = await (await aclient.runs.create(calculator_agent, QUESTION, thread_id=thread.id)).wait(timeout=30)
    assert run.status == RunStatus.SUCCEEDED and run.thread_id == thread.id

    messages = [m async for m in aclient.threads.messages(thread.id, limit=1)]
    assert messages[0].role == "user" and messages[0].run_id == run.id
    assert messages[-1].role == "assistant"
    assert {part["part_kind"] for m in messages for part in m.parts} >= {"user-prompt", "tool-call", "text"}

    updated = await aclient.threads.update(thread.id, metadata={"topic": "maths"})
    assert updated.metadata == {"user": "u_sdk", "topic": "maths"}
    assert (await aclient.threads.get(thread.id)).metadata == updated.metadata
    await aclient.threads.delete(thread.id)
    with pytest.raises(NotFoundError):
        await aclient.threads.get(thread.id)


# ---------------------------------------------------------------------------------- store


async def test_store_items(aclient: AsyncAgentRuntime) -> None:
    namespace = ["sdk", _suffix()]
    item = await aclient.store.put(namespace, "colour", {"favourite": "teal"})
    assert (item.namespace, item.key, item.value) == (namespace, "colour", {"favourite": "teal"})
    assert (await aclient.store.get(namespace, "colour")).value == {"favourite": "teal"}
    found = await aclient.store.search(namespace, filter={"favourite": "teal"})
    assert [hit.key for hit in found] == ["colour"]
    assert namespace in await aclient.store.list_namespaces(prefix=namespace)
    await aclient.store.delete(namespace, "colour")
    with pytest.raises(NotFoundError):
        await aclient.store.get(namespace, "colour")


# ------------------------------------------------------------------ tools, secrets, api keys


async def test_tools_secrets_signing_keys_and_api_keys(client: AgentRuntime, stack: Stack) -> None:
    suffix = _suffix()

    def scenario() -> None:
        assert "calculator" in {tool.name for tool in client.tools.catalog()}

        secret = client.secrets.create(f"sdk_token_{suffix}", "s3cr3t", description="for tests")
        assert secret.name == f"sdk_token_{suffix}" and "s3cr3t" not in secret.model_dump_json()
        assert client.secrets.update(secret.name, "n3w", description="rotated").description == "rotated"
        assert secret.name in {s.name for s in client.secrets.list()}

        http: HttpEndpointParams = {
            "url": "https://tickets.example.com/t",
            "headers": {"Authorization": "Bearer {{secrets." + secret.name + "}}"},
        }
        parameters = {"type": "object", "properties": {"title": {"type": "string"}}}
        tool = client.tools.create(
            f"ticket_{suffix}", description="Open a ticket.", parameters=parameters, http=http
        )
        assert tool.latest_revision == 1 and tool.http.headers["Authorization"].startswith(
            "Bearer {{secrets."
        )
        updated = client.tools.update(
            tool.id, name=tool.name, description="Open a ticket, politely.", parameters=parameters, http=http
        )
        assert updated.latest_revision == 2
        assert [r.revision for r in client.tools.revisions(tool.id)] == [2, 1]
        assert client.tools.get_revision(tool.id, 1).description == "Open a ticket."
        assert [t.id for t in client.tools.list(name=tool.name)] == [tool.id]
        client.tools.delete(tool.id)
        client.secrets.delete(secret.name)
        with pytest.raises(NotFoundError):
            client.secrets.get(secret.name)

        rotated = client.signing_keys.rotate(overlap_s=0)
        assert rotated.secret and rotated.id in {k.id for k in client.signing_keys.list()}

        created = client.api_keys.create(f"sdk-key-{suffix}", ["viewer"], scopes=["agents:read"])
        assert created.key.startswith("ar_") and client.api_keys.get(created.id).roles == ["viewer"]
        with AgentRuntime(stack.url, created.key) as viewer:
            viewer.agents.list().page()  # the new key works
            client.api_keys.revoke(created.id)
            with pytest.raises(AuthenticationError):
                viewer.agents.list().page()

        report = client.usage.report(group_by=["day", "model"])
        assert report.totals.requests >= 0 and report.group_by == ["day", "model"]
        limits = client.limits.get()
        assert limits.tenant_id == stack.tenant_id and limits.rate_limit_burst.value >= 1

    await asyncio.to_thread(scenario)


async def test_conflicts_are_409_with_their_codes(aclient: AsyncAgentRuntime) -> None:
    secret_name = f"sdk_dup_{_suffix()}"
    await aclient.secrets.create(secret_name, "v")
    with pytest.raises(ConflictError) as taken:
        await aclient.secrets.create(secret_name, "v")
    assert taken.value.code == "secret_name_taken"
    await aclient.secrets.delete(secret_name)


async def test_operators_set_a_tenants_retention_and_the_tenant_reads_it(
    aclient: AsyncAgentRuntime, stack: Stack
) -> None:
    async with AsyncAgentRuntime(stack.url, stack.operator_key) as operator:
        set_ = await operator.retention.set_tenant(stack.tenant_id, runs_days=30, artifacts_days=0)
        assert (set_.runs_days.days, set_.runs_days.source) == (30, "tenant")
        own = await aclient.retention.get()
        assert own.tenant_id == stack.tenant_id and own.runs_days.days == 30
        assert own.threads_days.source == "default"
        await operator.retention.reset_tenant(stack.tenant_id)
        assert (await operator.retention.get_tenant(stack.tenant_id)).runs_days.source == "default"
