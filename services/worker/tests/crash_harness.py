"""Helpers for the crash tests: real worker processes to ``kill -9``, local slow servers for the
model and the ``http_get`` tool, and readers of workflow histories and run events.

Nothing here touches the internet: the model is a local server speaking the OpenAI
chat-completions wire format and the tool fetches from a local HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from temporalio.api.enums.v1 import PendingWorkflowTaskState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_cli.embedded._process import child_preexec_fn, signal_process_group, tail_file
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import RunEvent
from agent_runtime_core.repositories import RunEventRepository

MODEL_ACTIVITY = "agent__agent_runtime__model_request_stream"
TOOL_ACTIVITY = "agent__agent_runtime__toolset__builtin__call_tool"

# ----------------------------------------------------------------------------- worker processes


def worker_environment(
    *,
    database_url: str,
    temporal_address: str,
    task_queue: str,
    openai_base_url: str | None = None,
    redis_url: str | None = None,
) -> dict[str, str]:
    """The environment of ``python -m agent_runtime_cli worker`` for one test.

    Inherited ``AGENT_RUNTIME_*`` variables are dropped so the developer's shell cannot leak in.
    ``redis_url`` (live events) is optional: without it the worker writes Postgres only.

    Bytecode is cached outside the repository even where ``PYTHONDONTWRITEBYTECODE`` is set:
    without .pyc files a worker spends ~7 s compiling its imports and ~4 s more hashing every
    module for Temporal's default build id, instead of ~3.5 s in all.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_") and k != "DATABASE_URL"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault(
        "PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / f"agent-runtime-pycache-{os.getuid()}")
    )
    env.update(
        {
            "AGENT_RUNTIME_DATABASE_URL": database_url,
            "AGENT_RUNTIME_DATABASE_POOL_SIZE": "3",
            "AGENT_RUNTIME_TEMPORAL_ADDRESS": temporal_address,
            "AGENT_RUNTIME_TEMPORAL_TASK_QUEUE": task_queue,
            "AGENT_RUNTIME_HTTP_GET_ALLOW_PRIVATE_NETWORKS": "true",
            "AGENT_RUNTIME_HTTP_GET_TIMEOUT_S": "60",  # a held request must outlive a worker start
            # HTTP tools reach the tests' local servers over plain http.
            "AGENT_RUNTIME_TOOLS_REQUIRE_HTTPS": "false",
            "AGENT_RUNTIME_TOOLS_ALLOW_PRIVATE_NETWORKS": "true",
            "AGENT_RUNTIME_REDIS_URL": redis_url or "",
            # No schedules on the shared Temporal server: a reconciliation every few minutes
            # would run on whichever test's queue started last, over every test's runs.
            "AGENT_RUNTIME_RETENTION_SCHEDULE_ENABLED": "false",
            "AGENT_RUNTIME_RECONCILE_SCHEDULE_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if openai_base_url is not None:
        env["AGENT_RUNTIME_OPENAI_BASE_URL"] = openai_base_url
    return env


@dataclass
class WorkerProcess:
    """One ``python -m agent_runtime_cli worker`` child, in its own process group.

    The child also gets ``PR_SET_PDEATHSIG`` (SIGKILL), so it dies with the test process even
    if that is killed before any teardown runs.
    """

    process: subprocess.Popen[bytes]
    log_path: Path
    killed_at: float | None = None
    """``time.monotonic()`` just before SIGKILL (or SIGTERM: `terminate`) was sent."""
    killed_at_wall: float | None = None
    """``time.time()`` at the same moment (to compare with event timestamps)."""

    @property
    def pid(self) -> int:
        """The worker's pid (also its process group id)."""
        return self.process.pid

    @property
    def identity(self) -> str:
        """The Temporal identity the SDK gives the worker's client: ``<pid>@<host>``."""
        return f"{self.pid}@{socket.gethostname()}"

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def log(self) -> str:
        """The last lines of the worker's output (for assertion messages)."""
        return tail_file(self.log_path, max_lines=40)

    def pause(self) -> None:
        """``SIGSTOP``: the process keeps its connections open but answers nothing (a frozen
        or partitioned worker); Temporal still hands it tasks."""
        signal_process_group(self.pid, signal.SIGSTOP)

    def kill(self) -> None:
        """``kill -9`` the worker (and anything in its group), without any chance to clean up."""
        self.killed_at_wall = time.time()
        self.killed_at = time.monotonic()
        signal_process_group(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """``SIGTERM`` to the worker process alone (what ``docker stop`` and ECS send first)."""
        self.killed_at_wall = time.time()
        self.killed_at = time.monotonic()
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, timeout_s: float) -> int:
        """Wait (polling, without blocking the event loop the tests' servers run in) until the
        process exits; return its exit code."""
        deadline = time.monotonic() + timeout_s
        while (code := self.process.poll()) is None:
            assert time.monotonic() < deadline, f"worker still running after {timeout_s} s:\n{self.log()}"
            await asyncio.sleep(0.05)
        return code

    def ensure_dead(self) -> None:
        """Teardown: SIGKILL whatever is left of the group and reap the child."""
        signal_process_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class WorkerProcesses:
    """Spawns worker processes and kills every one of them at ``close`` (fixture teardown)."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        """Workers log to ``log_dir`` and run with ``env`` (see :func:`worker_environment`)."""
        self.log_dir = log_dir
        self.env = dict(env)
        self.spawned: list[WorkerProcess] = []

    def spawn(self, env: Mapping[str, str] | None = None, argv: Sequence[str] | None = None) -> WorkerProcess:
        """Start a worker process (``argv``: another build's command line); it polls once its
        imports are done (see `wait_polling`)."""
        log_path = self.log_dir / f"worker-{len(self.spawned) + 1}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv or [sys.executable, "-m", "agent_runtime_cli", "worker", "--log-level", "warning"]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env or self.env),
                cwd=self.log_dir,  # no stray .env file is read
                start_new_session=True,
                preexec_fn=child_preexec_fn(signal.SIGKILL),
            )
        worker = WorkerProcess(process=process, log_path=log_path)
        self.spawned.append(worker)
        return worker

    def close(self) -> None:
        """Kill every worker spawned (idempotent)."""
        for worker in self.spawned:
            worker.ensure_dead()


TASK_QUEUE_PARTITIONS = 4
"""Temporal's default ``matching.numTaskqueueReadPartitions``."""


async def pollers(client: Client, task_queue: str, queue_type: TaskQueueType.ValueType) -> set[str]:
    """Identities of the workers that polled ``task_queue`` recently, in any partition.

    Describing the queue by its name only reports the root partition's pollers, and a new
    worker's long polls may all land on other partitions (and stay there for a minute).
    """
    names = [task_queue] + [f"/_sys/{task_queue}/{number}" for number in range(1, TASK_QUEUE_PARTITIONS)]
    identities: set[str] = set()
    for name in names:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=name), task_queue_type=queue_type
            ),
            timeout=timedelta(seconds=5),
        )
        identities.update(poller.identity for poller in response.pollers)
    return identities


