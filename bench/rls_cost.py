"""What row-level security costs per transaction: a tenant session (one statement switching to
the application role and the tenant, then RLS on every query) against a system session (the
owner, no RLS), each running the same indexed query, on the worker's pool (no pre-ping) and on
the API's (pre-ping).

    uv run python bench/rls_cost.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]

A scratch database is created, migrated and dropped. Writes
``bench/results/rls_cost-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from agent_runtime_core.db import Database, session_scope, system_session_scope

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile, scratch_database

QUERY = text("SELECT count(*) FROM runs WHERE tenant_id = :t")


async def measure(database_url: str, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    tenant = f"ten_bench_{uuid.uuid4().hex[:8]}"
    for pool, pre_ping in (("worker pool (no pre-ping)", False), ("API pool (pre-ping)", True)):
        database = Database(database_url, pool_size=5, pre_ping=pre_ping)
        samples: dict[str, list[float]] = {"system": [], "tenant": []}
        try:
            for round_number in range(rounds + 100):  # the first 100: warm-up
                for kind in ("system", "tenant"):  # alternate, so both share the machine's moments
                    scope = (
                        session_scope(database, tenant)
                        if kind == "tenant"
                        else system_session_scope(database)
                    )
                    start = time.perf_counter()
                    async with scope as session:
                        await (await session.connection()).execute(QUERY, {"t": tenant})
                    if round_number >= 100:
                        samples[kind].append((time.perf_counter() - start) * 1000)
        finally:
            await database.dispose()
        paired = [t - s for t, s in zip(samples["tenant"], samples["system"], strict=True)]
        results[pool] = {
            "system_p50_ms": percentile(samples["system"], 0.5),
            "tenant_p50_ms": percentile(samples["tenant"], 0.5),
            "paired_extra_p50_ms": percentile(paired, 0.5),
            "rounds": rounds,
        }
        log(f"{pool}: {results[pool]}")
    return results


def report(results: dict[str, Any], facts: dict[str, Any]) -> str:
    lines = [
        "# Row-level security: cost per transaction",
        "",
        "| Pool | system session p50 | tenant session (RLS) p50 | paired extra p50 |",
        "|---|---|---|---|",
    ]
    for pool, row in results.items():
        lines.append(
            f"| {pool} | {row['system_p50_ms']:.2f} ms | {row['tenant_p50_ms']:.2f} ms "
            f"| {row['paired_extra_p50_ms']:.2f} ms |"
        )
    lines += [
        "",
        "Each transaction: take a pooled connection, (tenant: the statement setting the role and "
        "the tenant), one indexed count, commit. System and tenant transactions alternate; the "
        "paired extra is the p50 of each tenant transaction minus the system one before it.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}; Postgres {facts.get('postgres')}",
        f"- Commit {facts['git_commit']}; {facts['date_utc']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    with scratch_database(args.server_url, "bench_rls") as (database_url, version):
        results = asyncio.run(measure(database_url, args.rounds))
    facts = machine_facts(["sqlalchemy", "psycopg"])
    facts["postgres"] = version
    markdown = report(results, facts)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"rls_cost-{stamp}.json").write_text(
        json.dumps({"results": results, "machine": facts}, indent=2)
    )
    (RESULTS_DIR / f"rls_cost-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
