"""What the Redis read cache saves on hot reads: ``GET /v1/agents/{id}``,
``GET /v1/agents/{id}/versions/{n}``, ``GET /v1/threads/{id}`` (an idle thread with metadata)
and ``GET /v1/store/items`` (one item by namespace and key) served by an API with the cache
(every read after the first a hit) and by one without it (``cache_enabled=false``: Postgres
every time), interleaved request by request so both share the machine's moments.

    uv run python bench/cache.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--redis-url redis://127.0.0.1:6379/0] [--rounds 1000]

Both APIs run in this process over ASGI (no network hop to the API), with real API-key
authentication (one indexed lookup per request, the same for both) and rate limits off. A
scratch database is created, migrated and dropped. Writes ``bench/results/cache-<UTC>.json`` and
``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY

from agent_runtime_api.main import create_app
from agent_runtime_core.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (
    RESULTS_DIR,
    bench_auth_headers,
    log,
    machine_facts,
    percentile,
    scratch_database,
)

WARMUP = 100
METRIC = "agent_runtime_cache_requests_total"
VERSION = {
    "model": "builtin:scripted",
    "instructions": "Answer briefly. " * 20,
    "tools": [{"name": "calculator"}, {"name": "current_time"}],
}


def hits() -> float:
    return sum(
        REGISTRY.get_sample_value("agent_runtime_cache_requests_total", {"kind": kind, "result": "hit"})
        or 0.0
        for kind in ("agent", "agent_version", "thread", "store_item")
    )


async def measure(database_url: str, redis_url: str, rounds: int) -> dict[str, Any]:
    headers = await bench_auth_headers(database_url)
    common = {"database_url": database_url, "redis_url": redis_url, "rate_limit_enabled": False}
    apps = {
        "cache": create_app(Settings.model_validate({**common, "cache_enabled": True})),
        "no cache": create_app(Settings.model_validate({**common, "cache_enabled": False})),
    }
    samples: dict[str, list[float]] = {}
    async with (
        apps["cache"].router.lifespan_context(apps["cache"]),
        apps["no cache"].router.lifespan_context(apps["no cache"]),
    ):
        clients = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api.bench", headers=headers
            )
            for name, app in apps.items()
        }
        created = await clients["no cache"].post("/v1/agents", json={"name": "bench", "version": VERSION})
        created.raise_for_status()
        agent_id = created.json()["id"]
        thread = await clients["no cache"].post(
            "/v1/threads", json={"metadata": {"user": "bench", "topic": "cache " * 10}}
        )
        thread.raise_for_status()
        item = {"namespace": ["memories", "bench"], "key": "profile", "value": {"likes": ["tea"] * 20}}
        (await clients["no cache"].put("/v1/store/items", json={**item, "index": False})).raise_for_status()
        paths = {
            "GET agent": f"/v1/agents/{agent_id}",
            "GET version": f"/v1/agents/{agent_id}/versions/1",
            "GET thread": f"/v1/threads/{thread.json()['id']}",
            "GET store item": "/v1/store/items?namespace=memories.bench&key=profile",
        }
        samples = {f"{endpoint} / {variant}": [] for endpoint in paths for variant in clients}
        hits_before = hits()
        for round_number in range(rounds + WARMUP):
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            for endpoint, path in paths.items():
                for variant in order:
                    start = time.perf_counter()
                    response = await clients[variant].get(path)
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{variant} {path}: {response.status_code} {response.text}")
                    if round_number >= WARMUP:
                        samples[f"{endpoint} / {variant}"].append(elapsed)
        cache_hits = hits() - hits_before
        for client in clients.values():
            await client.aclose()
    results: dict[str, Any] = {
        name: {
            "p50_ms": percentile(values, 0.5),
            "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99),
            "requests": len(values),
        }
        for name, values in samples.items()
    }
    results["cache_hits_counted"] = cache_hits
    for name, row in results.items():
        log(f"{name}: {row}")
    return results


def report(results: dict[str, Any], facts: dict[str, Any], rounds: int) -> str:
    lines = [
        "# Read cache: hot reads with and without the Redis cache",
        "",
        "| Request / API | p50 | p95 | p99 | requests |",
        "|---|---|---|---|---|",
    ]
    for name, row in results.items():
        if isinstance(row, dict):
            lines.append(
                f"| {name} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms | {row['p99_ms']:.2f} ms "
                f"| {row['requests']} |"
            )
    lines += [
        "",
        f"{rounds} rounds after {WARMUP} of warm-up; each round sends every request to both APIs, "
        "alternating which API goes first. Times are client-side over ASGI (no network hop to "
        "the API), real API-key authentication included (one indexed Postgres lookup per request "
        "for both APIs), rate limits off. With the cache every read after the first is a hit "
        f"({results['cache_hits_counted']:.0f} hits counted): `GET agent` then skips one Postgres "
        "query, `GET version` two (the agent and the version), `GET thread` (idle, no history: "
        "no summary, no active run to read) and `GET store item` one each. Without the cache each "
        "read is one transaction with those queries.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}",
        f"- Postgres {facts.get('postgres')}, Redis/Valkey {facts.get('redis')}, both on 127.0.0.1",
        f"- Commit {facts['git_commit']}; {facts['date_utc']}",
    ]
    return "\n".join(lines) + "\n"


def redis_version(url: str) -> str | None:
    from redis import Redis

    client = Redis.from_url(url)  # pyright: ignore[reportUnknownMemberType]
    try:
        info: dict[str, Any] = client.info("server")  # pyright: ignore[reportUnknownMemberType, reportAssignmentType]
        return str(info.get("valkey_version") or info.get("redis_version"))
    except Exception:
        return None
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    with scratch_database(args.server_url, "bench_cache") as (database_url, version):
        results = asyncio.run(measure(database_url, args.redis_url, args.rounds))
    facts = machine_facts(["fastapi", "sqlalchemy", "psycopg", "redis"])
    facts["postgres"] = version
    facts["redis"] = redis_version(args.redis_url)
    markdown = report(results, facts, args.rounds)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"cache-{stamp}.json").write_text(
        json.dumps({"results": results, "machine": facts}, indent=2)
    )
    (RESULTS_DIR / f"cache-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