async def wait_polling(
    client: Client, task_queue: str, worker: WorkerProcess, timeout_s: float = 45
) -> float:
    """Wait until ``worker`` polls both the workflow and the activity queue; return how long it
    took from now."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        assert worker.alive(), f"worker exited with {worker.process.returncode}:\n{worker.log()}"
        try:
            workflow_pollers = await pollers(client, task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
            activity_pollers = await pollers(client, task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        except RPCError as exc:
            # A busy dev server can miss the 5 s deadline of one describe call ("operation was
            # canceled"): ask again until our own deadline.
            if time.monotonic() >= deadline:
                raise AssertionError(f"describing {task_queue} kept failing: {exc}") from exc
            workflow_pollers = activity_pollers = set()
        if worker.identity in workflow_pollers and worker.identity in activity_pollers:
            return time.monotonic() - started
        assert time.monotonic() < deadline, f"worker {worker.identity} is not polling:\n{worker.log()}"
        await asyncio.sleep(0.1)


async def eventually(
    probe: Callable[[], Any], *, timeout_s: float, message: Callable[[], str] | str = "condition not met"
) -> Any:
    """Poll the async ``probe`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        await asyncio.sleep(0.05)


# ----------------------------------------------------------------------- a slow OpenAI-compatible model


@dataclass
class ChatRequest:
    """A chat-completions request the model server received."""

    index: int
    """1-based, in arrival order."""
    received_at: float
    """``time.monotonic()`` on arrival."""
    body: dict[str, Any]

    @property
    def has_tool_results(self) -> bool:
        """Whether the conversation already holds tool results (a second step)."""
        return any(message.get("role") == "tool" for message in self.body.get("messages", []))


@dataclass
class ScriptedChatServer:
    """A local model speaking the OpenAI streaming wire format.

    First step (no tool results yet): it calls ``calculator`` with ``6 * 7``. Next step: it
    answers :attr:`answer`, streamed word by word. The requests numbered in ``stall`` send their
    first chunk and then hang until the client goes away (a worker killed mid-request).
    """

    stall: set[int] = field(default_factory=set[int])
    answer: str = "The answer is 42."
    requests: list[ChatRequest] = field(default_factory=list[ChatRequest])
    stalled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a stalling request has sent its first chunk."""
    base_url: str = ""

    def app(self) -> FastAPI:
        """The ASGI app."""
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> StreamingResponse:  # pyright: ignore[reportUnusedFunction]
            body = await request.json()
            received = ChatRequest(index=len(self.requests) + 1, received_at=time.monotonic(), body=body)
            self.requests.append(received)
            return StreamingResponse(self._chunks(received), media_type="text/event-stream")

        return app

    async def _chunks(self, request: ChatRequest) -> AsyncIterator[str]:
        base = {
            "id": f"chatcmpl-{request.index}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.body["model"],
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        if request.has_tool_results:
            words = self.answer.split(" ")
            pieces = [chunk({"role": "assistant", "content": words[0]})]
            pieces += [chunk({"content": " " + word}) for word in words[1:]]
            finish = "stop"
        else:
            call = {"index": 0, "id": "call_calc", "type": "function"}
            pieces = [
                chunk({"role": "assistant", "tool_calls": [{**call, "function": {"name": "calculator"}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"expression": "6 * 7"}'}}]}),
            ]
            finish = "tool_calls"
        for position, piece in enumerate(pieces):
            yield piece
            if position == 0 and request.index in self.stall:
                self.stalled.set()
                await asyncio.sleep(3600)  # cancelled when the (killed) client's connection closes
        yield chunk({}, finish)
        usage = {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"


@contextlib.asynccontextmanager
async def serve_chat(server: ScriptedChatServer) -> AsyncIterator[ScriptedChatServer]:
    """Run ``server`` on a free port (uvicorn, in this event loop); ``base_url`` is set inside."""
    port = find_free_port()
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        assert not task.done(), "the model server did not start"
        await asyncio.sleep(0.01)
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        instance.should_exit = True
        await task


# ----------------------------------------------------------------------- a slow HTTP target for http_get


@dataclass
class SlowHttpServer:
    """The ``http_get`` tool's target. Requests numbered in ``hang`` get no answer: until the
    client goes away, or until :attr:`release` is set (then they are answered like the rest)."""

    hang: set[int] = field(default_factory=lambda: {1})
    body: str = "fetched ok"
    arrivals: list[float] = field(default_factory=list[float])
    """``time.monotonic()`` of each request's arrival."""
    headers: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    """The headers of each request (names lower-cased), in arrival order."""
    bodies: list[bytes] = field(default_factory=list[bytes])
    """The body of each request that had one, in arrival order."""
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a request is being held."""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection (one request: we answer with ``Connection: close``)."""
        try:
            if not await reader.readline():
                return
            self.arrivals.append(time.monotonic())
            number = len(self.arrivals)
            headers: dict[str, str] = {}
            self.headers.append(headers)
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if length := int(headers.get("content-length", "0")):
                self.bodies.append(await reader.readexactly(length))  # an HTTP tool's arguments
            if number in self.hang:
                self.hanging.set()
                gone = asyncio.ensure_future(reader.read())  # EOF when the client is killed
                released = asyncio.ensure_future(self.release.wait())
                await asyncio.wait([gone, released], return_when=asyncio.FIRST_COMPLETED)
                for waiter in (gone, released):
                    waiter.cancel()
                if not self.release.is_set():
                    return
            payload = self.body.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serve_http(server: SlowHttpServer) -> AsyncIterator[SlowHttpServer]:
    """Run ``server`` on a free port; ``url`` is set inside."""
    instance = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = instance.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}/data"
    try:
        yield server
    finally:
        server.release.set()  # let held handlers finish
        instance.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(instance.wait_closed(), timeout=2)


# ------------------------------------------------------------------- an S3 proxy holding one upload


class PutHolder:
    """A TCP proxy in front of the S3 API: every connection is forwarded as is, except the first
    request whose first line is a ``PUT`` of an artifact object (``/artifacts/art_``): its head and
    part of its body go through, then nothing more either way until the client dies (then both
    sockets are closed: the storage sees the upload cut short)."""

    def __init__(self, upstream: str) -> None:
        url = httpx.URL(upstream)
        self.host, self.port = url.host, url.port or 80
        self.held = asyncio.Event()
        self.puts: list[str] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> PutHolder:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection(self.host, self.port)

        async def requests() -> None:
            while data := await client_r.read(65536):
                head = re.search(rb"(?m)^PUT [^\r\n]*/artifacts/art_[^\r\n]*", data)
                if head is not None:
                    self.puts.append(head.group(0).decode())
                    if not self.held.is_set():
                        self.held.set()
                        end = data.find(b"\r\n\r\n")
                        body = len(data) if end < 0 else end + 4
                        # The head and a few bytes of the body: the upload is under way.
                        upstream_w.write(data[: body + min(4, max(0, len(data) - body) // 2)])
                        await upstream_w.drain()
                        while await client_r.read(65536):  # swallowed until the client dies
                            pass
                        return
                upstream_w.write(data)
                await upstream_w.drain()

        async def responses() -> None:
            while data := await upstream_r.read(65536):
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.create_task(requests()), asyncio.create_task(responses())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (ConnectionError, OSError):  # pragma: no cover - a killed peer
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_w, upstream_w):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


# ------------------------------------------------------------------------------ workflow histories


@dataclass
class ActivityRecord:
    """One activity of a workflow's history: scheduled, or local (a marker)."""

    activity_type: str
    scheduled_event_id: int
    """The scheduling event (the marker, for a local activity)."""
    input: list[Any]
    """The decoded JSON arguments (not recorded for local activities)."""
    attempt: int | None = None
    """The attempt that started last (Temporal records only the last attempt's start)."""
    completed: bool = False
    local: bool = False
    identity: str | None = None
    """The worker that started the last attempt (``<pid>@<host>``; not recorded for local ones)."""
    last_failure: str | None = None
    """How the attempt before :attr:`attempt` failed (from the last start's ``last_failure``):
    its message, prefixed with ``timeout:`` for a timeout (e.g. a missed heartbeat)."""

    @property
    def tool_name(self) -> str | None:
        """For a tool-call activity: the tool's name."""
        if self.activity_type != TOOL_ACTIVITY or not self.input:
            return None
        name = self.input[0].get("name")
        return name if isinstance(name, str) else None

    @property
    def tool_call_id(self) -> str | None:
        """For a tool-call activity: the call's id, as the activity received it on every attempt."""
        if self.activity_type != TOOL_ACTIVITY or not self.input:
            return None
        context = self.input[0].get("serialized_run_context") or {}
        value = context.get("tool_call_id")
        return value if isinstance(value, str) else None


LOCAL_ACTIVITY_MARKER = "core_local_activity"


async def activity_records(handle: WorkflowHandle[Any, Any]) -> list[ActivityRecord]:
    """Every activity of the workflow, in order, with its last attempt and outcome; local
    activities (our bookkeeping) included, from their markers."""
    records: dict[int, ActivityRecord] = {}
    async for event in handle.fetch_history_events():
        if event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name != LOCAL_ACTIVITY_MARKER:
                continue
            data = json.loads(marker.details["data"].payloads[0].data)
            records[event.event_id] = ActivityRecord(
                activity_type=data["activity_type"],
                scheduled_event_id=event.event_id,
                input=[],
                attempt=data["attempt"],
                completed=not marker.HasField("failure"),
                local=True,
            )
        elif event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            records[event.event_id] = ActivityRecord(
                activity_type=attributes.activity_type.name,
                scheduled_event_id=event.event_id,
                input=[json.loads(payload.data or b"null") for payload in attributes.input.payloads],
            )
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            records[started.scheduled_event_id].attempt = started.attempt
            records[started.scheduled_event_id].identity = started.identity
            if started.HasField("last_failure"):
                failure = started.last_failure
                prefix = "timeout: " if failure.HasField("timeout_failure_info") else ""
                records[started.scheduled_event_id].last_failure = prefix + failure.message
        elif event.HasField("activity_task_completed_event_attributes"):
            records[event.activity_task_completed_event_attributes.scheduled_event_id].completed = True
    return list(records.values())


async def workflow_task_state(handle: WorkflowHandle[Any, Any]) -> str | None:
    """``"scheduled"`` or ``"started"`` while a workflow task is outstanding, else ``None``
    (the workflow is idle: it waits for an activity, a timer, a signal or an update)."""
    description = (await handle.describe()).raw_description
    if not description.HasField("pending_workflow_task"):
        return None
    state = description.pending_workflow_task.state
    return "started" if state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED else "scheduled"


async def completed_workflow_activities(handle: WorkflowHandle[Any, Any]) -> list[ActivityRecord]:
    """:func:`activity_records` once the workflow has completed.

    The run's row says ``succeeded`` as soon as ``finish_run`` commits, a moment before the
    workflow task that records it (a local activity's marker) and completes the workflow.
    """
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    return await activity_records(handle)


def attempts_by_type(records: Sequence[ActivityRecord]) -> dict[str, list[int | None]]:
    """Activity type → the last attempt of each of its schedulings, in order."""
    attempts: dict[str, list[int | None]] = {}
    for record in records:
        attempts.setdefault(record.activity_type, []).append(record.attempt)
    return attempts


# ----------------------------------------------------------------------------------- run events


async def run_events(database: Database, tenant_id: str, run_id: str) -> list[RunEvent]:
    """Every event of the run, in ``seq`` order, straight from Postgres."""
    async with session_scope(database, tenant_id) as session:
        return list(await RunEventRepository(session, tenant_id).list(run_id, limit=10_000))


def event_identity(event: RunEvent) -> tuple[Any, ...]:
    """What makes an event distinct: its type, and the step, attempt, delta index or tool call
    it is about. Two events with one identity are a duplicate write."""
    data = event.data
    return (
        event.type,
        data.get("step"),
        data.get("attempt") if event.type.startswith("model.") or event.type == "tool.call.started" else None,
        data.get("index"),
        data.get("tool_call_id"),
    )


def assert_events_consistent(events: Sequence[RunEvent]) -> None:
    """Gap-free ``seq`` from 1, one ``dedupe_key`` per event, no duplicate writes, one terminal
    event and it is the last."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), [e.seq for e in events]
    keys = Counter(e.dedupe_key for e in events)
    assert max(keys.values()) == 1, keys
    identities = Counter(event_identity(e) for e in events)
    duplicates = {identity: n for identity, n in identities.items() if n > 1}
    assert not duplicates, duplicates
    terminal = [
        e for e in events if e.type in {"run.succeeded", "run.failed", "run.cancelled", "run.timed_out"}
    ]
    assert len(terminal) == 1 and terminal[0] is events[-1], [e.type for e in events]


def first_event_after(events: Sequence[RunEvent], wall_time: float) -> RunEvent | None:
    """The first event written after ``wall_time`` (``time.time()``)."""
    return next((e for e in events if e.at.timestamp() > wall_time), None)
